"""Pure on-call arithmetic: wall-clock handoffs, layers, overrides, who is on call.

A rotation hands off on local wall-clock time: the k-th handoff is the first
handoff's local time plus k periods (calendar days), then placed in the zone
with ``fold=0``. That one rule gives the reference's behaviour at DST changes:
a week across spring-forward is 167 hours, across fall-back 169; a local time
inside the gap takes the offset from before the gap (02:30 EST in New York on
2025-03-09 is 07:30Z); a repeated local time takes its first occurrence.

Nothing here touches the database: :class:`ScheduleSpec` is a value, and
:func:`evaluate` answers "who is on call" for a whole array of instants at once
(a year of 15-minute instants in milliseconds), which is what ``final_shifts``,
the iCalendar export and the benchmark build on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from opsnb.errors import ValidationError

NS = 1_000_000_000
PERIODS = {"daily": 1, "weekly": 7}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_MEMBERS = 500
MAX_LAYERS = 20


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a ValidationError names it when it is unknown."""
    if not isinstance(name, str) or not name or len(name) > 64 or ".." in name or name.startswith("/"):
        raise ValidationError(f"time zone {name!r} is not an IANA zone name", field="timezone", value=str(name)[:64])
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r} (use an IANA name such as America/New_York)",
                              field="timezone", value=name) from None


def place(local: datetime, tz: ZoneInfo) -> datetime:
    """Place a naive local wall-clock time in ``tz`` (fold=0) and return it in UTC.

    A time in a spring-forward gap keeps the offset from before the gap; a
    repeated fall-back time takes its first occurrence.
    """
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def to_utc(value: Any, *, what: str = "time") -> datetime:
    """An aware UTC datetime from any instant of the time grammar (ISO 8601, naive means UTC; ``now``, ``-1h``)."""
    from opsnb.timeparse import parse_instant

    return parse_instant(value, name=what)


def parse_local(value: Any, *, what: str = "first_handoff") -> datetime:
    """A naive local wall-clock datetime from ``datetime`` or ``YYYY-MM-DDTHH:MM`` text."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValidationError(f"{what} must be a local wall-clock time without offset, got {value.isoformat()}",
                                  field=what)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            out = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(f"{what} {value!r} is not a local time like 2025-03-03T09:00",
                                  field=what, value=value[:64]) from None
        if out.tzinfo is not None:
            raise ValidationError(f"{what} {value!r} must not carry an offset: handoffs are local wall-clock times "
                                  "in the schedule's zone", field=what, value=value[:64])
        return out
    raise ValidationError(f"{what} must be a local datetime or text, got {type(value).__name__}", field=what)


def parse_clock(value: Any, *, what: str = "time") -> time:
    """``HH:MM`` text or a :class:`datetime.time`."""
    if isinstance(value, time):
        return value
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", str(value))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise ValidationError(f"{what} {value!r} is not a clock time like 09:00", field=what, value=str(value)[:32])
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def first_weekday_handoff(spec: str, on_or_after: date) -> datetime:
    """Local datetime of ``"monday 09:00"`` on or after a date (for the demo's shorthand)."""
    parts = str(spec).strip().lower().split()
    if len(parts) != 2 or parts[0] not in WEEKDAYS:
        raise ValidationError(f"handoff {spec!r} is not like 'monday 09:00'", field="handoff", value=str(spec)[:32])
    clock = parse_clock(parts[1], what="handoff")
    days = (WEEKDAYS.index(parts[0]) - on_or_after.weekday()) % 7
    return datetime.combine(on_or_after + timedelta(days=days), clock)


@dataclass(frozen=True)
class Layer:
    """One rotation layer.

    Attributes:
        name: Shown in shifts as the source.
        members: People in rotation order.
        first_handoff: Naive local wall-clock time of handoff 0 (members[0] starts).
        period_days: Calendar days per shift (1 daily, 7 weekly, anything for custom).
        start: Optional UTC instant before which the layer is empty.
        end: Optional UTC instant from which the layer is empty.
        window: Optional local (from, to) clock times; outside it the layer is empty
            (``to`` before ``from`` wraps past midnight). The queue still advances.
    """

    name: str
    members: tuple[str, ...]
    first_handoff: datetime
    period_days: int
    start: datetime | None = None
    end: datetime | None = None
    window: tuple[time, time] | None = None


@dataclass(frozen=True)
class Override:
    """Someone covers [start, end); a later override beats an earlier one. The queue does not move."""

    person: str
    start: datetime
    end: datetime
    id: int = 0


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule as a value: zone, layers (lowest priority first) and overrides."""

    name: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = field(default=())

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)


def period_of(rotation: str, every: Any = 1) -> int:
    """Days per shift for ``daily`` / ``weekly`` / ``custom`` with ``every`` (int, ``3d`` or ``2w``)."""
    if rotation in PERIODS:
        n = _positive_int(every, "every")
        return PERIODS[rotation] * n
    if rotation == "custom":
        if isinstance(every, int) and not isinstance(every, bool):
            return _positive_int(every, "every")
        m = re.fullmatch(r"\s*(\d{1,4})\s*([dw])\s*", str(every).lower())
        if not m:
            raise ValidationError(f"custom rotation period {every!r} is not like '3d' or '2w'", field="every",
                                  value=str(every)[:32])
        return _positive_int(int(m.group(1)) * (7 if m.group(2) == "w" else 1), "every")
    raise ValidationError(f"rotation {rotation!r} is not daily, weekly or custom", field="rotation",
                          value=str(rotation)[:32])


def _positive_int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise ValidationError(f"{what} must be a whole number of periods, got {v!r}", field=what)
    try:
        n = int(v)
    except ValueError:
        raise ValidationError(f"{what} must be a whole number, got {v!r}", field=what) from None
    if not 1 <= n <= 3660:
        raise ValidationError(f"{what} must be between 1 and 3660, got {n}", field=what)
    return n


def validate_layer(layer: Layer) -> list[str]:
    """Every problem of a layer, as text."""
    problems = []
    if not layer.members:
        problems.append(f"layer {layer.name!r}: members is empty")
    if len(layer.members) > MAX_MEMBERS:
        problems.append(f"layer {layer.name!r}: more than {MAX_MEMBERS} members")
    for m in layer.members:
        if not isinstance(m, str) or not m.strip() or len(m) > 200 or any(c in m for c in "\r\n\x00"):
            problems.append(f"layer {layer.name!r}: member {m!r} is not a user name")
    if not 1 <= layer.period_days <= 3660:
        problems.append(f"layer {layer.name!r}: period must be 1..3660 days")
    if not 1900 <= layer.first_handoff.year <= 2200:
        problems.append(f"layer {layer.name!r}: first handoff {layer.first_handoff} is out of range")
    if layer.start and layer.end and layer.end <= layer.start:
        problems.append(f"layer {layer.name!r}: end is not after start")
    if layer.window and layer.window[0] == layer.window[1]:
        problems.append(f"layer {layer.name!r}: window from and to are equal")
    return problems


# --- handoffs ---------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def _handoffs_ns(first: datetime, period_days: int, tz_name: str, k_lo: int, k_hi: int) -> np.ndarray:
    tz = zone(tz_name)
    step = timedelta(days=period_days)
    out = np.empty(k_hi - k_lo + 1, dtype=np.int64)
    for i, k in enumerate(range(k_lo, k_hi + 1)):
        out[i] = _ns(place(first + k * step, tz))
    out.setflags(write=False)
    return out


def _ns(dt: datetime) -> int:
    return int(pd.Timestamp(dt).value)


def handoff(layer: Layer, tz_name: str, k: int) -> datetime:
    """The k-th handoff of a layer, UTC."""
    return place(layer.first_handoff + k * timedelta(days=layer.period_days), zone(tz_name))


def handoffs(layer: Layer, tz_name: str, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
    """(k, instant) of every handoff in [start, end)."""
    s, e = _ns(to_utc(start)), _ns(to_utc(end))
    k_lo, k_hi = _k_range(layer, tz_name, s, e)
    hs = _handoffs_ns(layer.first_handoff, layer.period_days, tz_name, k_lo, k_hi)
    return [(k_lo + i, pd.Timestamp(v, tz=UTC).to_pydatetime()) for i, v in enumerate(hs) if s <= v < e]


def _k_range(layer: Layer, tz_name: str, t_min: int, t_max: int) -> tuple[int, int]:
    h0 = _ns(handoff(layer, tz_name, 0))
    per = layer.period_days * 86400 * NS
    # Offsets change by at most a day, so two periods of slack on each side are plenty.
    k_lo = max(0, (t_min - h0) // per - 2)
    k_hi = max(k_lo, (t_max - h0) // per + 2)
    return int(k_lo), int(k_hi)


# --- evaluation -------------------------------------------------------------------------------

def as_instants(at: Any) -> np.ndarray:
    """int64 UTC nanoseconds from a datetime, string, sequence, Series or DatetimeIndex."""
    if isinstance(at, datetime | str | pd.Timestamp | date):
        return np.array([_ns(to_utc(at))], dtype=np.int64)
    idx = pd.DatetimeIndex(at) if not isinstance(at, pd.DatetimeIndex) else at
    idx = idx.tz_localize(UTC) if idx.tz is None else idx.tz_convert(UTC)
    if idx.hasnans:
        raise ValidationError("instants contain NaT", field="at")
    return idx.as_unit("ns").asi8.astype(np.int64, copy=False)


def _layer_codes(layer: Layer, tz_name: str, t: np.ndarray, person_code: dict[str, int]) -> np.ndarray:
    out = np.full(t.shape, -1, dtype=np.int64)
    if t.size == 0:
        return out
    k_lo, k_hi = _k_range(layer, tz_name, int(t.min()), int(t.max()))
    hs = _handoffs_ns(layer.first_handoff, layer.period_days, tz_name, k_lo, k_hi)
    idx = np.searchsorted(hs, t, side="right") - 1          # last handoff at or before t
    k = idx + k_lo
    active = idx >= 0  # before handoff 0 the layer is empty
    codes = np.array([person_code[m] for m in layer.members], dtype=np.int64)
    out[active] = codes[k[active] % len(codes)]
    if layer.start is not None:
        out[t < _ns(layer.start)] = -1
    if layer.end is not None:
        out[t >= _ns(layer.end)] = -1
    if layer.window is not None:
        local = pd.DatetimeIndex(t.view("datetime64[ns]")).tz_localize(UTC).tz_convert(zone(tz_name))
        secs = np.asarray(local.hour * 3600 + local.minute * 60 + local.second)
        a = layer.window[0].hour * 3600 + layer.window[0].minute * 60 + layer.window[0].second
        b = layer.window[1].hour * 3600 + layer.window[1].minute * 60 + layer.window[1].second
        inside = (secs >= a) & (secs < b) if a < b else (secs >= a) | (secs < b)
        out[~inside] = -1
    return out


def evaluate(spec: ScheduleSpec, at: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Who is on call at each instant.

    Args:
        spec: The schedule.
        at: Instants (anything :func:`as_instants` takes).

    Returns:
        ``(codes, source, names)``: per instant the index into ``names`` (-1 = nobody)
        and the source (index of the layer, ``len(layers)`` for an override, -1 nobody).
    """
    t = as_instants(at)
    names: list[str] = []
    code: dict[str, int] = {}
    for p in [m for layer in spec.layers for m in layer.members] + [o.person for o in spec.overrides]:
        if p not in code:
            code[p] = len(names)
            names.append(p)
    who = np.full(t.shape, -1, dtype=np.int64)
    src = np.full(t.shape, -1, dtype=np.int64)
    for i, layer in enumerate(spec.layers):  # lowest first: a higher non-empty slot wins
        c = _layer_codes(layer, spec.timezone, t, code)
        hit = c >= 0
        who[hit] = c[hit]
        src[hit] = i
    for o in sorted(spec.overrides, key=lambda o: o.id):  # later overrides win
        hit = (t >= _ns(o.start)) & (t < _ns(o.end))
        who[hit] = code[o.person]
        src[hit] = len(spec.layers)
    return who, src, names


def who(spec: ScheduleSpec, at: Any) -> str | None | pd.Series:
    """Who is on call: a name (or None) for one instant, a Series for many."""
    codes, _, names = evaluate(spec, at)
    lookup = np.array(names + [None], dtype=object)
    if isinstance(at, datetime | str | pd.Timestamp | date):
        return lookup[codes[0]]
    idx = pd.DatetimeIndex(as_instants(at).view("datetime64[ns]")).tz_localize(UTC)
    return pd.Series(lookup[codes], index=idx, name=spec.name, dtype=object)


def boundaries(spec: ScheduleSpec, start: datetime, end: datetime) -> np.ndarray:
    """Every instant in [start, end) where the answer may change, sorted, with start first."""
    s, e = to_utc(start), to_utc(end)
    pts: set[int] = {_ns(s)}
    tz = spec.tz
    for layer in spec.layers:
        pts.update(_ns(h) for _, h in handoffs(layer, spec.timezone, s, e))
        for edge in (layer.start, layer.end):
            if edge is not None:
                pts.add(_ns(edge))
        if layer.window is not None:
            day = s.astimezone(tz).date() - timedelta(days=1)
            while day <= e.astimezone(tz).date():
                for clock in layer.window:
                    pts.add(_ns(place(datetime.combine(day, clock), tz)))
                day += timedelta(days=1)
    for o in spec.overrides:
        pts.update((_ns(o.start), _ns(o.end)))
    lo, hi = _ns(s), _ns(e)
    return np.array(sorted(p for p in pts if lo <= p < hi), dtype=np.int64)


SHIFT_COLUMNS = ["start", "end", "person", "source", "hours"]


def shifts(spec: ScheduleSpec, start: Any, end: Any) -> pd.DataFrame:
    """Final shifts in [start, end): one row per (start, end, person, source), gaps left out.

    ``source`` is the layer's name or ``override``; consecutive slots with the
    same person and source are merged.
    """
    s, e = to_utc(start, what="start"), to_utc(end, what="end")
    if e <= s:
        raise ValidationError(f"end {e.isoformat()} is not after start {s.isoformat()}", field="end")
    pts = boundaries(spec, s, e)
    codes, src, names = evaluate(spec, pts.view("datetime64[ns]"))
    ends = np.append(pts[1:], _ns(e))
    labels = [layer.name for layer in spec.layers] + ["override"]
    rows: list[list[Any]] = []
    for a, b, c, so in zip(pts, ends, codes, src, strict=True):
        if c < 0:
            continue
        if rows and rows[-1][1] == a and rows[-1][2] == names[c] and rows[-1][3] == labels[so]:
            rows[-1][1] = b
        else:
            rows.append([a, b, names[c], labels[so]])
    df = pd.DataFrame(rows, columns=["start", "end", "person", "source"])
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col].astype("int64"), utc=True) if len(df) else pd.Series(
            [], dtype="datetime64[ns, UTC]")
    df["hours"] = (df["end"] - df["start"]).dt.total_seconds() / 3600 if len(df) else pd.Series([], dtype=float)
    return df[SHIFT_COLUMNS]


def layer_from_dict(d: dict[str, Any], *, default_name: str = "layer") -> Layer:
    """A :class:`Layer` from its YAML/JSON form; every problem is reported at once."""
    if not isinstance(d, dict):
        raise ValidationError(f"a layer must be a mapping, got {type(d).__name__}", field="layers")
    known = {"name", "members", "rotation", "every", "first_handoff", "handoff", "start", "end", "window",
             "period_days"}
    problems = [f"unknown layer field {k!r}" for k in d if k not in known]
    name = str(d.get("name") or default_name)[:100]
    members = d.get("members")
    if not isinstance(members, Sequence) or isinstance(members, str):
        problems.append(f"layer {name!r}: members must be a list of user names")
        members = []
    try:
        period = int(d["period_days"]) if "period_days" in d else period_of(str(d.get("rotation", "weekly")),
                                                                              d.get("every", 1))
    except (ValidationError, ValueError, TypeError) as exc:
        problems.append(f"layer {name!r}: {exc}")
        period = 7
    first: datetime | None = None
    try:
        if "first_handoff" in d:
            first = parse_local(d["first_handoff"])
        else:
            problems.append(f"layer {name!r}: first_handoff is required (local time like 2025-03-03T09:00)")
    except ValidationError as exc:
        problems.append(f"layer {name!r}: {exc}")
    window = None
    try:
        if d.get("window"):
            w = d["window"]
            if isinstance(w, str):
                w = w.split("-")
            if not isinstance(w, Sequence) or len(w) != 2:
                raise ValidationError("window must be [from, to] like ['09:00', '17:00']")
            window = (parse_clock(w[0], what="window"), parse_clock(w[1], what="window"))
        start = to_utc(d["start"], what="start") if d.get("start") else None
        end = to_utc(d["end"], what="end") if d.get("end") else None
    except ValidationError as exc:
        problems.append(f"layer {name!r}: {exc}")
        start = end = None
    if problems:
        raise ValidationError("invalid layer:", problems)
    assert first is not None
    layer = Layer(name=name, members=tuple(members), first_handoff=first, period_days=period,
                  start=start, end=end, window=window)
    problems = validate_layer(layer)
    if problems:
        raise ValidationError("invalid layer:", problems)
    return layer


def layer_to_dict(layer: Layer) -> dict[str, Any]:
    """The JSON form stored in the database (inverse of :func:`layer_from_dict`)."""
    out: dict[str, Any] = {"name": layer.name, "members": list(layer.members),
                           "first_handoff": layer.first_handoff.isoformat(), "period_days": layer.period_days}
    if layer.start:
        out["start"] = layer.start.isoformat()
    if layer.end:
        out["end"] = layer.end.isoformat()
    if layer.window:
        out["window"] = [layer.window[0].strftime("%H:%M:%S"), layer.window[1].strftime("%H:%M:%S")]
    return out


def members_of(layers: Iterable[Layer]) -> list[str]:
    """Everyone in any layer, first appearance order."""
    seen: dict[str, None] = {}
    for layer in layers:
        for m in layer.members:
            seen.setdefault(m, None)
    return list(seen)
