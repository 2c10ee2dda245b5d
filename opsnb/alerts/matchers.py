"""Label matchers as Alertmanager has them: ``=``, ``!=``, ``=~``, ``!~``.

Regexes are anchored (``^(?:re)$``) and a missing label matches as the empty
string, exactly as in Alertmanager, so a silence written for Alertmanager means
the same thing here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsnb.errors import ValidationError

OPS: tuple[str, ...] = ("=~", "!~", "!=", "=")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_VALUE = 1024  # a matcher value or regex longer than this is refused (and keeps regexes cheap)
_TEXT = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$', re.S)


@dataclass(frozen=True)
class Matcher:
    """One label matcher.

    Args:
        name: Label name.
        op: ``=``, ``!=``, ``=~`` or ``!~``.
        value: Value, or a regex (anchored) for ``=~`` / ``!~``.
    """

    name: str
    op: str
    value: str
    _rx: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not LABEL_NAME.match(self.name):
            raise ValidationError(f"matcher label name {self.name!r} is not a valid label name",
                                  field="name", value=str(self.name)[:100])
        if self.op not in OPS:
            raise ValidationError(f"matcher operator {self.op!r} must be one of = != =~ !~", field="op")
        if not isinstance(self.value, str):
            raise ValidationError(f"matcher value for {self.name!r} must be a string", field="value")
        if len(self.value) > MAX_VALUE or "\x00" in self.value:
            raise ValidationError(f"matcher value for {self.name!r} is too long or has a NUL character",
                                  field="value")
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_rx", re.compile(f"^(?:{self.value})$"))
            except re.error as exc:
                raise ValidationError(f"matcher {self.name}{self.op}{self.value!r}: bad regex: {exc}",
                                      field="value") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is the empty string)."""
        v = labels.get(self.name, "")
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        assert self._rx is not None
        hit = self._rx.match(v) is not None
        return hit if self.op == "=~" else not hit

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(spec: str | Mapping[str, Any] | Matcher) -> Matcher:
    """One matcher from ``'name=~"re"'``, ``{"name","op","value"}`` or Alertmanager's
    ``{"name","value","isRegex","isEqual"}``.

    Raises:
        ValidationError: The spec cannot be read; the message quotes it.
    """
    if isinstance(spec, Matcher):
        return spec
    if isinstance(spec, str):
        m = _TEXT.match(spec)
        if not m:
            raise ValidationError(f"cannot read matcher {spec[:200]!r}; write name=value, name!=value, "
                                  "name=~regex or name!~regex", field="matcher")
        name, op, value = m.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        return Matcher(name, op, value)
    if isinstance(spec, Mapping):
        if "op" in spec:
            return Matcher(str(spec.get("name", "")), str(spec["op"]), spec.get("value"))  # type: ignore[arg-type]
        regex, equal = bool(spec.get("isRegex", False)), bool(spec.get("isEqual", True))
        op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
        return Matcher(str(spec.get("name", "")), op, spec.get("value"))  # type: ignore[arg-type]
    raise ValidationError(f"a matcher must be a string or a mapping, not {type(spec).__name__}", field="matcher")


def parse_matchers(specs: str | Mapping[str, Any] | Iterable[Any] | None, *,
                   require_non_empty: bool = False) -> tuple[Matcher, ...]:
    """Several matchers; a string may hold several separated by commas outside quotes.

    Args:
        specs: Matchers in any form :func:`parse_matcher` reads, or a mapping label -> value (equality).
        require_non_empty: Refuse a set in which every matcher matches the empty label set
            (Alertmanager's rule, so a silence cannot silence everything by accident).
    """
    if specs is None:
        out: list[Matcher] = []
    elif isinstance(specs, str):
        out = [parse_matcher(p) for p in _split(specs)]
    elif isinstance(specs, Mapping) and not ({"name", "value"} <= set(specs)):
        out = [Matcher(str(k), "=", v) for k, v in specs.items()]
    elif isinstance(specs, Mapping):
        out = [parse_matcher(specs)]
    else:
        out = [parse_matcher(s) for s in specs]
    if require_non_empty and not any(not m.matches({}) for m in out):
        raise ValidationError("at least one matcher must not match the empty string "
                              "(otherwise it would match every alert)", field="matchers")
    return tuple(out)


def _split(text: str) -> list[str]:
    parts, cur, quoted, esc = [], [], False, False
    for ch in text.strip().strip("{}"):
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            cur.append(ch)
            esc = True
        elif ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch == "," and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (x.strip() for x in parts) if p]


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
