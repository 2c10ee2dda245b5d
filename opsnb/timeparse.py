"""The one time grammar: durations, instants and ranges, for every argument, flag and API parameter.

Durations are a number and a unit, optionally repeated: ``500ms``, ``30s``, ``5m``,
``1h30m``, ``1.5h``, ``2d``, ``1w`` (units ``us ms s m h d w``; spaces between parts
are allowed, so ``1d 17h`` as printed reads back). A bare number such as ``90`` is
an error: 90 seconds and 90 minutes have both been meant by it.

Instants are ISO 8601 (a time without zone means UTC), ``now``, ``today``,
``yesterday`` (midnight UTC), any of those followed by ``+`` or ``-`` a duration
(``now-90m``, ``today+9h``), or a relative ``-1h`` (an hour ago) / ``+1h``. At the
start of a range only (``since``, ``start``), a bare duration ``1h`` also means
"an hour ago", because that is what ``--since 1h`` says to a person.

Stdlib only: ``import opsnb`` stays cheap.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from opsnb.errors import ValidationError

InstantLike = datetime | date | str
"""What a time argument takes: a datetime (naive means UTC), a date, or text in the grammar."""
DurationLike = timedelta | str
"""What a duration argument takes: a timedelta, or text such as ``"1h30m"``."""

DURATION_FORMS = "500ms, 30s, 5m, 1h30m, 2d, 1w"
INSTANT_FORMS = "2026-03-01T10:00:00Z (no zone means UTC), now, today, yesterday, -1h, now-30m"
SINCE_FORMS = INSTANT_FORMS + ", or a duration ago such as 1h"

# Microseconds per unit; integer arithmetic so a parsed duration is exact.
_UNIT_US = {"us": 1, "µs": 1, "ms": 1_000, "s": 1_000_000, "sec": 1_000_000, "m": 60_000_000,
            "min": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000, "w": 604_800_000_000}
_PART = re.compile(r"\s*(\d{1,15})(?:\.(\d{1,9}))?\s*(us|µs|ms|sec|min|s|m|h|d|w)(?![a-z])")
_NUMBER = re.compile(r"^\s*[+-]?\s*(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_ANCHOR = re.compile(r"^(now|today|yesterday)?\s*(?:([+-])\s*(.+))?$")
_MAX_US = (timedelta.max.days * 86400 + 86399) * 1_000_000
_MAX_TEXT = 100  # longer input is not a time anyone types; refuse before parsing


def _fail(name: str, value: Any, why: str, forms: str) -> ValidationError:
    shown = str(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ValidationError(f"{name}: {shown!r} {why}; write one of: {forms}", field=name, value=shown)


# ------------------------------------------------------------------------------------ durations
def parse_duration(value: Any, *, name: str = "duration", allow_zero: bool = False,
                   maximum: timedelta | None = None) -> timedelta:
    """A duration from text (``30s``, ``5m``, ``1h30m``, ``2d``, ``1w``, ``500ms``) or a timedelta.

    Args:
        value: Text in the duration grammar, a ``datetime.timedelta`` or a pandas Timedelta.
        name: The argument's name, used in the error message.
        allow_zero: Accept a zero duration (``0s``); by default a duration is positive.
        maximum: The largest duration accepted, if any.

    Returns:
        The duration as a timedelta.

    Raises:
        ValidationError: A bare number, an unknown unit, a negative (or zero) or too large
            duration; the message names the argument, the value and the accepted forms.
    """
    if isinstance(value, bool) or value is None:
        raise _fail(name, value, "is not a duration", DURATION_FORMS)
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise _fail(name, value, "is a bare number; say the unit (90s or 90m?)", DURATION_FORMS)
    if hasattr(value, "to_pytimedelta") and not isinstance(value, timedelta):
        if type(value).__name__ == "NaTType":
            raise _fail(name, value, "is not a duration", DURATION_FORMS)
        value = value.to_pytimedelta()
    if isinstance(value, timedelta):
        td = value
    elif isinstance(value, str):
        td = _parse_duration_text(value, name)
    else:
        raise _fail(name, value, f"is a {type(value).__name__}, not a duration", DURATION_FORMS)
    if td < timedelta(0) or (td == timedelta(0) and not allow_zero):
        why = "is negative" if td < timedelta(0) else "is zero"
        raise _fail(name, value, f"{why}; a duration here is {'zero or more' if allow_zero else 'positive'}",
                    DURATION_FORMS)
    if maximum is not None and td > maximum:
        raise _fail(name, value, f"is longer than the limit of {format_duration(maximum)}", DURATION_FORMS)
    return td


def _parse_duration_text(value: str, name: str) -> timedelta:
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        raise _fail(name, value, "is not a duration", DURATION_FORMS)
    if text[0] in "+-":
        raise _fail(name, value, "has a sign; a duration has none", DURATION_FORMS)
    total, pos = 0, 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m:
            raise _fail(name, value, "is not a duration", DURATION_FORMS)
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        # Exact: "1.5h" is 1.5 * 3600 s with no float rounding; below a microsecond is dropped.
        total += int(whole + frac) * _UNIT_US[unit] // 10 ** len(frac)
        pos = m.end()
    if total > _MAX_US:
        raise _fail(name, value, "is too long to represent", DURATION_FORMS)
    return timedelta(microseconds=total)


def format_duration(value: timedelta | float, *, exact: bool = False) -> str:
    """A duration for people: its two largest units (``1d 17h``, ``5m 30s``, ``2.5s``, ``120ms``).

    Args:
        value: A timedelta, or a number of seconds.
        exact: Write every unit down to microseconds, so :func:`parse_duration` reads back
            the same duration (``1d 17h 3m 2s 500ms``).
    """
    us = _to_us(value)
    sign = "-" if us < 0 else ""
    us = abs(us)
    if exact:
        if us == 0:
            return "0s"
        parts = []
        for unit in ("w", "d", "h", "m", "s", "ms", "us"):
            size = _UNIT_US[unit]
            if us >= size:
                parts.append(f"{us // size}{unit}")
                us %= size
        return sign + " ".join(parts)
    s = us / 1_000_000
    if us < 1000:
        return f"{sign}{us}us" if us else "0s"
    if s < 1:
        return f"{sign}{s * 1000:.0f}ms"
    if s < 60:
        return f"{sign}{s:.3g}s"
    parts = []
    rest = int(round(s))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
        if len(parts) == 2 or (parts and rest == 0):
            break
    return sign + " ".join(parts)


def _to_us(value: timedelta | float) -> int:
    if isinstance(value, timedelta):
        return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    return int(round(float(value) * 1_000_000))


# ------------------------------------------------------------------------------------- instants
def parse_instant(value: Any, *, now: datetime | None = None, name: str = "time",
                  ago: bool = False) -> datetime:
    """An aware UTC datetime from ISO 8601 text, ``now``/``today``/``yesterday``, ``-1h``, or a datetime.

    Args:
        value: ISO 8601 text (no zone means UTC), ``now``, ``today``, ``yesterday``, any of
            those ``+``/``-`` a duration, a relative ``-1h``/``+30m``, a datetime, a date
            (midnight UTC) or a pandas Timestamp (naive means UTC).
        now: The moment relative forms count from (default: the current time).
        name: The argument's name, used in the error message.
        ago: The value starts a range (``since``, ``start``): a bare duration such as ``1h``
            then means that long before ``now``.

    Returns:
        The instant, timezone-aware in UTC.

    Raises:
        ValidationError: The value is none of the above or out of range (years 1-9999);
            the message names the argument, the value and the accepted forms.
    """
    forms = SINCE_FORMS if ago else INSTANT_FORMS
    if value is None or isinstance(value, bool):
        raise _fail(name, value, "is not a time", forms)
    if type(value).__name__ == "NaTType":
        raise _fail(name, value, "is not a time", forms)
    if hasattr(value, "to_pydatetime") and not isinstance(value, datetime):
        value = value.to_pydatetime()
    try:
        if isinstance(value, datetime):
            return _utc(value)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, int | float):
            raise _fail(name, value, "is a bare number, not a time", forms)
        if isinstance(value, str):
            return _parse_instant_text(value, now, name, ago, forms)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise _fail(name, value, "is out of range (years 1 to 9999)", forms) from None
    raise _fail(name, value, f"is a {type(value).__name__}, not a time", forms)


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _parse_instant_text(value: str, now: datetime | None, name: str, ago: bool, forms: str) -> datetime:
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        raise _fail(name, value, "is not a time", forms)
    if _NUMBER.match(text):
        raise _fail(name, value, "is a bare number, not a time", forms)
    low = text.lower()
    m = _ANCHOR.match(low)
    if m and (m.group(1) or m.group(2)):
        base = _utc(now) if now is not None else datetime.now(UTC)
        if m.group(1) == "today":
            base = base.replace(hour=0, minute=0, second=0, microsecond=0)
        elif m.group(1) == "yesterday":
            base = base.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        if not m.group(2):
            return base
        try:
            delta = _parse_duration_text(m.group(3), name)
        except ValidationError:
            raise _fail(name, value, "is not a time", forms) from None
        return base - delta if m.group(2) == "-" else base + delta
    if low[0].isdigit() and not _looks_iso(low):
        try:
            delta = _parse_duration_text(text, name)
        except ValidationError:
            pass
        else:
            if ago:
                return (_utc(now) if now is not None else datetime.now(UTC)) - delta
            raise _fail(name, value, f"is a duration, not a time (write -{text} for {text} ago)", forms)
    iso = text[:-1] + "+00:00" if text[-1] in "zZ" else text
    try:
        return _utc(datetime.fromisoformat(iso))
    except ValueError:
        raise _fail(name, value, "is not a time", forms) from None


def is_naive(value: Any) -> bool:
    """Whether ``value`` is ISO text without a zone (read as UTC), so a CLI can say so once."""
    if not isinstance(value, str) or not _looks_iso(value.strip().lower()):
        return False
    text = value.strip()
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text).tzinfo is None
    except ValueError:
        return False


def _looks_iso(low: str) -> bool:
    # An ISO date starts with four digits and a dash, or is eight digits (basic format).
    return bool(re.match(r"^\d{4}(-|\d{4}(\b|t))", low))


# --------------------------------------------------------------------------------------- ranges
def parse_range(since: Any, until: Any = None, *, now: datetime | None = None, default_since: Any = None,
                names: tuple[str, str] = ("since", "until")) -> tuple[datetime, datetime]:
    """A half-open range ``[start, end)`` in UTC; the start must come before the end.

    Args:
        since: The start (an instant; a bare duration ``1h`` means an hour ago). None takes
            ``default_since``.
        until: The end (an instant); None means now.
        now: The moment relative forms count from (default: the current time).
        default_since: The start when ``since`` is None; without one, ``since`` is required.
        names: The two arguments' names, for error messages (e.g. ``("start", "end")``).

    Raises:
        ValidationError: Either end is not an instant, or the range is empty.
    """
    now = _utc(now) if now is not None else datetime.now(UTC)
    if since is None:
        since = default_since
    if since is None:
        raise ValidationError(f"{names[0]} is required; write one of: {SINCE_FORMS}", field=names[0])
    start = parse_instant(since, now=now, name=names[0], ago=True)
    end = now if until is None else parse_instant(until, now=now, name=names[1])
    if start >= end:
        raise ValidationError(f"the time range is empty: {names[0]} {start.isoformat()} is not before "
                              f"{names[1]} {end.isoformat()}", field=names[0], value=str(since))
    return start, end
