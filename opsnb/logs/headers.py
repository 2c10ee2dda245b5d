"""Recognise the header of a plain-text log line and split it from the message body.

Pattern mining must see only the message: timestamps, host names, process ids
and logger names in a header would either split one template into many or,
worse, make unrelated messages look alike. A header is recognised by generic
shapes shared by many programs, never by rules written for one data set:

- ``apache``: ``[Sun Dec 04 04:47:44 2005] [error] body`` (Apache/Apache-like error logs,
  2.4's ``[module:level] [pid N] [client ...]`` included);
- ``access``: ``1.2.3.4 - user [04/Dec/2005:04:47:44 +0000] "GET / HTTP/1.1" ...``
  (common/combined access logs; the request line onwards is the body);
- ``syslog``: ``Jun 14 15:16:01 host prog[pid]: body`` (BSD syslog, and RFC 5424-ish ISO stamps);
- ``leveled``: a time stamp somewhere in the first tokens, then a severity word
  (``INFO``, ``WARN``, ``ERROR`` ...), then optionally a ``[thread]``, a ``-``, and
  a dotted logger name with a colon (log4j, logback, Python logging, Go, glog-ish);
- otherwise the whole line is the body.

:class:`HeaderSplitter` picks the shape that fits most of the first lines of a
file and falls back to the others line by line, so a file mixing shapes (or a
line with no header, like a stack-trace line) still splits sensibly. A caller
who knows the format passes its own regular expression with a named group
``body`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opsnb.errors import ValidationError

_LEVELS = (
    r"(?:TRACE|DEBUG|DBG|INFO|INF|NOTICE|WARN|WARNING|WRN|ERROR|ERR|SEVERE|CRIT|CRITICAL|ALERT|EMERG|FATAL|"
    r"FAILURE|PANIC|Trace|Debug|Info|Notice|Warn|Warning|Error|Fatal|Critical)"
)
# Stamps: ISO (2015-10-18 18:01:47,978 / 2024-01-01T00:00:00.1Z), yy/MM/dd HH:mm:ss,
# yyMMdd HHmmss, 2005.06.03, epoch seconds, "Jun 14 15:16:01".
_DATE = r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{2}/\d{2}/\d{2}|\d{6}|[A-Z][a-z]{2} +\d{1,2})"
_TIME = r"(?:\d{1,2}:\d{2}:\d{2}|\d{6})"
_THREAD = r"\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]"  # one level of nested brackets: [QuorumPeer[myid=1]/0:2181]
_LOGGER = r"[A-Za-z_$][\w$]*(?:[.$/-][\w$]+)*"  # org.apache.Foo, dfs.DataNode$PacketResponder, Remoting

HEADER_PATTERNS: dict[str, str] = {
    "apache": (
        r"^\[(?P<time>[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4})\]"
        r" \[(?:[\w-]+:)?(?P<level>\w+)\](?: \[(?:pid|client|remote) [^\]]*\])* (?P<body>.*)$"
    ),
    "access": (
        r"^(?P<host>\S+) \S+ \S+ \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}[^\]]*)\] (?P<body>\".*)$"
    ),
    "syslog": (
        r"^(?:<\d{1,3}>\d? ?)?(?P<time>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}"
        r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
        r" (?P<host>\S+) (?P<proc>[^\s:\[\]]+(?: [^\s:\[\]]+)?)(?:\[(?P<pid>\d+)\])?: (?P<body>.*)$"
    ),
    "leveled": (
        rf"^(?P<head>(?:\S+\s+){{0,9}}?)(?P<level>{_LEVELS})\b:?\s+"
        rf"(?:{_THREAD}\s+)?(?:-\s+|(?P<logger>{_LOGGER}):\s+(?:-\s+)?)?(?P<body>.*)$"
    ),
}

_STAMP = re.compile(rf"{_DATE}|{_TIME}|\b\d{{10}}\b")


@dataclass(frozen=True)
class Split:
    """One line split into header shape and body."""

    shape: str  # which HEADER_PATTERNS entry matched, "custom", or "none"
    body: str
    level: str | None = None


class HeaderSplitter:
    """Split log lines into header and body.

    Args:
        header_regex: A regular expression with a named group ``body``; when given it is
            the only shape tried (lines it does not match keep their whole text as body).
        sample: Lines used to choose the preferred shape (see :meth:`fit`).

    Raises:
        ValidationError: ``header_regex`` does not compile or has no ``body`` group.
    """

    def __init__(self, header_regex: str | None = None, sample: Sequence[str] = ()) -> None:
        self.custom: re.Pattern[str] | None = None
        if header_regex is not None:
            try:
                self.custom = re.compile(header_regex)
            except re.error as exc:
                raise ValidationError(f"--header-regex does not compile: {exc}", field="header_regex") from None
            if "body" not in self.custom.groupindex:
                raise ValidationError("--header-regex needs a named group (?P<body>...) for the message",
                                      field="header_regex")
        self._shapes = [(name, re.compile(p)) for name, p in HEADER_PATTERNS.items()]
        if sample:
            self.fit(sample)

    def fit(self, lines: Iterable[str]) -> str | None:
        """Put the shape matching most of ``lines`` first. Returns its name (None: no header)."""
        counts = {name: 0 for name, _ in self._shapes}
        for line in lines:
            for name, rx in self._shapes:
                if self._match(name, rx, line) is not None:
                    counts[name] += 1
                    break
        best = max(counts, key=lambda n: counts[n])
        if counts[best] == 0:
            return None
        self._shapes.sort(key=lambda s: s[0] != best)
        return best

    @staticmethod
    def _match(name: str, rx: re.Pattern[str], line: str) -> re.Match[str] | None:
        m = rx.match(line)
        if m is None:
            return None
        if name == "leveled" and not _STAMP.search(m.group("head")):
            return None  # a severity word with no time stamp before it is part of the message
        return m

    def prefer(self, shape: str) -> None:
        """Try ``shape`` first (a name from :data:`HEADER_PATTERNS`)."""
        if shape not in HEADER_PATTERNS:
            raise ValidationError(f"unknown header shape {shape!r}", field="shape")
        self._shapes.sort(key=lambda s: s[0] != shape)

    def split(self, line: str) -> Split:
        """Split one line (trailing newline already removed)."""
        if self.custom is not None:
            m = self.custom.match(line)
            if m is None or m.group("body") is None:
                return Split("none", line)
            level = m.groupdict().get("level")
            return Split("custom", m.group("body"), level)
        for name, rx in self._shapes:
            m = self._match(name, rx, line)
            if m is not None:
                return Split(name, m.group("body"), m.groupdict().get("level"))
        return Split("none", line)

    def body(self, line: str) -> str:
        """Only the body of ``line`` (the hot path of mining: no Split object built)."""
        if self.custom is not None:
            m = self.custom.match(line)
            return line if m is None or m.group("body") is None else m.group("body")
        for name, rx in self._shapes:
            m = rx.match(line)
            if m is not None and (name != "leveled" or _STAMP.search(m.group("head")) is not None):
                return m.group("body")
        return line


def split_header(line: str) -> Split:
    """Split a single line with the generic shapes (no file-level preference)."""
    return HeaderSplitter().split(line)
