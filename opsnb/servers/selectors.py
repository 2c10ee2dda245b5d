"""Label selectors: which servers a command, runbook or dashboard is about.

One syntax everywhere (CLI, runbooks, dashboards). Terms separated by commas must
all match::

    role=web,env=prod          label equality (and)
    env!=prod                  inequality (a server without the label matches)
    name~web-*                 glob match on a field or label (fnmatch: * ? [..])
    name!~*-canary             glob does not match
    region in (eu-1, eu-2)     set membership
    role notin (db, cache)     not in the set
    has(rack) / !has(rack)     label present / absent
    group=webservers           Ansible group membership (imported groups)
    web-1 / web-*              a bare word is a server name (glob allowed)
    * or all                   every server

Fields ``name``, ``address``, ``port``, ``user``, ``platform`` are matched as
fields; every other key is a label.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opsnb.errors import ValidationError

FIELD_KEYS = ("name", "address", "port", "user", "platform")
GROUPS_LABEL = "groups"  # comma-separated Ansible groups of a server
MAX_SELECTOR = 4096

_KEY = r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*"
_TERM = re.compile(
    rf"^(?P<key>{_KEY})\s*(?P<op>==|!=|=|!~|~)\s*(?P<value>[^,()]*)$"
    rf"|^(?P<skey>{_KEY})\s+(?P<setop>in|notin)\s*\((?P<set>[^()]*)\)$"
    rf"|^(?P<neg>!?)has\((?P<hkey>{_KEY})\)$"
    r"|^(?P<bare>[A-Za-z0-9_*?\[\]][A-Za-z0-9_.\-*?\[\]:]*)$"
)


@dataclass(frozen=True)
class Term:
    """One condition of a selector."""

    key: str
    op: str  # = != ~ !~ in notin has !has
    values: tuple[str, ...] = ()

    def value_of(self, server: Any) -> str | None:
        if self.key in FIELD_KEYS:
            v = getattr(server, self.key, None)
            return None if v is None else str(v)
        labels = getattr(server, "labels", {}) or {}
        if self.key == "group":
            groups = [g for g in str(labels.get(GROUPS_LABEL, "")).split(",") if g]
            return ",".join(groups) if groups else None
        v = labels.get(self.key)
        return None if v is None else str(v)

    def matches(self, server: Any) -> bool:
        v = self.value_of(server)
        if self.key == "group" and self.op in ("=", "!=", "in", "notin", "~", "!~"):
            groups = set(v.split(",")) if v else set()
            hit = {
                "=": lambda: self.values[0] in groups,
                "in": lambda: bool(groups & set(self.values)),
                "~": lambda: any(fnmatch.fnmatchcase(g, self.values[0]) for g in groups),
            }
            base = self.op.lstrip("!").replace("notin", "in")
            result = hit[base]()
            return not result if self.op in ("!=", "notin", "!~") else result
        if self.op == "=":
            return v == self.values[0]
        if self.op == "!=":
            return v != self.values[0]
        if self.op == "~":
            return v is not None and fnmatch.fnmatchcase(v, self.values[0])
        if self.op == "!~":
            return v is None or not fnmatch.fnmatchcase(v, self.values[0])
        if self.op == "in":
            return v in self.values
        if self.op == "notin":
            return v not in self.values
        if self.op == "has":
            return v is not None
        if self.op == "!has":
            return v is None
        raise AssertionError(self.op)

    def __str__(self) -> str:
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({', '.join(self.values)})"
        if self.op in ("has", "!has"):
            return f"{self.op}({self.key})"
        return f"{self.key}{self.op}{self.values[0]}"


def _split(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValidationError(f"selector {text!r}: unbalanced ')'", field="selector", value=text)
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise ValidationError(f"selector {text!r}: unbalanced '('", field="selector", value=text)
    parts.append("".join(cur))
    return parts


@dataclass(frozen=True)
class Selector:
    """A parsed selector; ``Selector.parse("role=web,env=prod").filter(servers)``."""

    terms: tuple[Term, ...]
    names: tuple[str, ...] | None = None  # an explicit list of names instead of terms

    @classmethod
    def parse(cls, selector: str | Sequence[str] | Selector | None) -> Selector:
        """Parse a selector string (or take a list of server names).

        Raises:
            ValidationError: naming each bad term and the selector.
        """
        if isinstance(selector, Selector):
            return selector
        if selector is None:
            return cls(())
        if not isinstance(selector, str):
            names = tuple(str(n) for n in selector)
            if not names:
                raise ValidationError("an empty list of server names selects nothing", field="selector")
            return cls((), names)
        text = selector.strip()
        if len(text) > MAX_SELECTOR:
            raise ValidationError(f"selector is {len(text)} characters; at most {MAX_SELECTOR}", field="selector")
        if text in ("", "*", "all"):
            return cls(())
        terms, problems = [], []
        for i, raw in enumerate(_split(text), 1):
            part = raw.strip()
            m = _TERM.match(part)
            if not part or m is None:
                problems.append(f"term {i} {part!r} is not key=value, key!=value, key~glob, "
                                "key in (a,b), key notin (a,b), has(key) or a server name")
                continue
            if m["key"]:
                op = "=" if m["op"] == "==" else m["op"]
                value = m["value"].strip()
                if not value and op in ("~", "!~"):
                    problems.append(f"term {i} {part!r}: a glob needs a pattern")
                    continue
                terms.append(Term(m["key"], op, (value,)))
            elif m["skey"]:
                values = tuple(v.strip() for v in m["set"].split(",") if v.strip())
                if not values:
                    problems.append(f"term {i} {part!r}: the set is empty")
                    continue
                terms.append(Term(m["skey"], m["setop"], values))
            elif m["hkey"]:
                terms.append(Term(m["hkey"], "!has" if m["neg"] else "has"))
            else:
                bare = m["bare"]
                terms.append(Term("name", "~" if any(c in bare for c in "*?[") else "=", (bare,)))
        if problems:
            raise ValidationError(f"bad selector {text!r}:", problems, field="selector", value=text)
        return cls(tuple(terms))

    def matches(self, server: Any) -> bool:
        if self.names is not None:
            return getattr(server, "name", None) in self.names
        return all(t.matches(server) for t in self.terms)

    def filter(self, servers: Iterable[Any]) -> list[Any]:
        """The servers that match, in the order given (or the order of the names list)."""
        items = list(servers)
        if self.names is not None:
            by_name = {s.name: s for s in items}
            return [by_name[n] for n in dict.fromkeys(self.names) if n in by_name]
        return [s for s in items if self.matches(s)]

    @property
    def everything(self) -> bool:
        return self.names is None and not self.terms

    def __str__(self) -> str:
        if self.names is not None:
            return ",".join(f"name={n}" for n in self.names)
        return ",".join(str(t) for t in self.terms) or "*"


def select(servers: Iterable[Any], selector: str | Sequence[str] | Selector | None) -> list[Any]:
    """Servers matching ``selector`` (see the module docstring for the syntax)."""
    return Selector.parse(selector).filter(servers)
