"""Managing what mutes alerts and what opens incidents: silences, maintenance windows, inhibit rules, incident rules.

:class:`AlertRules` is a part of :class:`opsnb.alerts.service.Alerts` (``ops.alerts.create_silence(...)``);
the pure matching logic is in :mod:`opsnb.alerts.silences` and :mod:`opsnb.alerts.matchers`.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsnb.alerts.matchers import parse_matchers
from opsnb.alerts.models import IncidentRule, InhibitRule, Silence
from opsnb.alerts.silences import (
    InhibitSpec,
    SilenceSpec,
    inhibit_spec,
    make_recurrence,
    silence_spec,
)
from opsnb.errors import Conflict, NotFound, ValidationError
from opsnb.store.types import utcnow
from opsnb.timeparse import DurationLike, InstantLike, parse_duration, parse_instant

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
INCIDENT_RULE_COLUMNS = ["name", "matchers", "severity", "join_open", "policy", "created_by", "created_at"]


def silence_specs(s: Session, now: datetime) -> list[SilenceSpec]:
    """The silences and maintenance windows not expired at ``now``."""
    q = select(Silence).where(Silence.expired_at.is_(None) | (Silence.expired_at > now))
    return [silence_spec(r) for r in s.scalars(q) if r.ends_at is None or r.ends_at > now]


def inhibit_specs(s: Session) -> list[InhibitSpec]:
    """Every inhibit rule."""
    return [inhibit_spec(r) for r in s.scalars(select(InhibitRule))]


class AlertRules:
    """Silences, maintenance windows, inhibit rules and incident rules (part of ``ops.alerts``)."""

    _wb: Workbench

    def create_silence(self, *, matchers: Any, comment: str, starts_at: InstantLike | None = None,
                       ends_at: InstantLike | None = None, duration: DurationLike | None = None,
                       reason: str = "") -> dict[str, Any]:
        """Silence notifications of matching alerts (the alerts are still stored). Needs operator.

        Args:
            matchers: e.g. ``'service="checkout",alertname=~"Disk.*"'``; at least one must not match "".
            comment: Why (required).
            starts_at: Default now. ends_at / duration: when it ends (one of them is required).

        Example:
            >>> ops.alerts.create_silence(matchers='service="search"', duration="2h",
            ...                           comment="reindexing")                         # doctest: +SKIP
        """
        ms = parse_matchers(matchers, require_non_empty=True)
        start = parse_instant(starts_at, name="starts_at") if starts_at is not None else utcnow()
        if (ends_at is None) == (duration is None):
            raise ValidationError("give exactly one of ends_at or duration", field="ends_at")
        end = parse_instant(ends_at, name="ends_at") if ends_at is not None else \
            start + parse_duration(duration, name="duration")
        if end <= start:
            raise ValidationError(f"ends_at {end} must be after starts_at {start}", field="ends_at")
        return self._add_silence("silence", ms, start, end, None, comment, reason)

    def create_maintenance(self, *, matchers: Any, comment: str, start: str, duration: DurationLike,
                           days: Iterable[str] | None = None, timezone: str = "UTC",
                           starts_at: InstantLike | None = None, until: InstantLike | None = None,
                           reason: str = "") -> dict[str, Any]:
        """A recurring maintenance window: silences matching alerts every given weekday at a local time.

        Args:
            start: Local wall-clock start, ``"HH:MM"`` in ``timezone``.
            duration: e.g. ``"2h"``. days: weekdays (``["sun"]``); default every day.
            starts_at / until: When the recurrence is valid (default from now, no end).

        Example:
            >>> ops.alerts.create_maintenance(matchers='service="catalog"', start="02:00", duration="1h",
            ...     days=["sun"], timezone="Europe/Berlin", comment="weekly reindex")  # doctest: +SKIP
        """
        ms = parse_matchers(matchers, require_non_empty=True)
        rec = make_recurrence(start=start, duration=duration, days=days, timezone=timezone)
        begin = parse_instant(starts_at, name="starts_at") if starts_at is not None else utcnow()
        if until is not None:
            until = parse_instant(until, name="until")
            if until <= begin:
                raise ValidationError("until must be after starts_at", field="until")
        return self._add_silence("maintenance", ms, begin, until, rec, comment, reason)

    def _add_silence(self, kind: str, ms: Sequence[Any], start: datetime, end: datetime | None,
                     rec: dict[str, Any] | None, comment: str, reason: str) -> dict[str, Any]:
        if not isinstance(comment, str) or not comment.strip() or "\x00" in comment or len(comment) > 10_000:
            raise ValidationError("a silence needs a comment saying why (at most 10,000 characters)",
                                  field="comment")
        sid = str(uuid.uuid4())
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action=f"alerts.{kind}.create")
            row = Silence(id=sid, kind=kind, matchers=[m.as_dict() for m in ms], starts_at=start, ends_at=end,
                          recurrence=rec, created_by=self._wb.user, created_at=utcnow(), comment=comment,
                          expired_at=None)
            s.add(row)
            self._wb.audit.record(action=f"alerts.{kind}.create", target=sid,
                                  params={"matchers": [str(m) for m in ms], "starts_at": start, "ends_at": end,
                                          "recurrence": rec, "comment": comment}, reason=reason)
        return self._silence_dict(row, utcnow())

    @staticmethod
    def _silence_dict(r: Silence, now: datetime) -> dict[str, Any]:
        spec = silence_spec(r)
        return {"id": r.id, "kind": r.kind, "matchers": ",".join(str(m) for m in spec.matchers),
                "starts_at": r.starts_at, "ends_at": r.ends_at, "recurrence": r.recurrence,
                "created_by": r.created_by, "comment": r.comment, "expired_at": r.expired_at,
                "active": spec.is_active(now)}

    def list_silences(self, *, include_expired: bool = False, at: datetime | None = None) -> pd.DataFrame:
        """Silences and maintenance windows, with whether each is active at ``at`` (default now)."""
        import pandas as pd

        now = at or utcnow()
        with self._wb.db.session() as s:
            rows = [self._silence_dict(r, now) for r in s.scalars(select(Silence).order_by(Silence.created_at))
                    if include_expired or ((r.expired_at is None or r.expired_at > now)
                                           and (r.ends_at is None or r.ends_at > now))]
        cols = ["id", "kind", "matchers", "starts_at", "ends_at", "recurrence", "created_by", "comment",
                "expired_at", "active"]
        return pd.DataFrame(rows, columns=cols)

    def expire_silence(self, silence_id: str, *, reason: str = "") -> None:
        """End a silence now (it stays listed as expired). Needs operator."""
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="alerts.silence.expire")
            row = s.get(Silence, silence_id)
            if row is None:
                raise NotFound(f"no silence {silence_id!r}", kind="silence", key=silence_id)
            if row.expired_at is not None:
                raise Conflict(f"silence {silence_id} expired already at {row.expired_at}", kind="silence",
                               key=silence_id)
            row.expired_at = utcnow()
            self._wb.audit.record(action="alerts.silence.expire", target=silence_id, params={}, reason=reason)

    def create_inhibit_rule(self, *, name: str, source: Any, target: Any, equal: Sequence[str] = (),
                            reason: str = "") -> None:
        """Mute ``target`` alerts while a firing ``source`` alert has the same ``equal`` labels. Needs operator.

        Example:
            >>> ops.alerts.create_inhibit_rule(name="down-hides-latency", source='alertname="ServiceDown"',
            ...     target='alertname="HighLatency"', equal=["service"])   # doctest: +SKIP
        """
        src = parse_matchers(source, require_non_empty=True)
        tgt = parse_matchers(target, require_non_empty=True)
        eq = [str(e) for e in equal]
        self._check_name(name)
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="alerts.inhibit.create")
            if s.scalar(select(InhibitRule).where(InhibitRule.name == name)) is not None:
                raise Conflict(f"inhibit rule {name!r} exists already", kind="inhibit_rule", key=name)
            s.add(InhibitRule(name=name, source_matchers=[m.as_dict() for m in src],
                              target_matchers=[m.as_dict() for m in tgt], equal=eq, created_by=self._wb.user,
                              created_at=utcnow()))
            self._wb.audit.record(action="alerts.inhibit.create", target=name,
                                  params={"source": [str(m) for m in src], "target": [str(m) for m in tgt],
                                          "equal": eq}, reason=reason)

    def create_incident_rule(self, *, name: str, matchers: Any, severity: str = "SEV2", join_open: bool = True,
                             policy: str | None = None, reason: str = "") -> None:
        """Alerts matching ``matchers`` open an incident of ``severity``, or join an open incident of the
        same service when ``join_open``. Needs operator.

        Args:
            policy: An escalation policy of ``ops.oncall``: an incident this rule opens (not one an
                alert joins) starts paging under it at the next :meth:`tick`.

        Raises:
            NotFound: No escalation policy of that name. ValidationError: Bad matchers, severity or name.

        Example:
            >>> ops.alerts.create_incident_rule(name="critical-pages", matchers='severity="critical"',
            ...                                 severity="SEV2", policy="default")   # doctest: +SKIP
        """
        ms = parse_matchers(matchers, require_non_empty=True)
        if severity not in SEVERITIES:
            raise ValidationError(f"severity {severity!r} must be one of {', '.join(SEVERITIES)}", field="severity")
        self._check_name(name)
        if policy is not None and (not isinstance(policy, str) or not policy.strip() or len(policy) > 100
                                   or "\x00" in policy):
            raise ValidationError("policy must be the name of an escalation policy (1-100 characters)",
                                  field="policy")
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="alerts.incident_rule.create")
            if s.scalar(select(IncidentRule).where(IncidentRule.name == name)) is not None:
                raise Conflict(f"incident rule {name!r} exists already", kind="incident_rule", key=name)
            if policy is not None:
                self._wb.oncall.policy(policy)  # raises NotFound now, not at the first page
            s.add(IncidentRule(name=name, matchers=[m.as_dict() for m in ms], severity=severity,
                               join_open=bool(join_open), policy=policy, created_by=self._wb.user,
                               created_at=utcnow()))
            self._wb.audit.record(action="alerts.incident_rule.create", target=name,
                                  params={"matchers": [str(m) for m in ms], "severity": severity,
                                          "join_open": bool(join_open), "policy": policy}, reason=reason)

    def incident_rules(self) -> pd.DataFrame:
        """The incident rules in the order they are tried (the first match wins)."""
        import pandas as pd

        with self._wb.db.session() as s:
            rows = [{"name": r.name, "matchers": ",".join(str(m) for m in parse_matchers(r.matchers)),
                     "severity": r.severity, "join_open": r.join_open, "policy": r.policy,
                     "created_by": r.created_by, "created_at": r.created_at}
                    for r in s.scalars(select(IncidentRule).order_by(IncidentRule.id))]
        df = pd.DataFrame(rows, columns=INCIDENT_RULE_COLUMNS)
        df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
        return df

    @staticmethod
    def _check_name(name: Any) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
            raise ValidationError("a rule needs a name of 1-200 characters", field="name")

    def _silence_specs(self, s: Session, now: datetime) -> builtins.list[SilenceSpec]:
        return silence_specs(s, now)

    def _inhibit_specs(self, s: Session) -> builtins.list[InhibitSpec]:
        return inhibit_specs(s)

