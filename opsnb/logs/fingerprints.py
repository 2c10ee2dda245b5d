"""Error fingerprints: one stable key per kind of error, and the errors table.

A fingerprint must stay the same for the same bug across hosts, deploys and
days, and differ between bugs:

- a message with a stack trace (Python, Java/JVM, .NET, Go, Node.js) is keyed by its
  exception type and its top frames, each normalised to module/file + function
  (line numbers, addresses, lambda and generated-class suffixes dropped: they move
  with every deploy);
- any other error is keyed by its message *template*: :func:`opsnb.logs.patterns.mask`
  plus quoted strings, URLs, e-mails and paths masked. Mining (which depends on the
  lines seen before) is deliberately not used, so a fingerprint computed today equals
  the one computed yesterday.

``error_table`` groups error events by fingerprint; ``errors_frame`` reads them from
the lake (severity >= 17, i.e. ERROR and worse, or HTTP status >= 500).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsnb.errors import ValidationError
from opsnb.logs.error_event import ERROR_SQL
from opsnb.logs.patterns import mask

if TYPE_CHECKING:
    import pandas as pd

MAX_FRAMES = 6  # top frames kept: deeper frames are framework plumbing shared by every error

_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<func>\S+)', re.M)
_PY_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault|[A-Z]\w*))"
                     r"(?::|$)", re.M)
# JVM and .NET frames share a shape: "at pkg.Class.method(...)"; .NET adds " in file:line N".
_JAVA_FRAME = re.compile(r"^\s*at (?P<func>[\w$.<>/`]+)\((?P<file>[^):]*)(?::\d+)?\)", re.M)
# The type may follow a logger's prefix ("unhandled exception in ...: java.lang.NullPointerException: ...").
_JAVA_EXC = re.compile(r"(?<![\w.$])(?P<type>(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable|Fault)"
                       r"[\w$]*)(?=:|\s|$)", re.M)
_JAVA_CAUSE = re.compile(r"^Caused by: (?P<type>[\w$.]+)", re.M)
_DOTNET_EXC = re.compile(r"(?<![\w.$])(?P<type>(?:[A-Z][\w`]*\.)+[A-Z]\w*(?:Exception|Error))(?=:|\s|$)", re.M)
_DOTNET_INNER = re.compile(r"---> (?P<type>(?:[A-Z][\w`]*\.)+[A-Z]\w*)")  # the inner (root-cause) exception
_JS_FRAME = re.compile(r"^\s+at (?:(?:async )?(?P<func>[^\s(]+)(?: \[as [^\]]+\])? \()?(?P<file>[^():\s]+)"
                       r"(?::\d+){1,2}\)?", re.M)
_JS_EXC = re.compile(r"(?<![\w.$])(?:Uncaught )?(?P<type>(?:[A-Z]\w*)?(?:Error|Exception))(?=:|\s|$)", re.M)
_GO_PANIC = re.compile(r"^(?P<kind>panic|fatal error): (?P<msg>.*)$", re.M)
_GO_FRAME = re.compile(r"^(?P<func>[\w./*()-]+)\(.*\)\n\t(?P<file>\S+?):\d+", re.M)
_INLINE_EXC = re.compile(r"(?<![\w.$])(?P<type>(?:[a-z_$][\w$]*\.)*[A-Z]\w*(?:Exception|Error))(?::|\b)")

_STR = re.compile(r"\"(?:[^\"\\]|\\.){0,200}\"|'(?:[^'\\]|\\.){0,200}'")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PATH = re.compile(r"(?<![\w<])(?:/[\w.@%+~-]+){2,}/?")
_GEN = re.compile(r"\$\$Lambda\$?[\w/$]*|\$\d+|\.lambda\$\w+|<lambda>|\b0x[0-9a-f]+\b|\[\d+\]"
                  r"|(?<=>)[bd]__\d+(?:_\d+)?")  # .NET compiler-generated lambda and async names


@dataclass(frozen=True)
class Fingerprint:
    """What :func:`fingerprint` found."""

    fp: str
    label: str
    exception_type: str | None

    def __iter__(self) -> Any:  # unpacks as (fp, label, exception_type)
        return iter((self.fp, self.label, self.exception_type))


def _norm_file(path: str) -> str:
    # Keep the last two path parts: site-packages prefixes differ per host and venv.
    parts = [p for p in re.split(r"[\\/]", path) if p]
    return "/".join(parts[-2:]) if parts else path


def _frames(body: str) -> tuple[str | None, list[str]]:
    """Exception type and normalised frames of a stack trace in ``body`` (innermost first)."""
    frames = [f"{_norm_file(m['file'])}:{_GEN.sub('', m['func'])}" for m in _PY_FRAME.finditer(body)]
    if frames:
        types = [m["type"] for m in _PY_EXC.finditer(body)
                 if not m.group(0).startswith(("Traceback", "File"))]
        frames.reverse()  # Python prints innermost last
        return (types[-1] if types else None), frames
    java = list(_JAVA_FRAME.finditer(body))
    if java:
        return _jvm_or_dotnet_type(body, body[: java[0].start()]), [_GEN.sub("", m["func"]) for m in java]
    panic = _GO_PANIC.search(body)
    if panic and "goroutine " in body:
        gframes = [f"{_norm_file(m['file'])}:{m['func']}" for m in _GO_FRAME.finditer(body)]
        gframes = [f for f in gframes if not f.split(":", 1)[1].startswith(("runtime.", "panic("))]
        return ("panic" if panic["kind"] == "panic" else "fatal error"), gframes
    js = list(_JS_FRAME.finditer(body))
    if js:
        jst = _JS_EXC.search(body[: js[0].start()])
        return (jst["type"] if jst else None), [f"{_norm_file(m['file'])}:{m['func'] or '?'}" for m in js]
    return None, []


def _jvm_or_dotnet_type(body: str, head: str) -> str | None:
    """The most specific exception type of a JVM or .NET trace: the root cause where one is printed."""
    causes = [m["type"] for m in _JAVA_CAUSE.finditer(body)] or [m["type"] for m in _DOTNET_INNER.finditer(body)]
    if causes:
        return causes[-1]
    m = _JAVA_EXC.search(head) or _DOTNET_EXC.search(head)
    return m["type"] if m else None


def template_of(message: str) -> str:
    """The variable-free form of one message line (deterministic: no mining state)."""
    text = _URL.sub("<URL>", message)
    text = _EMAIL.sub("<EMAIL>", text)
    text = _STR.sub("<STR>", text)
    text = _PATH.sub("<PATH>", text)
    return " ".join(mask(text).split())


def fingerprint(body: str) -> Fingerprint:
    """Fingerprint one error message.

    Args:
        body: The log body, possibly multi-line with a stack trace.

    Returns:
        ``(fp, label, exception_type)``: a 16-hex-digit key, a human label, and the
        exception type when one was recognised (else None).

    Example:
        >>> fingerprint("timeout after 30s calling 10.0.0.7").label
        'timeout after <DUR> calling <IP>'
    """
    if not isinstance(body, str):
        raise ValidationError(f"fingerprint needs a str body, got {type(body).__name__}", field="body")
    body = body[:100_000]  # a huge dump must not cost more than its head
    exc_type, frames = _frames(body)
    if frames:
        top = frames[:MAX_FRAMES]
        key = "trace\0" + (exc_type or "?") + "\0" + "\0".join(top)
        label = f"{exc_type or 'error'} at {top[0]}"
    else:
        first = next((ln for ln in body.splitlines() if ln.strip()), "")
        inline = _INLINE_EXC.search(first)
        exc_type = inline["type"] if inline else None
        tmpl = template_of(first)[:300]
        key = "msg\0" + tmpl
        label = tmpl or "(empty message)"
    return Fingerprint(hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()[:16], label, exc_type)


COLUMNS = ["fingerprint", "label", "exception_type", "count", "first_seen", "last_seen", "services",
           "sample_trace_ids", "example"]


def error_table(df: pd.DataFrame, *, samples: int = 3) -> pd.DataFrame:
    """Group error events by fingerprint.

    Args:
        df: Error events with columns ``Timestamp``, ``Body`` and optionally ``ServiceName``, ``TraceId``.
        samples: Trace ids kept per fingerprint.

    Returns:
        DataFrame with fingerprint, label, exception_type, count, first_seen, last_seen,
        services (sorted list), sample_trace_ids (list), example (one body), most frequent first.
    """
    import pandas as pd

    missing = {"Timestamp", "Body"} - set(df.columns)
    if missing:
        raise ValidationError(f"error_table needs columns {', '.join(sorted(missing))}", field="df")
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    cache: dict[str, Fingerprint] = {}
    fps: list[str] = []
    for b in df["Body"].fillna("").astype(str):
        f = cache.get(b)
        if f is None:
            f = cache[b] = fingerprint(b)
        fps.append(f.fp)
    info = {f.fp: f for f in cache.values()}
    work = pd.DataFrame({
        "fp": fps,
        "ts": pd.to_datetime(df["Timestamp"], utc=True).to_numpy(),
        "svc": df["ServiceName"].to_numpy() if "ServiceName" in df else None,
        "trace": df["TraceId"].to_numpy() if "TraceId" in df else None,
        "body": df["Body"].to_numpy(),
    })
    rows = []
    for fp, g in work.groupby("fp", sort=False):
        traces = [t for t in dict.fromkeys(g["trace"].dropna()) if t][:samples]
        svcs = sorted({s for s in g["svc"].dropna() if s})
        f = info[str(fp)]
        rows.append({"fingerprint": fp, "label": f.label, "exception_type": f.exception_type,
                     "count": len(g), "first_seen": g["ts"].min(), "last_seen": g["ts"].max(),
                     "services": svcs, "sample_trace_ids": traces, "example": str(g["body"].iloc[0])[:2000]})
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["first_seen"] = pd.to_datetime(out["first_seen"], utc=True)
    out["last_seen"] = pd.to_datetime(out["last_seen"], utc=True)
    return out.sort_values(["count", "first_seen"], ascending=[False, True], ignore_index=True)


def _error_events(ops: Any, start: datetime, end: datetime, service: str | None,
                  limit: int = 500_000) -> pd.DataFrame:
    if start >= end:
        raise ValidationError(f"errors window must have start < end ({start} >= {end})", field="start")
    where = f"Timestamp >= $lo AND Timestamp < $hi AND {ERROR_SQL}"
    params: dict[str, Any] = {"lo": start, "hi": end}
    if service:
        where += " AND ServiceName = $svc"
        params["svc"] = service
    # newest rows first when capped: a storm of one error must not hide the rest of the window
    return ops.lake.query(f"SELECT Timestamp, ServiceName, TraceId, Body FROM logs WHERE {where} "
                          f"ORDER BY Timestamp DESC LIMIT {int(limit)}", params, start=start, end=end,
                          tables=["logs"])


def errors_frame(ops: Any, start: datetime, end: datetime, service: str | None = None, *,
                 limit: int = 500_000) -> pd.DataFrame:
    """The errors table of the lake's logs in ``[start, end)`` (see :func:`error_table`).

    Error rows are severity >= 17 (ERROR and worse) or HTTP status >= 500. At most ``limit``
    rows are read, the newest; past that, counts and first_seen cover only those rows.
    """
    return error_table(_error_events(ops, start, end, service, limit))


def new_since(ops: Any, t: datetime, baseline_start: datetime, end: datetime | None = None,
              service: str | None = None) -> pd.DataFrame:
    """Fingerprints first seen at or after ``t`` (not seen between ``baseline_start`` and ``t``).

    Args:
        ops: The workbench.
        t: The moment of interest (a deploy, an incident start).
        baseline_start: How far back "seen before" looks.
        end: End of the window (default now).
        service: Only this service.
    """
    from datetime import UTC

    end = end or datetime.now(UTC)
    if not baseline_start < t:
        raise ValidationError("baseline_start must be before t", field="baseline_start")
    return Errors(errors_frame(ops, baseline_start, end, service)).new_since(t)


class Errors:
    """An errors table with helpers (``ops.logs.errors(...)`` returns one).

    Args:
        table: Output of :func:`error_table`.
    """

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table

    @classmethod
    def of(cls, ops: Any, start: datetime, end: datetime, service: str | None = None) -> Errors:
        """Read the errors of ``[start, end)`` from the lake."""
        return cls(errors_frame(ops, start, end, service))

    def new_since(self, t: datetime) -> pd.DataFrame:
        """Rows first seen at or after ``t``: errors that did not exist before it."""
        import pandas as pd

        from opsnb.timeparse import parse_instant

        ts = pd.Timestamp(parse_instant(t, name="since"))
        return self.table[self.table["first_seen"] >= ts].reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.table)

    def _repr_html_(self) -> str:
        if self.table.empty:
            return "<b>errors</b>: none"
        head = self.table.head(20)
        rows = "".join(
            f"<tr><td><code>{html.escape(str(r.fingerprint))}</code></td><td>{html.escape(str(r.label))}</td>"
            f"<td>{r.count}</td><td>{html.escape(str(r.first_seen))}</td><td>{html.escape(str(r.last_seen))}</td>"
            f"<td>{html.escape(', '.join(r.services))}</td></tr>"
            for r in head.itertuples()
        )
        return (f"<b>{len(self.table)} error fingerprints</b><table><tr><th>fingerprint</th><th>label</th>"
                f"<th>count</th><th>first seen</th><th>last seen</th><th>services</th></tr>{rows}</table>")
