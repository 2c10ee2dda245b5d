"""The Workbench: the one entry object. It owns the settings, the state database and the lake.

Domain services are typed properties (``ops.incidents``, ``ops.fleet``, ``ops.slos`` ...)
declared from the domain table (:mod:`opsnb.domains`), each created on first use so that
opening a workbench costs only what the notebook touches. They show in ``dir(ops)`` and Tab
completion, and mypy checks calls through them.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from opsnb.config import Settings, mask_url
from opsnb.domains import services
from opsnb.errors import WorkspaceError

if TYPE_CHECKING:
    from opsnb.access.service import Access
    from opsnb.alerts.service import Alerts
    from opsnb.audit.service import Audit
    from opsnb.changes.service import Changes
    from opsnb.deploys.service import Deploys
    from opsnb.incidents.service import Incidents
    from opsnb.logs.service import Logs
    from opsnb.notify.service import Notify
    from opsnb.oncall.service import OnCall
    from opsnb.postmortems.service import Postmortems
    from opsnb.runbooks.service import Runbooks
    from opsnb.servers.service import Fleet
    from opsnb.slo.service import SLOs
    from opsnb.store.db import Database
    from opsnb.store.lake import Lake
    from opsnb.store.service import Store
    from opsnb.traces.service import Traces

# attribute -> "module:Class", from the domain table. Each domain's service takes the Workbench.
SERVICES: dict[str, str] = services()

S = TypeVar("S")


class _Service(Generic[S]):
    """A Workbench property that creates its domain's service on first use (one per workbench)."""

    def __set_name__(self, owner: type, name: str) -> None:
        if name not in SERVICES:
            raise TypeError(f"Workbench.{name} has no row in the domain table (opsnb/domains.py)")
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Service[S]: ...

    @overload
    def __get__(self, obj: Workbench, owner: type) -> S: ...

    def __get__(self, obj: Workbench | None, owner: type) -> _Service[S] | S:
        if obj is None:
            return self
        with obj._services_lock:
            svc = obj._services.get(self.name)
            if svc is None:
                module, cls = SERVICES[self.name].split(":")
                svc = getattr(importlib.import_module(module), cls)(obj)
                obj._services[self.name] = svc
        return svc


# (workbench, user, via) of the identity acting in this thread or task; per context, so two API
# requests served at once act as their own users.
_ACTING: ContextVar[tuple[Workbench, str, str | None] | None] = ContextVar("opsnb_acting", default=None)


class Workbench:
    """An open workspace. Create it with :func:`opsnb.connect`.

    Attributes:
        settings: The resolved :class:`~opsnb.config.Settings`.
        workspace: The workspace directory.
        user: Who is acting (``OPSNB_USER``, else ``JUPYTERHUB_USER``, else the OS user).
    """

    def __init__(self, settings: Settings) -> None:
        from opsnb.access.identity import current_user
        from opsnb.store.schema import sqlite_is_current, sqlite_path

        self.settings = settings
        self.workspace = Path(settings.workspace).resolve()
        self._user = current_user(str(settings.user))
        self._services: dict[str, Any] = {}
        self._services_lock = threading.Lock()
        self._db_lock = threading.Lock()  # apart from the services' lock: a service may open the db

        _check_workspace(self.workspace)
        self._url = str(settings.database_url) or f"sqlite:///{self.workspace / 'state.db'}"
        self._db: Database | None = None
        path = sqlite_path(self._url)
        busy_s = int(settings.sqlite_busy_timeout_ms) / 1000
        if path is not None and sqlite_is_current(path, timeout_s=busy_s):
            return  # reachable and current: SQLAlchemy and the models load on first use of self.db
        if self._url.startswith("sqlite") and not str(settings.database_url):
            self.workspace.mkdir(parents=True, exist_ok=True)
        db = self._open_db()
        db.ping()  # a bad URL fails here, before the workspace gets anything written
        self.workspace.mkdir(parents=True, exist_ok=True)
        db.upgrade()
        self._db = db

    def _open_db(self) -> Database:
        from opsnb.store.db import Database, import_models

        import_models()  # every table known to the metadata, whichever domain runs first
        return Database(self._url, busy_timeout_ms=int(self.settings.sqlite_busy_timeout_ms))

    @property
    def db(self) -> Database:
        """The state database (opened on first use when the workspace's schema was already current)."""
        if self._db is None:
            with self._db_lock:
                if self._db is None:
                    self._db = self._open_db()
        return self._db

    @cached_property
    def lake(self) -> Lake:
        """The event lake under ``<workspace>/lake``."""
        from opsnb.store.lake import Lake

        return Lake(self.workspace / "lake")

    @property
    def user(self) -> str:
        """Who is acting: inside :meth:`acting_as` (an API request) its user, else the workbench's own."""
        acting = _ACTING.get()
        return acting[1] if acting is not None and acting[0] is self else self._user

    @user.setter
    def user(self, value: str) -> None:
        self._user = value

    @property
    def acting_via(self) -> str | None:
        """The credential of the acting identity inside :meth:`acting_as` (``token:<id>``, ...), else None."""
        acting = _ACTING.get()
        return acting[2] if acting is not None and acting[0] is self else None

    @contextmanager
    def acting_as(self, user: str, *, via: str | None = None) -> Iterator[None]:
        """Act as ``user`` in this context (thread or task) only: the API serves many people at once."""
        reset = _ACTING.set((self, user, via))
        try:
            yield
        finally:
            _ACTING.reset(reset)

    # One property per row of the domain table with a service (a test keeps the two equal).
    store: _Service[Store] = _Service()
    access: _Service[Access] = _Service()
    audit: _Service[Audit] = _Service()
    fleet: _Service[Fleet] = _Service()
    deploys: _Service[Deploys] = _Service()
    changes: _Service[Changes] = _Service()
    incidents: _Service[Incidents] = _Service()
    slos: _Service[SLOs] = _Service()
    alerts: _Service[Alerts] = _Service()
    oncall: _Service[OnCall] = _Service()
    postmortems: _Service[Postmortems] = _Service()
    notify: _Service[Notify] = _Service()
    runbooks: _Service[Runbooks] = _Service()
    logs: _Service[Logs] = _Service()
    traces: _Service[Traces] = _Service()

    def close(self) -> None:
        """Release what the services hold (pooled SSH connections, ...) and the database connections."""
        for svc in list(self._services.values()):
            closer = getattr(svc, "close", None)
            if callable(closer):
                closer()
        self._services.clear()
        if self._db is not None:
            self._db.dispose()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workbench {self.workspace} db={mask_url(self._url)} user={self.user}>"

    def _repr_html_(self) -> str:
        import html

        from opsnb.store.schema import dialect

        return (f"<b>opsnb workbench</b> <code>{html.escape(str(self.workspace))}</code>"
                f" &middot; {html.escape(dialect(self._url))} &middot; user <b>{html.escape(self.user)}</b>")


def _check_workspace(path: Path) -> None:
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "the workspace" if p == path else f"its parent {p}"
                raise WorkspaceError(f"workspace {path}: {what} is a file, not a directory", path=str(path))
            if not os.access(p, os.W_OK):
                raise WorkspaceError(f"workspace {path}: {p} is not writable", path=str(path))
            return


def connect(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Workbench:
    """Open (creating if needed) a workspace and return its :class:`Workbench`.

    Args:
        path: Workspace directory; default ``OPSNB_WORKSPACE``, else ``./data/workspace``.
        **overrides: Settings by name (see ``opsnb config``); they win over every other source.

    Returns:
        The open workbench; its state schema is upgraded to the newest revision.

    Raises:
        ConfigError: A malformed ``opsnb.toml``, an unknown setting or a bad value.
        WorkspaceError: The workspace path is a file or not writable.
        StoreError: The state database cannot be reached.

    Example:
        >>> ops = opsnb.connect()                       # doctest: +SKIP
        >>> ops.incidents.get("INC-7")                  # doctest: +SKIP
    """
    settings = Settings.load(path, **overrides)
    return Workbench(settings)
