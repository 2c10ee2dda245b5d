"""Strict parsing of alert payloads into one normalized form.

Three sources: the Alertmanager webhook (version "4"), PagerDuty-Events-v2-style
events (trigger / acknowledge / resolve with ``dedup_key``) and SLO burn-rate
alerts. Every problem in a payload is collected with the path of the field
(``alerts[2].labels.instance``) and raised together as one
:class:`~opsnb.errors.ValidationError`, before anything is written.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from opsnb import bounded
from opsnb.alerts.matchers import LABEL_NAME
from opsnb.errors import ParseError, ValidationError

MAX_ALERTS = 10_000  # per payload
MAX_LABELS = 64
MAX_LABEL_VALUE = 4096
MAX_TEXT = 65_536  # annotation values, summaries
MAX_KEY = 255  # fingerprint / dedup_key
MAX_DEPTH = 16  # nesting of custom_details
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
EVENT_SEVERITIES = ("critical", "error", "warning", "info")
ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(
    # RFC 3339, and ISO 8601's basic offset (+0000), which PagerDuty's own Events v2 example uses
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})$"
)
_HEX = re.compile(r"^[0-9a-fA-F]{1,64}$")


@dataclass
class NormalizedAlert:
    """One alert as every source reduces to it.

    Attributes:
        fingerprint: Dedup identity (Alertmanager fingerprint, ``dedup_key``, or FNV-64a of the labels).
        status: ``firing``, ``acknowledged`` or ``resolved``.
        starts_at: When it started (None: use the time received).
        ends_at: When it ended, if resolved (or Alertmanager's planned end).
        raw: This alert's part of the payload, kept as ``last_payload``.
    """

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    source: str
    generator_url: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-64a over sorted name/value pairs, 16 hex digits."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for b in part.encode("utf-8") + b"\xff":
                h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def parse_time(value: Any, where: str, problems: list[str], *, allow_zero: bool = False) -> datetime | None:
    """An RFC 3339 timestamp (nanoseconds truncated to microseconds) as aware UTC."""
    if not isinstance(value, str):
        problems.append(f"{where}: must be an RFC 3339 time string, got {_kind(value)}")
        return None
    m = _RFC3339.match(value)
    if not m:
        problems.append(f"{where}: {value[:60]!r} is not an RFC 3339 time (like 2025-03-01T12:00:00Z)")
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if y == "0001" and allow_zero:
        return None  # Alertmanager's "no end yet"
    try:
        if tz in ("Z", "z"):
            tzinfo: timezone = UTC
        else:
            sign = 1 if tz[0] == "+" else -1
            tzinfo = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[-2:])))
        micro = int((frac or "0")[:6].ljust(6, "0"))
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        problems.append(f"{where}: {value[:60]!r} is not a valid time ({exc})")
        return None


def _kind(v: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def _text_ok(value: str, where: str, problems: list[str], limit: int) -> bool:
    if len(value) > limit:
        problems.append(f"{where}: {len(value)} characters, more than the {limit} allowed")
        return False
    if "\x00" in value:
        problems.append(f"{where}: contains a NUL character")
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        problems.append(f"{where}: is not valid Unicode (lone surrogate)")
        return False
    return True


def check_labels(value: Any, where: str, problems: list[str], *, required: bool = True) -> dict[str, str]:
    """A label set: an object of valid label names to string values."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: must be an object of label name to string, got {_kind(value)}")
        return {}
    if len(value) > MAX_LABELS:
        problems.append(f"{where}: {len(value)} labels, more than the {MAX_LABELS} allowed")
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if not LABEL_NAME.match(k) or len(k) > 200:
            problems.append(f"{where}: {k[:60]!r} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        elif not isinstance(v, str):
            problems.append(f"{where}.{k}: must be a string, got {_kind(v)}")
        elif _text_ok(v, f"{where}.{k}", problems, MAX_LABEL_VALUE):
            out[k] = v
    return out


def check_annotations(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: must be an object of name to string, got {_kind(value)}")
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if not _text_ok(k, f"{where} key", problems, 200):
            continue
        if not isinstance(v, str):
            problems.append(f"{where}.{k}: must be a string, got {_kind(v)}")
        elif _text_ok(v, f"{where}.{k}", problems, MAX_TEXT):
            out[k] = v
    return out


def _check_json(value: Any, where: str, problems: list[str], depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        problems.append(f"{where}: nested deeper than {MAX_DEPTH} levels")
    elif isinstance(value, dict):
        for k, v in value.items():
            if _text_ok(k, f"{where} key", problems, 200):
                _check_json(v, f"{where}.{k}", problems, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]", problems, depth + 1)
    elif isinstance(value, str):
        _text_ok(value, where, problems, MAX_TEXT)
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{where}: not a finite number")


def _str(obj: Mapping[str, Any], key: str, where: str, problems: list[str], *, required: bool,
         limit: int = MAX_TEXT, choices: tuple[str, ...] = ()) -> str:
    if key not in obj or obj[key] is None:
        if required:
            problems.append(f"{where}{key}: missing")
        return ""
    v = obj[key]
    if not isinstance(v, str):
        problems.append(f"{where}{key}: must be a string, got {_kind(v)}")
        return ""
    if choices and v not in choices:
        problems.append(f"{where}{key}: {v[:60]!r} is not one of {', '.join(choices)}")
        return ""
    return v if _text_ok(v, f"{where}{key}", problems, limit) else ""


def load_json(payload: Any, source: str) -> tuple[Any, str]:
    """Parse ``payload`` (bytes, text or an already-parsed object) into (object, raw text)."""
    if isinstance(payload, bytes | bytearray | memoryview):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{source} payload is not UTF-8: {exc}", source=source) from None
    if isinstance(payload, str):
        return bounded.load_json(payload, source=f"{source} payload", max_bytes=len(payload)), payload
    try:
        return payload, json.dumps(payload, ensure_ascii=False, default=_iso)
    except (TypeError, ValueError) as exc:
        raise ParseError(f"{source} payload cannot be serialized as JSON: {exc}", source=source) from None


def _iso(v: Any) -> str:
    if isinstance(v, datetime):
        return v.isoformat()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def _fail(source: str, problems: list[str]) -> ValidationError:
    shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
    return ValidationError(f"bad {source} payload:", problems=shown, source=source)


def parse_alertmanager(body: Any) -> list[NormalizedAlert]:
    """Validate an Alertmanager webhook body (version "4") and normalize its alerts.

    Raises:
        ValidationError: Listing every problem with its field path.
    """
    problems: list[str] = []
    if not isinstance(body, dict):
        raise _fail("alertmanager", [f"body: must be a JSON object, got {_kind(body)}"])
    version = body.get("version")
    if version != "4":
        problems.append(f"version: must be \"4\" (the Alertmanager webhook format), got {version!r}"[:200])
    _str(body, "status", "", problems, required=True, choices=("firing", "resolved"))
    _str(body, "receiver", "", problems, required=True, limit=1000)
    _str(body, "groupKey", "", problems, required=True, limit=MAX_TEXT)
    _str(body, "externalURL", "", problems, required=False, limit=4096)
    tr = body.get("truncatedAlerts", 0)
    if not isinstance(tr, int) or isinstance(tr, bool) or tr < 0:
        problems.append(f"truncatedAlerts: must be a non-negative integer, got {tr!r}"[:200])
    for key in ("groupLabels", "commonLabels"):
        check_labels(body.get(key), key, problems, required=False)
    check_annotations(body.get("commonAnnotations"), "commonAnnotations", problems)
    alerts = body.get("alerts")
    out: list[NormalizedAlert] = []
    if not isinstance(alerts, list):
        problems.append(f"alerts: must be an array, got {_kind(alerts)}")
    elif not alerts:
        problems.append("alerts: is empty")
    elif len(alerts) > MAX_ALERTS:
        problems.append(f"alerts: {len(alerts)} alerts, more than the {MAX_ALERTS} allowed")
    else:
        for i, a in enumerate(alerts):
            w = f"alerts[{i}]."
            if not isinstance(a, dict):
                problems.append(f"alerts[{i}]: must be an object, got {_kind(a)}")
                continue
            n = len(problems)
            status = _str(a, "status", w, problems, required=True, choices=("firing", "resolved"))
            labels = check_labels(a.get("labels"), w + "labels", problems)
            if not labels and "labels" in a and isinstance(a.get("labels"), dict) and not a["labels"]:
                problems.append(w + "labels: is empty")
            annotations = check_annotations(a.get("annotations"), w + "annotations", problems)
            starts = parse_time(a.get("startsAt"), w + "startsAt", problems) if "startsAt" in a else None
            if "startsAt" not in a:
                problems.append(w + "startsAt: missing")
            ends = parse_time(a["endsAt"], w + "endsAt", problems, allow_zero=True) if a.get("endsAt") else None
            gen = _str(a, "generatorURL", w, problems, required=False, limit=4096)
            fp = _str(a, "fingerprint", w, problems, required=False, limit=64)
            if fp and not _HEX.match(fp):
                problems.append(f"{w}fingerprint: {fp[:60]!r} is not hexadecimal")
            if len(problems) == n:
                out.append(NormalizedAlert(
                    fingerprint=fp.lower() or fingerprint(labels), status=status, labels=labels,
                    annotations=annotations, starts_at=starts, ends_at=ends, source="alertmanager",
                    generator_url=gen, raw=a))
    if problems:
        raise _fail("alertmanager", problems)
    return out


def parse_event(event: Any, where: str = "") -> NormalizedAlert:
    """Validate one Events-v2-style event and normalize it.

    Labels: ``alertname`` (``class``, else ``event``), ``severity``, ``source`` and, when given,
    ``component``, ``group``, ``class`` and ``service`` (``component``, else ``group``).
    The ``routing_key`` is required but never kept in labels.
    """
    problems: list[str] = []
    if not isinstance(event, dict):
        raise _fail("events", [f"{where or 'body'}: must be a JSON object, got {_kind(event)}"])
    w = where + "." if where else ""
    _str(event, "routing_key", w, problems, required=True, limit=200)
    if isinstance(event.get("routing_key"), str) and not event["routing_key"].strip():
        problems.append(f"{w}routing_key: is empty")
    action = _str(event, "event_action", w, problems, required=True, choices=EVENT_ACTIONS)
    dedup = _str(event, "dedup_key", w, problems, required=action in ("acknowledge", "resolve"), limit=MAX_KEY)
    if "dedup_key" in event and isinstance(event.get("dedup_key"), str) and not dedup.strip() and \
            len(event["dedup_key"]) <= MAX_KEY:
        problems.append(f"{w}dedup_key: is empty")
    labels: dict[str, str] = {}
    annotations: dict[str, Any] = {}
    starts: datetime | None = None
    payload = event.get("payload")
    if action == "trigger" or payload is not None:
        pw = w + "payload."
        if not isinstance(payload, dict):
            problems.append(f"{w}payload: must be an object, got {_kind(payload)}")
        else:
            summary = _str(payload, "summary", pw, problems, required=action == "trigger", limit=1024)
            src = _str(payload, "source", pw, problems, required=action == "trigger", limit=MAX_LABEL_VALUE)
            sev = _str(payload, "severity", pw, problems, required=action == "trigger", choices=EVENT_SEVERITIES)
            if "timestamp" in payload and payload["timestamp"] is not None:
                starts = parse_time(payload["timestamp"], pw + "timestamp", problems)
            extra = {k: _str(payload, k, pw, problems, required=False, limit=MAX_LABEL_VALUE)
                     for k in ("component", "group", "class")}
            labels = {"alertname": extra["class"] or "event", "severity": sev, "source": src}
            labels.update({k: v for k, v in extra.items() if v})
            service = extra["component"] or extra["group"]
            if service:
                labels["service"] = service
            labels = {k: v for k, v in labels.items() if v}
            annotations = {"summary": summary} if summary else {}
            if "custom_details" in payload and payload["custom_details"] is not None:
                if not isinstance(payload["custom_details"], dict):  # the schema: an object
                    problems.append(f"{pw}custom_details: must be an object, got {_kind(payload['custom_details'])}")
                else:
                    _check_json(payload["custom_details"], pw + "custom_details", problems)
                    annotations["custom_details"] = payload["custom_details"]
    for key in ("client", "client_url"):
        _str(event, key, w, problems, required=False, limit=4096)
    # the schema's context arrays: images need src (href, alt optional), links need href (text optional)
    for key, required, optional in (("images", "src", ("href", "alt")), ("links", "href", ("text",))):
        items = event.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(f"{w}{key}: must be an array, got {_kind(items)}")
            continue
        for i, item in enumerate(items[:100]):
            iw = f"{w}{key}[{i}]."
            if not isinstance(item, dict):
                problems.append(f"{w}{key}[{i}]: must be an object, got {_kind(item)}")
                continue
            _str(item, required, iw, problems, required=True, limit=4096)
            for k in optional:
                _str(item, k, iw, problems, required=False, limit=4096)
        if len(items) > 100:
            problems.append(f"{w}{key}: {len(items)} items, more than the 100 allowed")
    if problems:
        raise _fail("events", problems)
    status = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}[action]
    raw = {k: v for k, v in event.items() if k != "routing_key"}  # an integration key is a credential
    return NormalizedAlert(
        fingerprint=dedup or uuid.uuid4().hex, status=status, labels=labels, annotations=annotations,
        starts_at=starts, ends_at=None, source="events", raw=raw)


def parse_events(body: Any) -> list[NormalizedAlert]:
    """One event or an array of events; any bad event refuses the whole batch (no partial write)."""
    if isinstance(body, list):
        if not body:
            raise _fail("events", ["body: the array of events is empty"])
        if len(body) > MAX_ALERTS:
            raise _fail("events", [f"body: {len(body)} events, more than the {MAX_ALERTS} allowed"])
        out, problems = [], []
        for i, e in enumerate(body):
            try:
                out.append(parse_event(e, f"[{i}]"))
            except ValidationError as exc:
                problems.extend(exc.problems)
        if problems:
            raise _fail("events", problems)
        return out
    return [parse_event(body)]


_SLO_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")
_WINDOW = re.compile(r"^\d+[smhdw](/\d+[smhdw])?$")


def parse_slo(*, slo: Any, tier: Any, burn_rate: Any, window: Any, firing: Any,
              service: Any = None) -> NormalizedAlert:
    """Validate an SLO burn-rate alert (from the SLO domain's alert policies) and normalize it."""
    problems: list[str] = []
    if not isinstance(slo, str) or not _SLO_NAME.match(slo):
        problems.append(f"slo: {str(slo)[:60]!r} is not an SLO name ([A-Za-z0-9_.:/-], 1-200 characters)")
    if not isinstance(tier, str) or not LABEL_NAME.match(tier) or len(tier) > 50:
        problems.append(f"tier: {str(tier)[:60]!r} must be a short name such as page or ticket")
    if isinstance(burn_rate, bool) or not isinstance(burn_rate, int | float) or not math.isfinite(burn_rate) \
            or burn_rate < 0:
        problems.append(f"burn_rate: must be a finite number >= 0, got {str(burn_rate)[:60]!r}")
    if not isinstance(window, str) or not _WINDOW.match(window):
        problems.append(f"window: {str(window)[:60]!r} must look like 1h or 1h/5m")
    if not isinstance(firing, bool):
        problems.append(f"firing: must be true or false, got {str(firing)[:60]!r}")
    if service is not None and (not isinstance(service, str) or not service or len(service) > 200
                                or "\x00" in service):
        problems.append("service: must be a non-empty string of at most 200 characters")
    if problems:
        raise _fail("slo", problems)
    labels = {"alertname": "SLOBurnRate", "slo": slo, "tier": tier, "window": window,
              "severity": "critical" if tier == "page" else "warning"}
    if service:
        labels["service"] = service
    raw = {"slo": slo, "tier": tier, "burn_rate": float(burn_rate), "window": window, "firing": firing,
           "service": service}
    return NormalizedAlert(
        fingerprint=fingerprint(labels), status="firing" if firing else "resolved", labels=labels,
        annotations={"summary": f"SLO {slo} burning at {float(burn_rate):g}x over {window} ({tier})",
                     "burn_rate": f"{float(burn_rate):g}"},
        starts_at=None, ends_at=None, source="slo", raw=raw)
