"""Log formats: detection, and the vectorised SQL that turns raw lines into lake rows.

Every line-oriented format becomes one DuckDB ``SELECT`` over a batch of lines
(an Arrow table ``L(_i, line)``): RE2 regular expressions (``regexp_extract``)
and DuckDB's JSON reader do the per-line work in C++, on every core, so no
Python code runs per event. The inner query of a format yields loose VARCHAR
fields (``ts``, ``lvl``, ``body``, ``status`` ...); :func:`normalise_sql` wraps
it into the lake's ``logs`` columns plus ``_err`` (why a row is quarantined,
NULL when it is good).

Formats (name: what it reads):

- ``jsonl``: one JSON object per line; common key spellings map to columns
  (``ts``/``time``/``@timestamp``, ``level``/``severity``, ``msg``/``message`` ...),
  nested objects are flattened to dotted attribute keys.
- ``journald``: ``journalctl -o json`` (``__REALTIME_TIMESTAMP``, ``MESSAGE``, ``PRIORITY``).
- ``otlp``: OTLP/JSON export requests (``resourceLogs`` to ``logs``, ``resourceSpans`` to ``spans``).
- ``logfmt``: ``key=value key2="quoted value"``.
- ``syslog5424``, ``syslog3164``: RFC 5424 and BSD syslog (``<PRI>`` optional for 3164).
- ``access``: nginx/Apache common and combined access logs (optional trailing request time).
- ``plain``: a header (time stamp, optional level) starts an entry, other lines continue it;
  the header is a regular expression with named groups, a default one recognises common stamps.

Formats live in :data:`FORMATS`, a :class:`~opsnb.registry.Registry` (entry-point group
``opsnb.log_formats``). A format runs on one of the engines above; the built-ins are
registered the way a third party registers its own: a header regex with named groups
on the ``regex`` engine (one entry per line) or the ``plain`` engine (lines it does not
match continue the entry)::

    from opsnb.logs.formats import FORMATS, LogFormat

    FORMATS.register("haproxy", LogFormat("haproxy", header_regex=r"^(?P<ts>[^ ]+ [^ ]+) (?P<msg>.*)$"))

Assumptions (documented in the README): a time stamp without a zone is UTC
unless ``assume_tz`` says otherwise, and the row gets ``LogAttributes['opsnb.ts_assumed']``;
a BSD syslog stamp has no year: the current one, or the previous one when that
would put it in the future (``opsnb.ts_assumed`` says ``year``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from opsnb.errors import NotFound, ValidationError
from opsnb.registry import Registry

LINE_FORMATS = ("jsonl", "journald", "logfmt", "syslog5424", "syslog3164", "access", "plain")
# The built-in parsers a format runs on; ``regex`` is ``plain`` with one entry per line.
ENGINES = (*LINE_FORMATS, "otlp", "regex")
MULTILINE = frozenset({"plain", "syslog3164", "syslog5424"})

# ----------------------------------------------------------------- key aliases
# Keys (case-sensitive, dotted for nested objects) a JSON or logfmt producer uses for each column.
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("Timestamp", "timestamp", "time", "ts", "@timestamp", "datetime", "date", "t",
           "eventTime", "timeUnixNano", "TimeUnixNano", "asctime"),
    "sevnum": ("SeverityNumber", "severity_number", "severityNumber"),
    "lvl": ("SeverityText", "severity_text", "severity", "level", "lvl", "loglevel", "log.level",
            "levelname", "log_level", "Level", "LEVEL"),
    "body": ("Body", "body", "message", "msg", "Message", "MESSAGE", "log", "text", "event"),
    "svc": ("ServiceName", "service.name", "service", "service_name", "app", "application",
            "component", "resource.service.name"),
    "host": ("HostName", "host.name", "hostname", "host", "Hostname"),
    "trace": ("TraceId", "trace_id", "traceId", "trace.id", "traceid", "trace"),
    "span": ("SpanId", "span_id", "spanId", "span.id", "spanid"),
    "method": ("HttpMethod", "http.method", "http.request.method", "method", "http_method",
               "request_method", "verb"),
    "route": ("HttpRoute", "http.route", "route", "url.path", "path", "http.target", "http_path",
              "request_uri", "uri", "url"),
    "status": ("HttpStatus", "http.status_code", "http.response.status_code", "status",
               "status_code", "http_status", "statusCode", "response_status"),
    "dur_ms": ("DurationMs", "duration_ms", "latency_ms", "elapsed_ms", "response_time_ms",
               "took_ms", "durationMs", "latencyMs", "duration", "latency", "elapsed", "took"),
    "dur_s": ("request_time", "duration_s", "duration_seconds", "latency_s", "upstream_response_time"),
}
JOURNALD_ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("__REALTIME_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP"),
    "sevnum": (),
    "lvl": ("PRIORITY",),
    "body": ("MESSAGE",),
    "svc": ("SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "_COMM"),
    "host": ("_HOSTNAME",),
    "trace": ("TRACE_ID", "trace_id"),
    "span": ("SPAN_ID", "span_id"),
    "method": (), "route": (), "status": (), "dur_ms": (), "dur_s": (),
}
# journald fields that only identify the cursor position: never useful as attributes
JOURNALD_DROP = frozenset({"__CURSOR", "__MONOTONIC_TIMESTAMP", "__SEQNUM", "__SEQNUM_ID"})

LEVEL_WORDS = ("TRACE|DEBUG|DBG|INFO|INF|NOTICE|WARN|WARNING|WRN|ERROR|ERR|SEVERE|CRIT|CRITICAL|"
               "ALERT|EMERG|EMERGENCY|FATAL|PANIC")

# --------------------------------------------------------------- line regexes
SYSLOG5424 = (r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+)"
              r"(?: (?s:(.*)))?$")
SYSLOG3164 = (r"^(?:<(\d{1,3})>)?([A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}) (\S+) "
              r"(?:([^\s:\[]+)(?:\[([^\]]*)\])?: ?)?(?s:(.*))$")
ACCESS = (r'^(\S+) \S+ (\S+) \[([^\]]+)\] "(?:([A-Z]+) (\S+)(?: ([^"]*))?|([^"]*))" (\d{3}) (\d+|-)'
          r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(?: (\d+(?:\.\d+)?))?.*$')
LOGFMT_PAIR = r'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)'
# Default plain header: a time stamp at the start, then optionally (within a few tokens) a level.
PLAIN_TS = (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?: ?(?:Z|[+-]\d{2}:?\d{2}))?"
            r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
            r"|\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"
            r"|\d{6} \d{6}"
            r"|[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}"
            r"|\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?")
PLAIN_DEFAULT = (rf"^\[?(?P<ts>{PLAIN_TS})\]?"
                 rf"(?:(?:[ \t]+\S+){{0,3}}?[ \t]+[-|:]?[ \t]*\[?(?P<level>(?i:{LEVEL_WORDS}))\]?:?)?"
                 r"[ \t]*(?P<msg>(?s:.*))$")
# strptime formats tried for stamps that are not ISO 8601 (no zone: naive)
NAIVE_FORMATS = ("%y/%m/%d %H:%M:%S", "%y%m%d %H%M%S", "%a %b %d %H:%M:%S %Y",
                 "%a %b %d %H:%M:%S.%f %Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f",
                 "%d/%b/%Y:%H:%M:%S", "%d/%m/%Y %H:%M:%S")
ZONED_FORMATS = ("%d/%b/%Y:%H:%M:%S %z", "%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M:%S GMT")

PLAIN_HEADER = rf"^\[?(?:{PLAIN_TS})"
_NAMED = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>")
PLAIN_GROUPS = {"ts", "level", "msg", "service", "host", "trace_id", "span_id"}


def sql_str(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------ options
@dataclass(frozen=True)
class ParseOptions:
    """How one source is parsed.

    Attributes:
        format: A name registered in :data:`FORMATS` (any case), or ``None`` to detect it.
        service: ServiceName for events that do not name one.
        host: HostName for events that do not name one.
        header_regex: ``plain`` header (named groups ts, level, msg, service, host, trace_id, span_id;
            others become attributes); lines it does not match continue the previous entry.
        assume_tz: IANA zone for stamps without one.
        max_future_s: Events stamped further ahead of the ingest time are quarantined.
        source: Name of the source (file path, ``-``, ``host:path``) kept in ResourceAttributes.
        resource: Extra ResourceAttributes for every event.
    """

    format: str | None = None
    service: str | None = None
    host: str | None = None
    header_regex: str | None = None
    assume_tz: str = "UTC"
    max_future_s: float = 300.0
    source: str = "-"
    resource: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format is not None:
            try:
                spec = FORMATS.get(self.format)
            except NotFound as exc:
                raise ValidationError(str(exc), field="format", value=str(self.format)[:80]) from None
            object.__setattr__(self, "format", spec.name)  # the registered spelling, whatever the case given
        if self.header_regex is not None:
            check_header_regex(self.header_regex)
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.assume_tz)
        except (KeyError, ValueError, OSError):
            raise ValidationError(f"unknown time zone {self.assume_tz!r} (use an IANA name like Europe/Paris)",
                                  field="assume_tz", value=self.assume_tz) from None


def check_header_regex(pattern: str) -> None:
    """Refuse a header regex Python or RE2 cannot use, naming why."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"header regex {pattern!r} is not valid: {exc}", field="header_regex") from None
    if compiled.groups == 0 or not compiled.groupindex:
        raise ValidationError(f"header regex {pattern!r} needs named groups, at least (?P<ts>...)",
                              field="header_regex")
    if re.search(r"\(\?[=!<]|\\[1-9]", pattern.replace("(?P<", "")):
        raise ValidationError(f"header regex {pattern!r} uses look-around or back-references, which RE2 "
                              "(the vectorised engine) does not support", field="header_regex")


def positional(pattern: str) -> tuple[str, list[str]]:
    """The pattern and, by group number, each group's name (``_gN`` for unnamed ones)."""
    compiled = re.compile(pattern)
    names = [f"_g{i}" for i in range(1, compiled.groups + 1)]
    for name, idx in compiled.groupindex.items():
        names[idx - 1] = name
    return pattern, names


# ------------------------------------------------------------------ registry
@dataclass(frozen=True)
class LogFormat:
    """A log format: which engine parses it, and for the regex engines the header regex.

    Attributes:
        name: The name ``--format`` takes.
        engine: One of :data:`ENGINES`. ``regex``: each line is one entry matched by
            ``header_regex``; ``plain``: a line the regex matches starts an entry, others
            continue it (stack traces). The other engines are the built-in formats.
        header_regex: Named groups ts (required), level, msg, service, host, trace_id,
            span_id; other named groups become LogAttributes. RE2 syntax: no look-around.
        description: One line for listings.
    """

    name: str
    engine: str = "regex"
    header_regex: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValidationError(f"log format {self.name!r}: unknown engine {self.engine!r} "
                                  f"(engines: {', '.join(ENGINES)})", field="engine", value=self.engine)
        if self.engine == "regex" and not self.header_regex:
            raise ValidationError(f"log format {self.name!r}: the regex engine needs header_regex",
                                  field="header_regex")
        if self.header_regex is not None:
            check_header_regex(self.header_regex)
            if "ts" not in re.compile(self.header_regex).groupindex:
                raise ValidationError(f"log format {self.name!r}: header_regex needs a (?P<ts>...) group",
                                      field="header_regex")


def _adapt_format(name: str, obj: object) -> LogFormat:
    if not isinstance(obj, LogFormat):
        raise TypeError(f"expected an opsnb.logs.formats.LogFormat, got {type(obj).__name__}")
    if obj.name.lower() != name.lower():
        raise TypeError(f"the format object is named {obj.name!r}, not {name!r}")
    return obj


FORMATS: Registry[LogFormat] = Registry("log format", group="opsnb.log_formats", adapt=_adapt_format)
for _name, _what in (("jsonl", "one JSON object per line"), ("journald", "journalctl -o json"),
                     ("logfmt", "key=value pairs"), ("syslog5424", "RFC 5424 syslog"),
                     ("syslog3164", "BSD syslog"), ("access", "nginx/Apache access log"),
                     ("plain", "a time-stamped header line, continuation lines"),
                     ("otlp", "OTLP/JSON export requests")):
    FORMATS.register(_name, LogFormat(_name, engine=_name, description=_what), origin="opsnb")


def engine(fmt: str, opts: ParseOptions) -> tuple[str, ParseOptions]:
    """The engine that parses format ``fmt``, and the options it runs with (its header regex)."""
    spec = FORMATS.get(fmt)
    if spec.engine == spec.name:
        return spec.engine, opts
    from dataclasses import replace

    return spec.engine, replace(opts, header_regex=opts.header_regex or spec.header_regex)


# ------------------------------------------------------------------ detection
@dataclass(frozen=True)
class Detection:
    """What :func:`detect` decided and how sure it is."""

    format: str | None
    score: float
    scores: dict[str, float]
    reason: str = ""


_RE_5424 = re.compile(r"^<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ ")
_RE_3164 = re.compile(r"^(?:<\d{1,3}>)?[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \S+ ")
_RE_ACCESS = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} ')
_RE_LOGFMT = re.compile(LOGFMT_PAIR)
_RE_PLAIN = re.compile(PLAIN_HEADER)
_LOGFMT_KEYS = {"ts", "time", "level", "lvl", "msg", "message", "t", "caller", "err", "error", "component"}


def detect(sample: bytes, header_regex: str | None = None) -> Detection:
    """Guess the format of a source from its first bytes.

    Args:
        sample: The first bytes (decompressed), a few KiB to 1 MiB.
        header_regex: A custom ``plain`` header; when given and nothing structured fits, ``plain``.

    Returns:
        The best format with the share of sample lines it explains, or ``format=None``
        with a reason when nothing explains at least half of them.
    """
    text = sample.decode("utf-8", errors="replace")
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") and ('"resourceLogs"' in text[:4096] or '"resourceSpans"' in text[:4096]):
        return Detection("otlp", 1.0, {"otlp": 1.0})
    # Only the start of each line: a regex scan of a megabyte line would cost seconds.
    lines = [ln[:4096] for ln in text.splitlines()[:200] if ln.strip()]
    # A few damaged lines (NUL bytes) do not make a file binary: they are quarantined one by one.
    clean = [ln for ln in lines if "\x00" not in ln]
    if len(sample) >= 64 and (len(clean) <= len(lines) // 2 or text.count("\ufffd") > len(text) // 50):
        return Detection(None, 0.0, {}, "the data looks binary (NUL bytes or invalid UTF-8)")
    lines = clean
    if not lines:
        return Detection(None, 0.0, {}, "no non-blank line in the first bytes")
    scores: dict[str, float] = {}
    objs = 0
    journald = 0
    for ln in lines[:100]:
        s = ln.strip()
        if s.startswith("{"):
            try:
                obj = json.loads(s)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                continue
            if isinstance(obj, dict):
                objs += 1
                journald += "__REALTIME_TIMESTAMP" in obj or "__CURSOR" in obj
    n = min(len(lines), 100)
    scores["jsonl"] = objs / n
    scores["journald"] = journald / n
    head = lines[:200]
    scores["syslog5424"] = sum(bool(_RE_5424.match(x)) for x in head) / len(head)
    scores["syslog3164"] = sum(bool(_RE_3164.match(x)) for x in head) / len(head)
    scores["access"] = sum(bool(_RE_ACCESS.match(x)) for x in head) / len(head)
    lf = 0
    for x in head:
        keys = [m.group(1) for m in _RE_LOGFMT.finditer(x)]
        if len(keys) >= 2 and (set(keys) & _LOGFMT_KEYS or len(keys) >= 4):
            lf += 1
    scores["logfmt"] = lf / len(head)
    plain_re = re.compile(header_regex) if header_regex else _RE_PLAIN
    # Continuation lines (stack traces) do not count against plain: count entries, not lines.
    starts = sum(bool(plain_re.match(x)) for x in head)
    indented = sum(1 for x in head if x[:1] in (" ", "\t") or x.startswith(("Caused by", "...")))
    scores["plain"] = starts / max(len(head) - indented, 1) if starts else 0.0
    if header_regex:
        return Detection("plain", scores["plain"], scores)
    order = ["journald", "jsonl", "syslog5424", "access", "syslog3164", "logfmt", "plain"]
    best = max(order, key=lambda f: (scores[f], -order.index(f)))
    if best == "jsonl" and scores["journald"] >= 0.5:
        best = "journald"
    if scores[best] < 0.5:
        return Detection(None, scores[best], scores,
                         "no known format explains at least half of the first lines "
                         f"(best: {best} {scores[best]:.0%}); pass --format, or --format plain "
                         "--header-regex '(?P<ts>...) ...'")
    return Detection(best, scores[best], scores)


# ------------------------------------------------------------- SQL: per format
def _first(present: dict[str, str], keys: Sequence[str]) -> tuple[str, list[str]]:
    """COALESCE over the present columns among ``keys`` (as VARCHAR), and the columns used."""
    used = [present[k] for k in keys if k in present]
    if not used:
        return "NULL::VARCHAR", []
    exprs = [f"CAST({sql_ident(c)} AS VARCHAR)" for c in used]
    return (exprs[0] if len(exprs) == 1 else f"coalesce({', '.join(exprs)})"), used


def json_attr_columns(columns: Sequence[str], *, journald: bool = False) -> list[str]:
    """Columns of a flattened JSON batch that are not mapped to a lake column: the attributes."""
    aliases = JOURNALD_ALIASES if journald else ALIASES
    used: set[str] = set()
    for keys in aliases.values():
        used.update(k for k in keys if k in columns)
    return [c for c in columns if c != "_i" and c not in used and not (journald and c in JOURNALD_DROP)]


def json_inner_sql(columns: Sequence[str], *, journald: bool = False,
                   numeric: frozenset[str] | set[str] = frozenset()) -> str:
    """Inner SELECT over ``J`` (a flattened JSON batch plus ``_i``); attributes are built by the caller.

    Args:
        columns: Columns of ``J``.
        journald: Use journald's field names.
        numeric: Columns that are numbers already: status, severity and durations read from
            them skip the round trip through text.
    """
    aliases = JOURNALD_ALIASES if journald else ALIASES
    cols = [c for c in columns if c != "_i"]
    present = {c: c for c in cols}
    parts = ["_i"]
    for key in ("ts", "sevnum", "lvl", "body", "svc", "host", "trace", "span", "method", "route",
                "status", "dur_ms", "dur_s"):
        used = [c for c in aliases[key] if c in present]
        if key in ("sevnum", "status") and len(used) == 1 and used[0] in numeric:
            parts.append(f"{sql_ident(used[0])} AS {key}")
            continue
        if key == "dur_ms" and len(used) == 1 and used[0] in numeric:
            parts.append(f"CAST({sql_ident(used[0])} AS DOUBLE) AS dur_num")
            parts.append("NULL::VARCHAR AS dur_ms")
            continue
        expr, _ = _first(present, aliases[key])
        parts.append(f"{expr} AS {key}")
    if not any(p.endswith(" AS dur_num") for p in parts):
        parts.append("NULL::DOUBLE AS dur_num")
    parts.append("NULL::VARCHAR AS parse_err")
    parts.append("NULL AS _noattr")
    if journald:
        # PRIORITY is a syslog severity (0 emerg .. 7 debug)
        parts.append("opsnb_syslog_sev(try_cast(PRIORITY_ AS INT)) AS sevnum_pri")
        prio = sql_ident("PRIORITY") if "PRIORITY" in present else "NULL::VARCHAR"
        return (f"SELECT * REPLACE (opsnb_syslog_text(try_cast(lvl AS INT)) AS lvl, "
                f"regexp_replace(svc, '\\.service$', '') AS svc) FROM "
                f"(SELECT {', '.join(parts).replace('PRIORITY_', prio)} FROM J)")
    return f"SELECT {', '.join(parts)} FROM J"


def attrs_sql(pairs: Sequence[tuple[str, str]]) -> str:
    """Attribute columns ``"a.<key>"`` (VARCHAR); the caller builds the map with Arrow, which is
    several times faster than DuckDB's MAP construction."""
    return ", ".join(f"{e} AS {sql_ident('a.' + k)}" for k, e in pairs) if pairs else "NULL AS _noattr"


def logfmt_prep_sql() -> str:
    """First pass over ``L`` for logfmt: each line's keys and values (one regex scan per line)."""
    pair = sql_str(LOGFMT_PAIR)
    return f"""
    SELECT _i, line, list_transform(p, lambda x: x[:strpos(x, '=') - 1]) AS k,
      list_transform(p, lambda x: CASE
        WHEN x[strpos(x, '=') + 1:] = '' THEN NULL
        WHEN starts_with(x[strpos(x, '=') + 1:], '"')
          THEN replace(replace(x[strpos(x, '=') + 2:-2], '\\"', '"'), '\\\\', '\\')
        ELSE x[strpos(x, '=') + 1:] END) AS v
    FROM (SELECT _i, line, regexp_extract_all(line, {pair}) AS p FROM L)"""


def logfmt_inner_sql(present: set[str] | frozenset[str] | None = None) -> str:
    """Inner SELECT over the first pass (``_i, line, k, v``) for logfmt.

    Args:
        present: Keys that occur in the batch; aliases of absent keys are left out of the SQL,
            which saves dozens of list look-ups per line.
    """
    keep = (lambda k: True) if present is None else (lambda k: k in present)

    def val(keys: Sequence[str]) -> str:
        picks = [f"v[list_position(k, {sql_str(key)})]" for key in keys if keep(key)]
        if not picks:
            return "NULL::VARCHAR"
        return f"coalesce({', '.join(picks)})" if len(picks) > 1 else picks[0]

    known = [key for ks in ALIASES.values() for key in ks if keep(key)]
    known_list = "[" + ", ".join(sql_str(key) for key in known) + "]" if known else "[]::VARCHAR[]"
    fields = ", ".join(f"{val(ALIASES[key])} AS {key}" for key in ALIASES if key not in ("body", "ts"))
    return f"""
    SELECT _i, {val(ALIASES['ts'])} AS ts, {fields},
      coalesce({val(ALIASES['body'])}, line) AS body,
      list_filter(k, lambda x: NOT list_contains({known_list}, x)) AS _ak,
      list_filter(v, lambda x, j: NOT list_contains({known_list}, k[j])) AS _av,
      CASE WHEN len(k) = 0 THEN 'not logfmt: no key=value pair' END AS parse_err
    FROM L"""


def syslog5424_inner_sql() -> str:
    """Inner SELECT over ``L`` for RFC 5424 syslog."""
    names = ["pri", "ts", "host", "app", "procid", "msgid", "sd", "msg"]
    return f"""
    SELECT _i, nullif(m.ts, '-') AS ts, NULL::VARCHAR AS sevnum,
      opsnb_syslog_sev(try_cast(m.pri AS INT)) AS sevnum_pri,
      opsnb_syslog_text(try_cast(m.pri AS INT)) AS lvl,
      ltrim(m.msg, chr(65279)) AS body, nullif(m.app, '-') AS svc, nullif(m.host, '-') AS host,
      NULL::VARCHAR AS trace, NULL::VARCHAR AS span, NULL::VARCHAR AS method, NULL::VARCHAR AS route,
      NULL::VARCHAR AS status, NULL::VARCHAR AS dur_ms, NULL::VARCHAR AS dur_s,
      {attrs_sql([("syslog.facility", "CAST(try_cast(m.pri AS INT) // 8 AS VARCHAR)"),
                  ("process.pid", "nullif(m.procid, '-')"), ("syslog.msgid", "nullif(m.msgid, '-')"),
                  ("syslog.structured_data", "nullif(m.sd, '-')")])},
      CASE WHEN m.pri = '' THEN 'not RFC 5424 syslog' WHEN try_cast(m.pri AS INT) > 191
           THEN 'syslog priority above 191' END AS parse_err
    FROM (SELECT _i, regexp_extract(line, {sql_str(SYSLOG5424)}, {names!r}) AS m FROM L)
    """


def syslog3164_inner_sql() -> str:
    """Inner SELECT over ``L`` for BSD syslog; the stamp has no year and no zone."""
    names = ["pri", "ts", "host", "tag", "pid", "msg"]
    return f"""
    SELECT _i, m.ts AS ts, CAST(NULL AS VARCHAR) AS sevnum,
      opsnb_syslog_sev(try_cast(nullif(m.pri, '') AS INT)) AS sevnum_pri,
      opsnb_syslog_text(try_cast(nullif(m.pri, '') AS INT)) AS lvl,
      m.msg AS body, nullif(m.tag, '') AS svc, m.host AS host,
      NULL::VARCHAR AS trace, NULL::VARCHAR AS span, NULL::VARCHAR AS method, NULL::VARCHAR AS route,
      NULL::VARCHAR AS status, NULL::VARCHAR AS dur_ms, NULL::VARCHAR AS dur_s,
      {attrs_sql([("syslog.facility", "CAST(try_cast(nullif(m.pri, '') AS INT) // 8 AS VARCHAR)"),
                  ("process.pid", "nullif(m.pid, '')")])},
      CASE WHEN m.ts = '' THEN 'not BSD syslog' END AS parse_err
    FROM (SELECT _i, regexp_extract(line, {sql_str(SYSLOG3164)}, {names!r}) AS m FROM L)
    """


def access_inner_sql() -> str:
    """Inner SELECT over ``L`` for nginx/Apache common and combined access logs."""
    names = ["client", "user", "ts", "method", "target", "proto", "rawreq", "status", "bytes",
             "referer", "ua", "rt"]
    return f"""
    SELECT _i, m.ts AS ts, CAST(opsnb_status_sev(try_cast(m.status AS INT)) AS VARCHAR) AS sevnum,
      CASE WHEN try_cast(m.status AS INT) >= 500 THEN 'ERROR' WHEN try_cast(m.status AS INT) >= 400
           THEN 'WARN' ELSE 'INFO' END AS lvl,
      line AS body, NULL::VARCHAR AS svc, NULL::VARCHAR AS host, NULL::VARCHAR AS trace, NULL::VARCHAR AS span,
      nullif(m.method, '') AS method, nullif(split_part(m.target, '?', 1), '') AS route, m.status AS status,
      NULL::VARCHAR AS dur_ms, nullif(m.rt, '') AS dur_s,
      {attrs_sql([("client.address", "nullif(m.client, '')"), ("user.name", "nullif(nullif(m.user, '-'), '')"),
                  ("url.full", "CASE WHEN contains(m.target, '?') THEN m.target END"),
                  ("network.protocol", "nullif(m.proto, '')"), ("http.request.line", "nullif(m.rawreq, '')"),
                  ("http.response.body.size", "nullif(nullif(m.bytes, '-'), '')"),
                  ("http.referer", "nullif(nullif(m.referer, '-'), '')"),
                  ("user_agent.original", "nullif(nullif(m.ua, '-'), '')")])},
      CASE WHEN m.status = '' THEN 'not an access log line' END AS parse_err
    FROM (SELECT _i, line, regexp_extract(line, {sql_str(ACCESS)}, {names!r}) AS m FROM L)
    """


def plain_inner_sql(header_regex: str | None) -> str:
    """Inner SELECT over ``L`` (one entry per row, continuation lines joined) for plain text."""
    pattern, names = positional(header_regex or PLAIN_DEFAULT)
    full = "(?s)" + pattern  # an entry spans lines: "." must match the newlines of its continuation
    extra = [n for n in names if n not in PLAIN_GROUPS and not n.startswith("_g")]

    def g(name: str) -> str:
        return f"nullif(m.{sql_ident(name)}, '')" if name in names else "NULL::VARCHAR"

    body = g("msg") if "msg" in names else "line"
    attrs = attrs_sql([(n, f"nullif(m.{sql_ident(n)}, '')") for n in extra])
    return f"""
    SELECT _i, {g('ts')} AS ts, NULL::VARCHAR AS sevnum, NULL::INT AS sevnum_pri, {g('level')} AS lvl,
      coalesce({body}, '') AS body, {g('service')} AS svc, {g('host')} AS host, {g('trace_id')} AS trace,
      {g('span_id')} AS span, NULL::VARCHAR AS method, NULL::VARCHAR AS route, NULL::VARCHAR AS status,
      NULL::VARCHAR AS dur_ms, NULL::VARCHAR AS dur_s, {attrs},
      CASE WHEN NOT regexp_matches(line, {sql_str(full)}) THEN 'line does not match the header regex' END
        AS parse_err
    FROM (SELECT _i, line, regexp_extract(line, {sql_str(full)}, {names!r}) AS m FROM L)
    """


def header_pattern(fmt: str, header_regex: str | None) -> str | None:
    """The regex (Python and RE2) of a line that starts an entry, for multi-line formats."""
    if fmt == "plain":
        return header_regex or PLAIN_HEADER
    if fmt == "regex":
        return None  # one entry per line: a line the regex does not match is quarantined
    if fmt in ("syslog3164", "syslog5424"):
        # Only indented lines continue a syslog entry; any other line is judged on its own.
        return r"^[^ \t]"
    return None


def header_sql(fmt: str, header_regex: str | None) -> str | None:
    """A boolean SQL expression over ``line``: does this line start an entry? (multi-line formats)"""
    pattern = header_pattern(fmt, header_regex)
    return f"regexp_matches(line, {sql_str(pattern)})" if pattern else None


def inner_sql(fmt: str, header_regex: str | None = None) -> str:
    """The inner SELECT of a line format over ``L``."""
    if fmt == "logfmt":
        return logfmt_inner_sql()  # (ingest runs logfmt_prep_sql first and passes the keys present)
    if fmt == "syslog5424":
        return syslog5424_inner_sql()
    if fmt == "syslog3164":
        return syslog3164_inner_sql()
    if fmt == "access":
        return access_inner_sql()
    if fmt in ("plain", "regex"):
        return plain_inner_sql(header_regex)
    raise ValidationError(f"format {fmt!r} is not a line format", field="format")


# ------------------------------------------------------------ SQL: normalise
MACROS = """
CREATE OR REPLACE MACRO opsnb_epoch(x) AS CASE
  WHEN x >= 1e17 THEN make_timestamp(CAST(x / 1000 AS BIGINT))
  WHEN x >= 1e14 THEN make_timestamp(CAST(x AS BIGINT))
  WHEN x >= 1e11 THEN make_timestamp(CAST(x * 1000 AS BIGINT))
  ELSE make_timestamp(CAST(x * 1000000 AS BIGINT)) END::TIMESTAMPTZ;
CREATE OR REPLACE MACRO opsnb_sev(t) AS CASE upper(trim(t))
  WHEN 'TRACE' THEN 1 WHEN 'DEBUG' THEN 5 WHEN 'DBG' THEN 5 WHEN 'INFO' THEN 9 WHEN 'INF' THEN 9
  WHEN 'INFORMATION' THEN 9 WHEN 'NOTICE' THEN 10 WHEN 'WARN' THEN 13 WHEN 'WARNING' THEN 13
  WHEN 'WRN' THEN 13 WHEN 'ERROR' THEN 17 WHEN 'ERR' THEN 17 WHEN 'SEVERE' THEN 17 WHEN 'FAIL' THEN 17
  WHEN 'CRIT' THEN 21 WHEN 'CRITICAL' THEN 21 WHEN 'ALERT' THEN 22 WHEN 'EMERG' THEN 23
  WHEN 'EMERGENCY' THEN 23 WHEN 'FATAL' THEN 21 WHEN 'PANIC' THEN 24
  ELSE CASE try_cast(t AS INT) WHEN 10 THEN 1 WHEN 20 THEN 5 WHEN 30 THEN 9 WHEN 40 THEN 13
       WHEN 50 THEN 17 WHEN 60 THEN 21 END END;
CREATE OR REPLACE MACRO opsnb_syslog_sev(p) AS CASE p % 8 WHEN 0 THEN 23 WHEN 1 THEN 22 WHEN 2 THEN 21
  WHEN 3 THEN 17 WHEN 4 THEN 13 WHEN 5 THEN 10 WHEN 6 THEN 9 WHEN 7 THEN 5 END;
CREATE OR REPLACE MACRO opsnb_syslog_text(p) AS CASE p % 8 WHEN 0 THEN 'EMERG' WHEN 1 THEN 'ALERT'
  WHEN 2 THEN 'CRIT' WHEN 3 THEN 'ERROR' WHEN 4 THEN 'WARN' WHEN 5 THEN 'NOTICE' WHEN 6 THEN 'INFO'
  WHEN 7 THEN 'DEBUG' END;
CREATE OR REPLACE MACRO opsnb_status_sev(s) AS CASE WHEN s >= 500 THEN 17 WHEN s >= 400 THEN 13
  WHEN s > 0 THEN 9 END;
CREATE OR REPLACE MACRO opsnb_id(v, n) AS CASE
  WHEN v IS NULL OR v = '' THEN NULL
  WHEN length(v) = n AND regexp_full_match(v, '[0-9a-fA-F]+') THEN lower(v)
  WHEN length(v) = n // 3 * 2 + 4 - (n // 3 * 2 + 4) % 4 AND regexp_full_match(v, '[A-Za-z0-9+/]+=*')
    THEN coalesce(lower(hex(try(from_base64(v)))), v)
  ELSE v END;
CREATE OR REPLACE MACRO opsnb_dur(v, scale) AS CASE
  WHEN v IS NULL THEN NULL
  WHEN regexp_full_match(v, '-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?') THEN CAST(v AS DOUBLE) * scale
  WHEN regexp_full_match(v, '[0-9.]+ms') THEN try_cast(v[:-3] AS DOUBLE)
  WHEN regexp_full_match(v, '[0-9.]+(us|µs)') THEN try_cast(regexp_replace(v, '[^0-9.]', '', 'g') AS DOUBLE) / 1000
  WHEN regexp_full_match(v, '[0-9.]+ns') THEN try_cast(v[:-3] AS DOUBLE) / 1e6
  WHEN regexp_full_match(v, '[0-9.]+s') THEN try_cast(v[:-2] AS DOUBLE) * 1000
  END;
CREATE OR REPLACE MACRO opsnb_is_epoch(s) AS regexp_full_match(s, '[0-9]{9,19}(\\.[0-9]+)?');
CREATE OR REPLACE MACRO opsnb_zoned(s) AS regexp_matches(s, '(?:[zZ]|[+-][0-9]{2}:?[0-9]{2}|UTC|GMT)\\]?$');
"""


def ts_sql(src: str, assume_tz: str, year: int | None = None) -> tuple[str, str]:
    """SQL for the parsed Timestamp of VARCHAR column ``src``, and for "its zone was assumed".

    The common case (ISO 8601 with a zone) costs one regex test and one cast.
    """
    naive_fmts = "[" + ", ".join(sql_str(f) for f in NAIVE_FORMATS) + "]"
    zoned_fmts = "[" + ", ".join(sql_str(f) for f in ZONED_FORMATS) + "]"
    s = f"trim({src})"
    iso = f"replace({s}, ',', '.')"
    # DuckDB's cast reads "17/06/09" as the year 17: only ISO-looking text goes through the cast.
    naive_ts = (f"CASE WHEN regexp_matches({src}, '^\\s*\\d{{4}}-\\d{{2}}-\\d{{2}}') "
                f"THEN coalesce(try_cast({src} AS TIMESTAMP), try_cast({iso} AS TIMESTAMP)) "
                f"ELSE try_strptime({s}, {naive_fmts}) END")
    if year is not None:
        # BSD syslog: "Jun  4 15:16:01" has no year; the current one unless that is in the future.
        naive_val = f"opsnb_year_ts(regexp_replace({s}, '\\s+', ' ', 'g'), {year}, {sql_str(assume_tz)})"
    elif assume_tz == "UTC":
        naive_val = f"{naive_ts}::TIMESTAMPTZ"
    else:
        naive_val = f"timezone({sql_str(assume_tz)}, {naive_ts})"
    expr = (f"CASE WHEN {src} IS NULL THEN NULL "
            f"WHEN opsnb_zoned({src}) THEN coalesce(try_cast({src} AS TIMESTAMPTZ), "
            f"try_cast({iso} AS TIMESTAMPTZ), try_strptime({s}, {zoned_fmts})::TIMESTAMPTZ) "
            f"WHEN opsnb_is_epoch({s}) THEN opsnb_epoch(CAST({s} AS DOUBLE)) "
            f"ELSE {naive_val} END")
    naive = f"({src} IS NOT NULL AND NOT opsnb_zoned({src}) AND NOT opsnb_is_epoch({s}))"
    return expr, naive


YEAR_MACRO = """
CREATE OR REPLACE MACRO opsnb_year_ts(s, y, tz) AS CASE
  WHEN timezone(tz, try_strptime(CAST(y AS VARCHAR) || ' ' || s, '%Y %b %d %H:%M:%S')) > now() + INTERVAL 1 DAY
  THEN timezone(tz, try_strptime(CAST(y - 1 AS VARCHAR) || ' ' || s, '%Y %b %d %H:%M:%S'))
  ELSE timezone(tz, try_strptime(CAST(y AS VARCHAR) || ' ' || s, '%Y %b %d %H:%M:%S')) END;
"""


def normalise_sql(inner: str, opts: ParseOptions, fmt: str, observed: datetime) -> str:
    """Wrap a format's inner SELECT into the lake ``logs`` columns plus ``_i`` and ``_err``.

    Attributes stay loose for the caller to build the map with Arrow: static ``"a.<key>"``
    columns, or ``_ak``/``_av`` lists (logfmt), and ``_assumed`` (the zone assumed, or NULL).
    """
    year = observed.year if fmt == "syslog3164" else None
    ts_expr, naive_expr = ts_sql("ts", opts.assume_tz, year)
    obs = sql_str(observed.strftime("%Y-%m-%d %H:%M:%S.%f+00"))
    future = f"({obs}::TIMESTAMPTZ + INTERVAL {float(opts.max_future_s)} SECOND)"
    assumed = sql_str("year," + opts.assume_tz if year is not None else opts.assume_tz)
    service = sql_str(opts.service) if opts.service else "NULL::VARCHAR"
    host = sql_str(opts.host) if opts.host else "NULL::VARCHAR"
    sevnum_pri = "sevnum_pri" if "sevnum_pri" in inner else "NULL::INT"
    dynamic = "_ak" in inner
    dur_num = "dur_num, " if "dur_num" in inner else ""
    attrs = "_ak, _av" if dynamic else "COLUMNS('^(a\\.|_noattr$)')"
    return f"""
    WITH r AS ({inner}),
    t AS (SELECT *, {ts_expr} AS _ts, {naive_expr} AS _naive FROM r)
    SELECT _i,
      _ts AS "Timestamp",
      {obs}::TIMESTAMPTZ AS "ObservedTimestamp",
      opsnb_id(trace, 32) AS "TraceId",
      opsnb_id(span, 16) AS "SpanId",
      CAST(coalesce(try_cast(sevnum AS INT), try_cast({sevnum_pri} AS INT), opsnb_sev(lvl), 0) AS INT)
        AS "SeverityNumber",
      lvl AS "SeverityText",
      coalesce(nullif(svc, ''), {service}, 'unknown_service') AS "ServiceName",
      coalesce(nullif(host, ''), {host}) AS "HostName",
      body AS "Body",
      upper(nullif(method, '')) AS "HttpMethod",
      nullif(route, '') AS "HttpRoute",
      CAST(try_cast(try_cast(status AS DOUBLE) AS INT) AS INT) AS "HttpStatus",
      coalesce({dur_num}opsnb_dur(dur_ms, 1.0), opsnb_dur(dur_s, 1000.0)) AS "DurationMs",
      {attrs},
      CASE WHEN _naive THEN {assumed} END AS _assumed,
      CASE WHEN parse_err IS NOT NULL THEN parse_err
           WHEN ts IS NULL OR trim(ts) = '' THEN 'no timestamp'
           WHEN _ts IS NULL THEN 'unparseable timestamp: ' || left(ts, 80)
           WHEN _ts > {future} THEN 'timestamp in the future: ' || CAST(_ts AS VARCHAR)
             || ' is more than {int(opts.max_future_s)} s after the ingest time'
           WHEN body IS NULL THEN 'no message body'
      END AS _err
    FROM t
    """
