"""When silences, maintenance windows and inhibition rules mute an alert (pure functions).

A silence is active from ``starts_at`` to ``ends_at`` unless expired. A
maintenance window is a silence with a weekly recurrence: on the given weekdays
at a local wall-clock time in an IANA zone, for a duration (a window that starts
at 02:00 Europe/Berlin stays at 02:00 across DST changes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsnb.alerts.grouping import AlertView, Muter
from opsnb.alerts.matchers import Matcher, matches_all, parse_matchers
from opsnb.errors import ValidationError
from opsnb.timeparse import parse_duration

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
def make_recurrence(*, start: str, duration: str | int | float | timedelta, days: Iterable[str] | None,
                    timezone: str) -> dict[str, Any]:
    """Validate and normalize a weekly recurrence."""
    problems: list[str] = []
    m = re.match(r"^(\d{1,2}):(\d{2})$", start or "")
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        problems.append(f"start {start!r} must be a local time HH:MM")
    try:
        td = parse_duration(duration, name="duration")
        if td > timedelta(days=7):
            problems.append("duration must be at most 7 days")
    except ValidationError as exc:
        problems.append(str(exc))
        td = timedelta(0)
    dl = [str(d).lower()[:3] for d in (days or DAYS)]
    bad = [d for d in dl if d not in DAYS]
    if bad:
        problems.append(f"days {bad} must be among {', '.join(DAYS)}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"timezone {timezone!r} is not an IANA time zone")
    if problems:
        raise ValidationError("bad maintenance window:", problems=problems, field="recurrence")
    return {"start": start, "duration_s": int(td.total_seconds()), "days": sorted(set(dl), key=DAYS.index),
            "timezone": timezone}


@dataclass(frozen=True)
class SilenceSpec:
    """A silence or maintenance window, as the engine needs it."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime | None
    recurrence: Mapping[str, Any] | None = None
    expired_at: datetime | None = None

    def is_active(self, at: datetime) -> bool:
        """Whether the silence holds notifications at ``at``."""
        if at < self.starts_at or (self.ends_at is not None and at >= self.ends_at):
            return False
        if self.expired_at is not None and at >= self.expired_at:
            return False
        if not self.recurrence:
            return True
        r = self.recurrence
        tz = ZoneInfo(r["timezone"])
        hh, mm = (int(x) for x in r["start"].split(":"))
        dur = timedelta(seconds=int(r["duration_s"]))
        local = at.astimezone(tz)
        days = set(r["days"])
        for back in range(0, dur.days + 2):  # occurrences that began up to `duration` ago
            d = local.date() - timedelta(days=back)
            if DAYS[d.weekday()] not in days:
                continue
            begin = datetime.combine(d, time(hh, mm), tz).astimezone(UTC)  # fold=0: first occurrence
            if begin <= at < begin + dur:
                return True
        return False

    def silences(self, labels: Mapping[str, str], at: datetime) -> bool:
        return self.is_active(at) and matches_all(self.matchers, labels)


@dataclass(frozen=True)
class InhibitSpec:
    """Targets are muted while a firing source shares the ``equal`` labels."""

    name: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def inhibits(self, alert: AlertView, others: Iterable[AlertView]) -> bool:
        if not matches_all(self.target, alert.labels):
            return False
        for src in others:
            if src.fingerprint == alert.fingerprint or src.status == "resolved":
                continue
            if matches_all(self.source, src.labels) and \
                    all(src.labels.get(k, "") == alert.labels.get(k, "") for k in self.equal):
                # Alertmanager: an alert matching both sides does not inhibit itself (checked above)
                return True
        return False


def silence_spec(row: Any) -> SilenceSpec:
    """A :class:`SilenceSpec` from a stored row (or anything with the same attributes)."""
    return SilenceSpec(id=str(row.id), matchers=parse_matchers(row.matchers), starts_at=row.starts_at,
                       ends_at=row.ends_at, recurrence=row.recurrence, expired_at=row.expired_at)


def inhibit_spec(row: Any) -> InhibitSpec:
    return InhibitSpec(name=row.name, source=parse_matchers(row.source_matchers),
                       target=parse_matchers(row.target_matchers), equal=tuple(row.equal))


def make_muter(silences: Sequence[SilenceSpec], inhibits: Sequence[InhibitSpec]) -> Muter:
    """A muter for :func:`opsnb.alerts.grouping.simulate`: ``(alert, now, alerts) -> reason | None``."""

    def muter(alert: AlertView, now: datetime, alerts: Mapping[str, AlertView]) -> str | None:
        if any(s.silences(alert.labels, now) for s in silences):
            return "silenced"
        if inhibits and any(r.inhibits(alert, alerts.values()) for r in inhibits):
            return "inhibited"
        return None

    return muter
