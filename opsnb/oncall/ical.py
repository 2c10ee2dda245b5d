"""iCalendar (RFC 5545) export of final shifts and import of events as overrides.

Export is written by hand: CRLF line ends, lines folded at 75 octets without
splitting a UTF-8 character, TEXT values escaped; UTC times (``...Z``) by
default, or with ``tzid=True`` local times with ``TZID=<IANA zone>`` and a
VTIMEZONE built from the zone's transitions in the exported range. Import reads
with the ``icalendar`` and ``recurring_ical_events`` libraries (a hand parser
read a weekly RRULE with EXDATEs as one event where calendar programs read ten):
UTC, IANA and embedded-VTIMEZONE times, floating times (in the schedule's zone),
all-day events, and recurrence with its exceptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from opsnb.errors import ParseError
from opsnb.oncall.rotation import place, zone

MAX_BYTES = 5 * 1024 * 1024
MAX_EVENTS = 10_000
PRODID = "-//opsnb//on-call//EN"


def escape(text: str) -> str:
    """Escape a TEXT value (backslash, semicolon, comma, newline)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def unescape(text: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def fold(line: str) -> str:
    """Fold a content line at 75 octets (continuations start with a space), never inside a character."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts, cur, limit = [], b"", 75
    for ch in line:
        b = ch.encode("utf-8")
        if len(cur) + len(b) > limit:
            parts.append(cur.decode("utf-8"))
            cur, limit = b"", 74  # the leading space of a continuation counts
        cur += b
    parts.append(cur.decode("utf-8"))
    return "\r\n ".join(parts)


def _utc(ts: Any) -> str:
    return pd.Timestamp(ts).tz_convert(UTC).strftime("%Y%m%dT%H%M%SZ")


def _offset(td: timedelta) -> str:
    secs = int(td.total_seconds())
    sign = "+" if secs >= 0 else "-"
    secs = abs(secs)
    return f"{sign}{secs // 3600:02d}{secs % 3600 // 60:02d}" + (f"{secs % 60:02d}" if secs % 60 else "")


def transitions(tz_name: str, start: datetime, end: datetime) -> list[tuple[datetime, timedelta, timedelta, str, bool]]:
    """UTC offset changes of a zone in [start, end]: (instant, offset before, after, name after, is_dst)."""
    tz = zone(tz_name)
    out = []
    t, step = start, timedelta(hours=6)  # no zone changes offset twice within six hours
    prev = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = min(t + step, end)
        off = nxt.astimezone(tz).utcoffset()
        if off != prev:
            lo, hi = t, nxt  # bisect to the second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == prev:
                    lo = mid
                else:
                    hi = mid
            hi = hi.replace(microsecond=0)
            local = hi.astimezone(tz)
            assert prev is not None and off is not None
            out.append((hi, prev, off, local.tzname() or "", bool(local.dst())))
            prev = off
        t = nxt
    return out


def vtimezone(tz_name: str, start: datetime, end: datetime) -> list[str]:
    """A VTIMEZONE covering [start, end]: the offset in force at start, then every transition."""
    tz = zone(tz_name)
    first = start.astimezone(tz)
    off0 = first.utcoffset() or timedelta(0)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tz_name}"]
    kind0 = "DAYLIGHT" if first.dst() else "STANDARD"
    lines += [f"BEGIN:{kind0}", f"DTSTART:{(start + off0).strftime('%Y%m%dT%H%M%S')}",
              f"TZOFFSETFROM:{_offset(off0)}", f"TZOFFSETTO:{_offset(off0)}", f"TZNAME:{escape(first.tzname() or '')}",
              f"END:{kind0}"]
    for at, before, after, name, dst in transitions(tz_name, start, end):
        kind = "DAYLIGHT" if dst else "STANDARD"
        # DTSTART of an observance is the local time of the change in the offset before it.
        lines += [f"BEGIN:{kind}", f"DTSTART:{(at.replace(tzinfo=None) + before).strftime('%Y%m%dT%H%M%S')}",
                  f"TZOFFSETFROM:{_offset(before)}", f"TZOFFSETTO:{_offset(after)}", f"TZNAME:{escape(name)}",
                  f"END:{kind}"]
    return lines + ["END:VTIMEZONE"]


def export_shifts(schedule: str, shifts: pd.DataFrame, *, stamp: datetime, tz_name: str | None = None) -> str:
    """A VCALENDAR with one VEVENT per shift (``start, end, person, source`` columns).

    Args:
        schedule: Schedule name (calendar name and UIDs).
        shifts: Final shifts.
        stamp: DTSTAMP of every event.
        tz_name: Write local times with ``TZID=`` this zone (and its VTIMEZONE) instead of UTC.
    """
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape('on-call ' + schedule)}"]
    tz = zone(tz_name) if tz_name else None

    def when(name: str, ts: Any) -> str:
        if tz is None:
            return f"{name}:{_utc(ts)}"
        local = pd.Timestamp(ts).to_pydatetime().astimezone(tz)
        return f"{name};TZID={tz_name}:{local.strftime('%Y%m%dT%H%M%S')}"

    if tz_name and len(shifts):
        lo = pd.Timestamp(shifts["start"].min()).to_pydatetime()
        hi = pd.Timestamp(shifts["end"].max()).to_pydatetime()
        lines += vtimezone(tz_name, lo, hi)
    for r in shifts.itertuples(index=False):
        start = _utc(r.start)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape(schedule)}-{start}-{escape(str(r.person))}@opsnb",
            f"DTSTAMP:{_utc(stamp)}",
            when("DTSTART", r.start),
            when("DTEND", r.end),
            f"SUMMARY:{escape('On call: ' + str(r.person))}",
            f"DESCRIPTION:{escape(f'{r.person} is on call for {schedule} ({r.source}).')}",
            f"CATEGORIES:{escape(str(r.source))}",
            f"X-OPSNB-PERSON:{escape(str(r.person))}",
            f"X-OPSNB-SOURCE:{escape(str(r.source))}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(x) + "\r\n" for x in lines)


@dataclass(frozen=True)
class Event:
    uid: str
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class CalendarImport:
    """What :func:`parse_calendar` read: the overrides to make, and what it could not represent."""

    events: list[Event]
    notes: list[str]


def _decode(text: str | bytes) -> str:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise ParseError(f"calendar is larger than {MAX_BYTES} bytes", source="ical")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"calendar is not UTF-8: {exc}", source="ical") from None
    if not isinstance(text, str):
        raise ParseError("calendar must be text", source="ical")
    if len(text) > MAX_BYTES:
        raise ParseError(f"calendar is larger than {MAX_BYTES} bytes", source="ical")
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise ParseError("not an iCalendar file (first line is not BEGIN:VCALENDAR)", source="ical", line=1)
    return text


def _instant(value: Any, default_tz: str, what: str) -> datetime:
    """A DTSTART/DTEND value as UTC: dates start at midnight and floating times are local to ``default_tz``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return place(value, zone(default_tz))
        return value.astimezone(UTC)
    if isinstance(value, date):
        return place(datetime.combine(value, datetime.min.time()), zone(default_tz))
    raise ParseError(f"{what} is not a date or date-time", source="ical")


def parse_calendar(text: str | bytes, *, default_tz: str, horizon: timedelta = timedelta(days=366),
                   now: datetime | None = None) -> CalendarImport:
    """Every occurrence of a calendar's VEVENTs, all of them or a ParseError; nothing partial.

    Parsing is the ``icalendar`` library's and recurrence (RRULE, RDATE, EXDATE, RECURRENCE-ID)
    the ``recurring_ical_events`` library's, so a calendar reads as calendar programs read it;
    a TZID defined by a VTIMEZONE inside the file is honoured. A rule without an end is expanded
    up to ``horizon`` after ``now`` and a note says so.

    Raises:
        ParseError: Not iCalendar, an event without a start, an end or a person, an unknown
            TZID, an event ending before it starts, or more than ``MAX_EVENTS`` occurrences.
    """
    import icalendar
    import recurring_ical_events

    text = _decode(text)
    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # the library raises ValueError and its own errors for broken input
        raise ParseError(f"not a valid iCalendar file: {str(exc).splitlines()[0][:200]}", source="ical") from None
    vevents = cal.walk("VEVENT")
    if len(vevents) > MAX_EVENTS:
        raise ParseError(f"calendar has more than {MAX_EVENTS} events", source="ical")
    notes: list[str] = []
    lo = hi = None
    for n, ev in enumerate(vevents, 1):
        uid = str(ev.get("UID") or f"event {n}")
        start = _checked(ev, "DTSTART", uid, default_tz)
        if start is None:
            raise ParseError(f"iCalendar event {uid!r} has no DTSTART", source="ical")
        end = _checked(ev, "DTEND", uid, default_tz)
        if end is None and ev.get("DURATION") is None:
            raise ParseError(f"iCalendar event {uid!r} has neither DTEND nor DURATION", source="ical")
        if end is not None and end <= start:  # checked here: expansion would drop such an event silently
            raise ParseError(f"iCalendar event {uid!r} ends before it starts ({start.isoformat()})", source="ical")
        _person(ev, uid)
        lo = start if lo is None or start < lo else lo
        rule = ev.get("RRULE")
        if rule is not None and not rule.get("COUNT") and not rule.get("UNTIL"):
            notes.append(f"event {uid!r} repeats without end; occurrences imported up to the horizon")
        hi = start if hi is None or start > hi else hi
    if lo is None or hi is None:
        return CalendarImport([], notes)
    until = max(hi, (now or datetime.now(UTC))) + horizon
    try:
        occurrences = recurring_ical_events.of(cal).between(lo - timedelta(days=1), until)
    except Exception as exc:
        raise ParseError(f"iCalendar recurrence could not be expanded: {str(exc)[:200]}", source="ical") from None
    events: list[Event] = []
    for occ in occurrences:
        uid = str(occ.get("UID") or "event")
        start = _checked(occ, "DTSTART", uid, default_tz)
        end = _checked(occ, "DTEND", uid, default_tz)
        if start is None or end is None:
            raise ParseError(f"iCalendar event {uid!r}: an occurrence has no start or end", source="ical")
        if end <= start:
            raise ParseError(f"iCalendar event {uid!r} ends before it starts ({start.isoformat()})", source="ical")
        events.append(Event(uid=uid[:200], person=_person(occ, uid), start=start, end=end))
        if len(events) > MAX_EVENTS:
            raise ParseError(f"calendar expands to more than {MAX_EVENTS} occurrences", source="ical")
    if any(n.endswith("horizon") for n in notes):
        notes = [n.replace("the horizon", until.date().isoformat()) for n in notes]
    events.sort(key=lambda e: (e.start, e.uid))
    return CalendarImport(events, notes)


def _checked(component: Any, name: str, uid: str, default_tz: str) -> datetime | None:
    prop = component.get(name)
    if prop is None:
        return None
    try:
        value = prop.dt
    except Exception:  # a broken property (the library defers the error to access)
        raise ParseError(f"iCalendar event {uid!r}: bad {name} {str(component.get(name))[:40]!r}",
                         source="ical") from None
    tzid = getattr(prop, "params", {}).get("TZID")
    if tzid and isinstance(value, datetime) and value.tzinfo is None:
        raise ParseError(f"iCalendar event {uid!r}: unknown time zone TZID={str(tzid)[:60]!r} "
                         "(neither an IANA name nor a VTIMEZONE in the file)", source="ical")
    return _instant(value, default_tz, f"iCalendar event {uid!r}: {name}")


def _person(ev: Any, uid: str) -> str:
    if ev.get("X-OPSNB-PERSON") is not None:
        person = unescape(str(ev.get("X-OPSNB-PERSON"))).strip()  # an X- property is kept raw by the library
    elif ev.get("SUMMARY") is not None:
        person = re.sub(r"^\s*on[- ]call\s*:\s*", "", str(ev.get("SUMMARY")), flags=re.I).strip()
    else:
        raise ParseError(f"iCalendar event {uid!r} names nobody (no X-OPSNB-PERSON or SUMMARY)", source="ical")
    if not person or len(person) > 200 or any(c in person for c in "\r\n\x00"):
        raise ParseError(f"iCalendar event {uid!r}: {person[:60]!r} is not a user name", source="ical")
    return person


def parse_events(text: str | bytes, *, default_tz: str) -> list[Event]:
    """The occurrences of a calendar's events (see :func:`parse_calendar`, which also gives notes)."""
    return parse_calendar(text, default_tz=default_tz).events
