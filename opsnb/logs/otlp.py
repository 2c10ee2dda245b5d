"""OTLP/JSON (``ExportLogsServiceRequest``, ``ExportTraceServiceRequest``) to lake rows.

Accepts one request per file (pretty-printed or not) or one per line (what the
OpenTelemetry Collector's file exporter writes). Trace and span ids may be hex
(the OTLP/JSON spec) or base64 (protobuf's default JSON mapping); both become
lowercase hex. Log records go to ``logs``, spans to ``spans``. A record that
cannot be read is reported with its reason; the others are kept.

The instrumentation scope's name and version become ``ScopeName`` and
``ScopeVersion`` (logs and spans) and ``LogRecord.eventName`` becomes
``EventName``, the columns of the OpenTelemetry Collector's ClickHouse exporter.
A record written before ``eventName`` existed (OTLP 1.5) names its event in the
``event.name`` attribute, as the published ``examples/events.json`` does: that
fills ``EventName`` too (the attribute stays in ``LogAttributes``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from opsnb.store.lake import SCHEMAS

_HEX = re.compile(r"^[0-9a-fA-F]*$")
SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_CODES = {0: "Unset", 1: "Ok", 2: "Error"}
SEVERITY_TEXT = {1: "TRACE", 5: "DEBUG", 9: "INFO", 13: "WARN", 17: "ERROR", 21: "FATAL"}


def norm_id(value: Any, nbytes: int) -> str | None:
    """A trace (16 bytes) or span (8 bytes) id as lowercase hex; hex or base64 accepted.

    Raises:
        ValueError: The id is neither.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"id {value!r} is not a string")
    if len(value) == nbytes * 2 and _HEX.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == nbytes:
        return raw.hex()
    raise ValueError(f"id {value!r} is neither {nbytes * 2} hex digits nor base64 of {nbytes} bytes")


def any_value(v: Any) -> Any:
    """The Python value of an OTLP ``AnyValue``."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "bytesValue" in v:
        return v["bytesValue"]
    if "arrayValue" in v:
        return [any_value(x) for x in _values(v["arrayValue"])]
    if "kvlistValue" in v:
        return {kv.get("key"): any_value(kv.get("value")) for kv in _values(v["kvlistValue"])
                if isinstance(kv, dict)}
    return None


def _values(v: Any) -> list[Any]:
    """The ``values`` of an ``ArrayValue``/``KeyValueList``; a bare list is taken as they are.

    The OTLP repository's own ``examples/events.json`` writes ``"kvlistValue": [...]``
    without the ``values`` wrapper; readers in the wild accept it, so opsnb does too.
    """
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return v.get("values") or []
    return []


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, separators=(",", ":"), default=str)


def attributes(items: Any) -> dict[str, str]:
    """OTLP ``KeyValue`` list to a flat string map."""
    out: dict[str, str] = {}
    for kv in items or []:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            t = _text(any_value(kv.get("value")))
            if t is not None:
                out[kv["key"]] = t
    return out


def _nanos(v: Any) -> int | None:
    if v is None or v == "" or v == 0 or v == "0":
        return None
    return int(v)


@dataclass
class OtlpRows:
    """What one OTLP document held."""

    logs: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (reason, raw json of the record)


def _scope(scoped: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(name, version)`` of a ``ScopeLogs``/``ScopeSpans`` (or the pre-1.0 ``instrumentationLibrary``)."""
    scope = scoped.get("scope") or scoped.get("instrumentationLibrary") or {}
    if not isinstance(scope, dict):
        return None, None
    name, version = scope.get("name"), scope.get("version")
    return (name if isinstance(name, str) and name else None,
            version if isinstance(version, str) and version else None)


def _sev(rec: dict[str, Any]) -> tuple[int, str | None]:
    num = rec.get("severityNumber", 0)
    if isinstance(num, str):  # "SEVERITY_NUMBER_WARN" (proto enum name)
        name = num.removeprefix("SEVERITY_NUMBER_")
        base = {v: k for k, v in SEVERITY_TEXT.items()}
        m = re.match(r"([A-Z]+)(\d?)$", name)
        num = base.get(m.group(1), 0) + (int(m.group(2)) - 1 if m and m.group(2) else 0) if m else 0
    return int(num or 0), rec.get("severityText") or None


def parse_document(doc: Any, observed: datetime, max_future_ns: int) -> OtlpRows:
    """Rows of one export request (logs and/or spans)."""
    out = OtlpRows()
    if not isinstance(doc, dict) or not ("resourceLogs" in doc or "resourceSpans" in doc):
        out.bad.append(("not an OTLP export request (no resourceLogs or resourceSpans)", _text(doc) or ""))
        return out
    obs_ns = int(observed.timestamp() * 1e9)
    limit = obs_ns + max_future_ns
    for rl in doc.get("resourceLogs") or []:
        res = attributes((rl.get("resource") or {}).get("attributes"))
        svc = res.get("service.name")
        host = res.get("host.name")
        for sl in rl.get("scopeLogs") or rl.get("instrumentationLibraryLogs") or []:
            scope_name, scope_version = _scope(sl)
            for rec in sl.get("logRecords") or []:
                try:
                    ts = _nanos(rec.get("timeUnixNano")) or _nanos(rec.get("observedTimeUnixNano"))
                    if ts is None:
                        raise ValueError("no timeUnixNano nor observedTimeUnixNano")
                    if ts > limit:
                        raise ValueError("timestamp in the future")
                    attrs = attributes(rec.get("attributes"))
                    num, text = _sev(rec)
                    status = attrs.get("http.response.status_code") or attrs.get("http.status_code")
                    event = rec.get("eventName")
                    if event is not None and not isinstance(event, str):
                        raise ValueError(f"eventName {event!r} is not a string")
                    out.logs.append({
                        "Timestamp": ts // 1000,
                        "ObservedTimestamp": (_nanos(rec.get("observedTimeUnixNano")) or obs_ns) // 1000,
                        "TraceId": norm_id(rec.get("traceId"), 16),
                        "SpanId": norm_id(rec.get("spanId"), 8),
                        "SeverityNumber": num,
                        "SeverityText": text or SEVERITY_TEXT.get(num - (num - 1) % 4 if num else 0),
                        "ServiceName": svc or "unknown_service",
                        "HostName": host,
                        "Body": _text(any_value(rec.get("body"))) or "",
                        "HttpMethod": attrs.get("http.request.method") or attrs.get("http.method"),
                        "HttpRoute": attrs.get("http.route"),
                        "HttpStatus": int(status) if status and status.isdigit() else None,
                        "ResourceAttributes": res,
                        "LogAttributes": attrs,
                        "ScopeName": scope_name,
                        "ScopeVersion": scope_version,
                        "EventName": event or attrs.get("event.name") or None,
                    })
                except (ValueError, TypeError, AttributeError) as exc:
                    out.bad.append((f"OTLP log record: {exc}", _text(rec) or ""))
    for rs in doc.get("resourceSpans") or []:
        res = attributes((rs.get("resource") or {}).get("attributes"))
        svc = res.get("service.name") or "unknown_service"
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            scope_name, scope_version = _scope(ss)
            for sp in ss.get("spans") or []:
                try:
                    start = _nanos(sp.get("startTimeUnixNano"))
                    end = _nanos(sp.get("endTimeUnixNano"))
                    if start is None or end is None:
                        raise ValueError("no startTimeUnixNano or endTimeUnixNano")
                    if end < start:
                        raise ValueError("span ends before it starts")
                    if start > limit:
                        raise ValueError("timestamp in the future")
                    trace = norm_id(sp.get("traceId"), 16)
                    span = norm_id(sp.get("spanId"), 8)
                    if not trace or not span:
                        raise ValueError("span without traceId or spanId")
                    kind = sp.get("kind", 0)
                    if isinstance(kind, str):
                        kind_s = kind.removeprefix("SPAN_KIND_")
                    else:
                        kind_s = SPAN_KINDS.get(int(kind), "UNSPECIFIED")
                    st = sp.get("status") or {}
                    code = st.get("code", 0)
                    if isinstance(code, str):
                        code_s = {"STATUS_CODE_OK": "Ok", "STATUS_CODE_ERROR": "Error"}.get(code, "Unset")
                    else:
                        code_s = STATUS_CODES.get(int(code), "Unset")
                    out.spans.append({
                        "Timestamp": start // 1000,
                        "TraceId": trace,
                        "SpanId": span,
                        "ParentSpanId": norm_id(sp.get("parentSpanId"), 8),
                        "SpanName": sp.get("name") or "",
                        "SpanKind": kind_s,
                        "ServiceName": svc,
                        "Duration": end - start,
                        "StatusCode": code_s,
                        "StatusMessage": st.get("message") or None,
                        "ResourceAttributes": res,
                        "SpanAttributes": attributes(sp.get("attributes")),
                        "ScopeName": scope_name,
                        "ScopeVersion": scope_version,
                    })
                except (ValueError, TypeError, AttributeError) as exc:
                    out.bad.append((f"OTLP span: {exc}", _text(sp) or ""))
    return out


def documents(data: bytes) -> Iterator[tuple[int, Any, str | None]]:
    """``(line, document, error)`` for a whole-file request or one request per line."""
    text = data.decode("utf-8", errors="replace")
    try:
        yield 1, json.loads(text), None
        return
    except ValueError:
        pass
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield i, json.loads(line), None
        except ValueError as exc:
            yield i, None, f"invalid JSON: {exc}"


def _map(rows: list[dict[str, Any]], col: str) -> pa.Array:
    return pa.array([list(r[col].items()) if r.get(col) else None for r in rows],
                    pa.map_(pa.string(), pa.string()))


def lake_table(rows: list[dict[str, Any]], table: str) -> pa.Table:
    """Rows (Timestamp in µs) as an Arrow table of the lake ``table`` schema; map columns from dicts."""
    schema = SCHEMAS[table]
    cols = {}
    for f in schema:
        if pa.types.is_map(f.type):
            cols[f.name] = _map(rows, f.name)
        else:
            cols[f.name] = pa.array([r.get(f.name) for r in rows],
                                    pa.int64() if pa.types.is_timestamp(f.type) else f.type)
    return pa.table(cols).cast(schema)


def logs_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Log rows as an Arrow table of the lake ``logs`` schema."""
    return lake_table(rows, "logs")


def spans_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Span rows as an Arrow table of the lake ``spans`` schema."""
    return lake_table(rows, "spans")


def now_utc() -> datetime:
    """The ingest time."""
    return datetime.now(UTC)
