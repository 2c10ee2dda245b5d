"""iCalendar (RFC 5545) export of final shifts and import of events as overrides.

Written by hand (no dependency): CRLF line ends, lines folded at 75 octets
without splitting a UTF-8 character, TEXT values escaped. Export uses UTC
times (``...Z``) by default; with ``tzid=True`` it writes local times with
``TZID=<IANA zone>`` and a VTIMEZONE built from the zone's transitions in the
exported range. Import understands UTC times, ``TZID=`` parameters with IANA
names, floating times (taken in the schedule's zone) and all-day
``VALUE=DATE`` events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


_LINE = re.compile(r"^([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+=(?:\"[^\"]*\"|[^;:\"]*))*):(.*)$")


def unfold(text: str) -> list[tuple[int, str]]:
    """Content lines with their first physical line number (continuations joined)."""
    out: list[tuple[int, str]] = []
    for n, raw in enumerate(re.split(r"\r\n|\n|\r", text), 1):
        if raw.startswith((" ", "\t")) and out:
            out[-1] = (out[-1][0], out[-1][1] + raw[1:])
        elif raw.strip():
            out.append((n, raw))
    return out


def _params(raw: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r";([A-Za-z0-9-]+)=(\"[^\"]*\"|[^;:\"]*)", raw):
        out[m.group(1).upper()] = m.group(2).strip('"')
    return out


def _time(value: str, params: dict[str, str], default_tz: str, line: int) -> datetime:
    value = value.strip()
    try:
        if params.get("VALUE") == "DATE" or re.fullmatch(r"\d{8}", value):
            d = datetime.strptime(value, "%Y%m%d").date()
            tz = zone(params.get("TZID", default_tz))
            return place(datetime.combine(d, datetime.min.time()), tz)
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        local = datetime.strptime(value, "%Y%m%dT%H%M%S")
        return place(local, zone(params.get("TZID", default_tz)))
    except ValueError as exc:
        raise ParseError(f"iCalendar line {line}: bad date-time {value[:40]!r}: {exc}", source="ical",
                         line=line) from None
    except ParseError:
        raise
    except Exception as exc:  # an unknown TZID is a ValidationError from zone()
        raise ParseError(f"iCalendar line {line}: {exc}", source="ical", line=line) from None


def _duration(value: str, line: int) -> timedelta:
    m = re.fullmatch(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", value.strip())
    if not m or not any(m.groups()):
        raise ParseError(f"iCalendar line {line}: bad DURATION {value[:40]!r}", source="ical", line=line)
    w, d, h, mi, s = (int(g or 0) for g in m.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)


def parse_events(text: str | bytes, *, default_tz: str) -> list[Event]:
    """The VEVENTs of a calendar, all of them or a ParseError naming the line; nothing partial."""
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
    lines = unfold(text)
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        raise ParseError("not an iCalendar file (first line is not BEGIN:VCALENDAR)", source="ical", line=1)
    events: list[Event] = []
    cur: dict[str, Any] | None = None
    depth: list[str] = []
    for n, line in lines:
        m = _LINE.match(line)
        if not m:
            raise ParseError(f"iCalendar line {n}: not 'NAME[;PARAM=...]:VALUE': {line[:60]!r}", source="ical", line=n)
        name, params, value = m.group(1).upper(), _params(m.group(2)), m.group(3)
        if name == "BEGIN":
            depth.append(value.upper())
            if value.upper() == "VEVENT":
                if cur is not None:
                    raise ParseError(f"iCalendar line {n}: VEVENT inside VEVENT", source="ical", line=n)
                cur = {"line": n}
            continue
        if name == "END":
            if not depth or depth[-1] != value.upper():
                raise ParseError(f"iCalendar line {n}: END:{value[:30]} does not close "
                                 f"{depth[-1] if depth else 'anything'}", source="ical", line=n)
            depth.pop()
            if value.upper() == "VEVENT" and cur is not None:
                events.append(_event(cur, default_tz))
                cur = None
                if len(events) > MAX_EVENTS:
                    raise ParseError(f"calendar has more than {MAX_EVENTS} events", source="ical", line=n)
            continue
        if cur is not None and depth and depth[-1] == "VEVENT":
            cur.setdefault(name, (n, params, value))
    if depth:
        raise ParseError(f"calendar ends inside {depth[-1]}", source="ical", line=lines[-1][0])
    return events


def _event(d: dict[str, Any], default_tz: str) -> Event:
    line = d["line"]
    if "DTSTART" not in d:
        raise ParseError(f"iCalendar event at line {line} has no DTSTART", source="ical", line=line)
    n, p, v = d["DTSTART"]
    start = _time(v, p, default_tz, n)
    if "DTEND" in d:
        n, p, v = d["DTEND"]
        end = _time(v, p, default_tz, n)
    elif "DURATION" in d:
        end = start + _duration(d["DURATION"][2], d["DURATION"][0])
    else:
        raise ParseError(f"iCalendar event at line {line} has neither DTEND nor DURATION", source="ical", line=line)
    if end <= start:
        raise ParseError(f"iCalendar event at line {line} ends before it starts", source="ical", line=line)
    if "X-OPSNB-PERSON" in d:
        person = unescape(d["X-OPSNB-PERSON"][2]).strip()
    elif "SUMMARY" in d:
        person = re.sub(r"^\s*on[- ]call\s*:\s*", "", unescape(d["SUMMARY"][2]), flags=re.I).strip()
    else:
        raise ParseError(f"iCalendar event at line {line} names nobody (no X-OPSNB-PERSON or SUMMARY)",
                         source="ical", line=line)
    if not person or len(person) > 200 or any(c in person for c in "\r\n\x00"):
        raise ParseError(f"iCalendar event at line {line}: {person[:60]!r} is not a user name", source="ical",
                         line=line)
    uid = unescape(d["UID"][2]) if "UID" in d else f"line-{line}"
    return Event(uid=uid[:200], person=person, start=start, end=end)

