"""One registry idiom for every pluggable part: log formats, log sources, SLO sources,
notify channels, runbook executors and lake tables.

A :class:`Registry` maps a name to an object. Built-ins and third parties register the
same way, as papermill does with its engines: in code with :meth:`Registry.register`
(directly, or as a decorator), or, for an installed distribution, with an entry point
in the group ``opsnb.<kind>`` (``opsnb.log_formats``, ``opsnb.log_sources``,
``opsnb.slo_sources``, ``opsnb.channels``, ``opsnb.executors``, ``opsnb.lake_tables``)::

    # pyproject.toml of a third-party package
    [project.entry-points."opsnb.log_formats"]
    haproxy = "opsnb_haproxy:HAPROXY"

Lookups are case-insensitive (an OpenSLO file writes ``Prometheus``, the source is
registered as ``prometheus``). An object may be given as a ``"module:attr"`` string:
it is imported on first :meth:`Registry.get`, so registering costs no import. Entry
points are read on the first lookup, and imported only when their name is asked for.

This module imports only the standard library: ``import opsnb`` stays cheap.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from opsnb.errors import ConfigError, Conflict, NotFound, ValidationError

T = TypeVar("T")

GROUP_PREFIX = "opsnb."
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


@dataclass(frozen=True)
class Entry:
    """One registered name, as :meth:`Registry.list` shows it (nothing is imported to list it).

    Attributes:
        name: The name as registered (lookups ignore case).
        target: ``"module:attr"`` for a lazy entry, else the object's qualified name.
        origin: ``"opsnb"`` (built-in), ``"code"`` (registered at run time) or the
            distribution that declares the entry point.
        loaded: Whether the object has been imported.
    """

    name: str
    target: str
    origin: str
    loaded: bool


class _Slot:
    """What the registry holds for a name: the object, or where to import it from."""

    __slots__ = ("name", "obj", "target", "origin", "entry_point", "loaded")

    def __init__(self, name: str, obj: Any, target: str, origin: str, entry_point: Any = None) -> None:
        self.name = name
        self.obj = obj
        self.target = target
        self.origin = origin
        self.entry_point = entry_point
        self.loaded = not target or obj is not None


def _qualname(obj: Any) -> str:
    mod = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{mod}:{name}"


class Registry(Generic[T]):
    """Names to pluggable objects of one kind.

    Args:
        kind: What is registered, for messages (``"log format"``).
        group: Entry-point group read for third parties (``"opsnb.log_formats"``);
            ``None`` reads none.
        adapt: Turns what was registered (or loaded) into the stored object and checks it,
            e.g. instantiating a class; raises TypeError or ValidationError when it does not fit.

    Example:
        >>> formats: Registry[str] = Registry("greeting", group=None)
        >>> @formats.register("hello")
        ... def hello() -> str: return "hi"
        >>> formats.get("HELLO")()
        'hi'
    """

    def __init__(self, kind: str, *, group: str | None = None,
                 adapt: Callable[[str, Any], T] | None = None) -> None:
        self.kind = kind
        self.group = group
        self._adapt = adapt
        self._slots: dict[str, _Slot] = {}
        self._clashes: dict[str, str] = {}  # name -> why it is ambiguous (two entry points)
        self._lock = threading.RLock()
        self._scanned = group is None

    # ------------------------------------------------------------------ register
    @overload
    def register(self, name: str, obj: None = None, *, replace: bool = False,
                 origin: str = ...) -> Callable[[Any], Any]: ...

    @overload
    def register(self, name: str, obj: Any, *, replace: bool = False, origin: str = ...) -> Any: ...

    def register(self, name: str, obj: Any = None, *, replace: bool = False, origin: str = "code") -> Any:
        """Register ``obj`` (or a ``"module:attr"`` string naming it) under ``name``.

        Without ``obj`` this returns a decorator that registers what it decorates.

        Args:
            name: The name (letters, digits, ``_ . + -``; looked up case-insensitively).
            obj: The object, a factory, a class (when the registry's ``adapt`` instantiates
                it), or ``"module:attr"`` to import on first use.
            replace: Replace an existing registration instead of refusing it.
            origin: Who registers (``"opsnb"`` for the built-ins), shown by :meth:`list`.

        Returns:
            ``obj`` (so a decorated class or function is unchanged), or the decorator.

        Raises:
            ValidationError: A malformed name or target, or an object ``adapt`` refuses.
            Conflict: The name is taken and ``replace`` is false.
        """
        if obj is None:
            def decorator(target: Any) -> Any:
                self.register(name, target, replace=replace, origin=origin)
                return target
            return decorator
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValidationError(f"{self.kind} name {name!r} must be 1-64 letters, digits, '_', '.', '+' or '-'",
                                  field="name", value=str(name)[:80])
        if isinstance(obj, str):
            if not _TARGET.fullmatch(obj):
                raise ValidationError(f"{self.kind} {name!r}: lazy target {obj!r} must read 'module:attr'",
                                      field="target", value=obj[:200])
            slot = _Slot(name, None, obj, origin)
        else:
            slot = _Slot(name, self._adapted(name, obj, where=f"{self.kind} {name!r}"), "", origin)
        key = name.lower()
        with self._lock:
            old = self._slots.get(key)
            if old is not None and not replace:
                raise Conflict(f"{self.kind} {name!r} is already registered (by {old.origin}: "
                               f"{old.target or _qualname(old.obj)}); pass replace=True to replace it",
                               kind=self.kind, key=name)
            self._slots[key] = slot
            self._clashes.pop(key, None)
        return obj

    def unregister(self, name: str) -> None:
        """Forget a name (tests use it to undo a registration).

        Raises:
            NotFound: Nothing is registered under ``name``.
        """
        with self._lock:
            self._scan()
            if self._slots.pop(name.lower(), None) is None:
                raise self._not_found(name)

    # ------------------------------------------------------------------ look up
    def get(self, name: str) -> T:
        """The object registered under ``name`` (any case), imported now if it was lazy.

        Raises:
            NotFound: No such name; the message suggests the closest one and lists all.
            Conflict: Two installed distributions declare the name.
            ConfigError: A lazy target or an entry point cannot be imported or does not fit;
                the message names the entry point and its distribution.
        """
        key = str(name).lower()
        with self._lock:
            self._scan()
            slot = self._slots.get(key)
            if slot is None:
                if key in self._clashes:
                    raise Conflict(self._clashes[key], kind=self.kind, key=str(name))
                raise self._not_found(str(name))
            if not slot.loaded:
                slot.obj = self._load(slot)
                slot.loaded = True
            return slot.obj

    def canonical(self, name: str) -> str:
        """The name as registered for ``name`` given in any case (nothing is imported).

        Raises:
            NotFound: No such name (with a did-you-mean).
        """
        with self._lock:
            self._scan()
            slot = self._slots.get(str(name).lower())
            if slot is None:
                raise self._not_found(str(name))
            return slot.name

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        with self._lock:
            self._scan()
            return name.lower() in self._slots

    def names(self) -> builtins.list[str]:
        """Every registered name, sorted, as registered (nothing is imported)."""
        with self._lock:
            self._scan()
            return sorted((s.name for s in self._slots.values()), key=str.lower)

    def list(self) -> builtins.list[Entry]:
        """Every registration, sorted by name, with where it comes from (nothing is imported)."""
        with self._lock:
            self._scan()
            return [Entry(s.name, s.target or _qualname(s.obj), s.origin, s.loaded)
                    for s in sorted(self._slots.values(), key=lambda s: s.name.lower())]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        with self._lock:
            self._scan()
            return len(self._slots)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, names={self.names()!r})"

    # ------------------------------------------------------------------ internals
    def _not_found(self, name: str) -> NotFound:
        known = self.names()
        lowered = {n.lower(): n for n in known}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        hint = f" (did you mean {lowered[close[0]]!r}?)" if close else ""
        plugins = f" (third parties add one with an entry point in group {self.group!r})" if self.group else ""
        return NotFound(f"unknown {self.kind} {name!r}{hint}; known: {', '.join(known) or 'none'}{plugins}",
                        kind=self.kind, key=name)

    def _adapted(self, name: str, obj: Any, *, where: str) -> T:
        if self._adapt is None:
            return obj
        try:
            return self._adapt(name, obj)
        except (TypeError, ValidationError) as exc:
            raise ValidationError(f"{where} does not fit: {exc}", field="name", value=name) from None

    def _load(self, slot: _Slot) -> T:
        where = (f"entry point {slot.name!r} = {slot.target!r} of distribution {slot.origin!r} "
                 f"(group {self.group!r})" if slot.entry_point is not None
                 else f"{self.kind} {slot.name!r} ({slot.target!r})")
        try:
            if slot.entry_point is not None:
                obj = slot.entry_point.load()
            else:
                module, _, attr = slot.target.partition(":")
                obj = importlib.import_module(module)
                for part in attr.split("."):
                    obj = getattr(obj, part)
        except Exception as exc:  # noqa: BLE001 - any failure of foreign code is reported the same way
            raise ConfigError(f"cannot load {where}: {type(exc).__name__}: {exc}",
                              source=slot.target) from exc
        try:
            return self._adapted(slot.name, obj, where=where)
        except ValidationError as exc:
            raise ConfigError(str(exc), source=slot.target) from None

    def _scan(self) -> None:
        """Read the entry points of the group once (they are imported only when asked for)."""
        if self._scanned:
            return
        self._scanned = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=str(self.group)):
            self.add_entry_point(ep)

    def add_entry_point(self, ep: Any) -> None:
        """Register one ``importlib.metadata.EntryPoint`` lazily (used by the scan, and by tests).

        An entry point naming the same target as an existing registration is ignored (a
        package found twice on sys.path); one naming another target makes the name ambiguous:
        looking it up is a Conflict naming both, rather than one of them silently winning.
        """
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
        name, value = str(ep.name), str(ep.value)
        key = name.lower()
        with self._lock:
            if not _NAME.fullmatch(name):
                self._clashes[key] = (f"entry point {name!r} of distribution {dist!r} (group {self.group!r}) "
                                      f"is not a valid {self.kind} name")
                return
            old = self._slots.get(key)
            if old is not None:
                if old.target == value:
                    return  # the same target seen twice (a package on sys.path twice)
                self._slots.pop(key)
                self._clashes[key] = (f"{self.kind} {name!r} is declared twice: by {old.origin} "
                                      f"({old.target or _qualname(old.obj)}) and by entry point {value!r} of "
                                      f"distribution {dist!r}; uninstall one, or register one with replace=True")
                return
            if key in self._clashes:
                return
            self._slots[key] = _Slot(name, None, value, dist, entry_point=ep)


def instance_of(base: type[Any]) -> Callable[[str, Any], Any]:
    """An ``adapt`` for registries of instances: a subclass of ``base`` is instantiated."""

    def adapt(name: str, obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, base):
            obj = obj()
        if not isinstance(obj, base):
            raise TypeError(f"expected a {base.__name__} (or subclass), got {type(obj).__name__}")
        return obj

    return adapt
