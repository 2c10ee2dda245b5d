"""On-call: people, schedules, overrides, escalation policies, and paging (``ops.oncall``).

Schedules and policies are stored as JSON specs and evaluated by the pure
functions of :mod:`opsnb.oncall.rotation` and :mod:`opsnb.oncall.escalation`.
Paging (escalate, acknowledge, tick) lives in :mod:`opsnb.oncall.paging`:
its timers are rows, so escalation survives a restart of the process.
"""

from __future__ import annotations

import builtins
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsnb.errors import Conflict, NotFound, ValidationError
from opsnb.oncall import paging
from opsnb.oncall import rotation as rot
from opsnb.oncall.escalation import PolicySpec, policy_from_dict, policy_to_dict
from opsnb.oncall.escalation import plan as plan_escalation
from opsnb.oncall.models import Person, Policy, Schedule, ScheduleOverride
from opsnb.oncall.rotation import Layer, Override, ScheduleSpec, to_utc
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.oncall.pagerduty import PagerDutySchedule
    from opsnb.workbench import Workbench

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_OVERRIDE_DAYS = 366


def check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError(f"{what} name {str(name)[:60]!r} must be 1-100 letters, digits, '.', '_' or '-'",
                              field="name")
    return name


def check_person(person: Any, what: str = "person") -> str:
    if (not isinstance(person, str) or not person.strip() or len(person) > 200
            or any(c in person for c in "\r\n\x00")):
        raise ValidationError(f"{what} {str(person)[:60]!r} is not a user name", field=what)
    return person.strip()



def _did_you_mean(name: str, known: Sequence[str], what: str) -> str:
    """``; did you mean 'primary'?`` for a near miss, else the names there are (or that there are none)."""
    import difflib

    close = difflib.get_close_matches(name[:100], list(known), n=2, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not known:
        return f"; there are no {what} yet"
    return f"; {what}: {', '.join(sorted(known)[:20])}"

@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as stored, with its spec (no overrides) for pure evaluation."""

    name: str
    timezone: str
    description: str
    layers: tuple[Layer, ...]
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "timezone": self.timezone, "description": self.description,
                "layers": [rot.layer_to_dict(x) for x in self.layers],
                "members": rot.members_of(self.layers), "updated_at": self.updated_at}

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(x.name)}</td><td>{html.escape(', '.join(x.members))}</td>"
            f"<td>every {x.period_days} d from {html.escape(x.first_handoff.isoformat(timespec='minutes'))}</td></tr>"
            for x in reversed(self.layers))
        return (f"<b>schedule {html.escape(self.name)}</b> ({html.escape(self.timezone)})"
                f"<table><tr><th>layer</th><th>members</th><th>handoffs (local)</th></tr>{rows}</table>")


def _layers_from(layers: Any, *, members: Any, rotation_kind: str, every: Any, first_handoff: Any,
                 handoff: Any, tz_name: str) -> tuple[Layer, ...]:
    if layers is None:
        if members is None:
            raise ValidationError("give layers=[...] or members=[...] with rotation and first_handoff",
                                  field="layers")
        d: dict[str, Any] = {"name": rotation_kind, "members": members, "rotation": rotation_kind, "every": every}
        if first_handoff is not None:
            d["first_handoff"] = first_handoff
        elif handoff is not None:
            today = utcnow().astimezone(rot.zone(tz_name)).date()
            d["first_handoff"] = rot.first_weekday_handoff(str(handoff), today)
        layers = [d]
    if not isinstance(layers, list) or not layers:
        raise ValidationError("layers must be a non-empty list (lowest priority first)", field="layers")
    if len(layers) > rot.MAX_LAYERS:
        raise ValidationError(f"at most {rot.MAX_LAYERS} layers", field="layers")
    out, problems = [], []
    for i, d in enumerate(layers):
        try:
            out.append(d if isinstance(d, Layer) else rot.layer_from_dict(d, default_name=f"layer-{i + 1}"))
        except ValidationError as exc:
            problems += exc.problems or [str(exc)]
    names = [x.name for x in out]
    if len(set(names)) != len(names):
        problems.append(f"layer names must be distinct: {names}")
    for x in out:
        problems += rot.validate_layer(x)
    if problems:
        raise ValidationError("invalid schedule layers:", problems, field="layers")
    return tuple(out)


class OnCall:
    """Schedules, escalation policies and paging of a workbench (``ops.oncall``)."""

    def __init__(self, ops: Workbench) -> None:
        self._ops = ops

    # --- people -------------------------------------------------------------------------------

    def create_person(self, name: str, *, display_name: str = "", contacts: list[dict[str, str]] | None = None,
                      reason: str = "") -> dict[str, Any]:
        """Add someone who can be paged (needs operator).

        Args:
            name: User name, as used in rotations.
            display_name: Shown name.
            contacts: Contact methods ``[{"channel": "ops-mail", "target": "alice@example.com"}]``;
                the channel is a notify channel name, the target optional.
        """
        check_person(name)
        clean = self._check_contacts(contacts or [])
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="oncall.create_person")
            if s.get(Person, name) is not None:
                raise Conflict(f"person {name!r} exists; use update_person", kind="person", key=name)
            s.add(Person(name=name, display_name=str(display_name)[:200], contacts=clean, created_at=utcnow(),
                         updated_at=utcnow()))
            self._ops.audit.record(action="oncall.create_person", target=name, reason=reason,
                                   params={"contacts": clean})
        return {"name": name, "display_name": display_name, "contacts": clean}

    def update_person(self, name: str, *, display_name: str | None = None,
                      contacts: list[dict[str, str]] | None = None, reason: str = "") -> dict[str, Any]:
        """Change someone's display name or contact methods (needs operator)."""
        clean = self._check_contacts(contacts) if contacts is not None else None
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="oncall.update_person")
            row = s.get(Person, name)
            if row is None:
                raise NotFound(f"no person {name!r}", kind="person", key=name)
            if display_name is not None:
                row.display_name = str(display_name)[:200]
            if clean is not None:
                row.contacts = clean
            row.updated_at = utcnow()
            self._ops.audit.record(action="oncall.update_person", target=name, reason=reason,
                                   params={"contacts": row.contacts})
            return {"name": row.name, "display_name": row.display_name, "contacts": list(row.contacts)}

    def people(self) -> pd.DataFrame:
        """Everyone who can be paged, with contact methods."""
        with self._ops.db.session() as s:
            rows = [{"name": p.name, "display_name": p.display_name, "contacts": p.contacts}
                    for p in s.scalars(select(Person).order_by(Person.name))]
        return pd.DataFrame(rows, columns=["name", "display_name", "contacts"])

    @staticmethod
    def _check_contacts(contacts: Any) -> list[dict[str, str]]:
        if not isinstance(contacts, list) or len(contacts) > 20:
            raise ValidationError("contacts must be a list of at most 20 {channel, target} mappings",
                                  field="contacts")
        out, problems = [], []
        for i, c in enumerate(contacts, 1):
            if not isinstance(c, dict) or not isinstance(c.get("channel"), str) or not NAME.match(c["channel"]):
                problems.append(f"contact {i}: needs channel (a notify channel name)")
                continue
            extra = [k for k in c if k not in ("channel", "target")]
            if extra:
                problems.append(f"contact {i}: unknown field(s) {extra}")
            tgt = c.get("target")
            if tgt is not None and (not isinstance(tgt, str) or not tgt.strip() or len(tgt) > 2000):
                problems.append(f"contact {i}: target must be text")
            out.append({"channel": c["channel"], **({"target": tgt} if tgt else {})})
        if problems:
            raise ValidationError("invalid contacts:", problems, field="contacts")
        return out

    # --- schedules ----------------------------------------------------------------------------

    def create_schedule(self, *, name: str, timezone: str, layers: list[dict[str, Any]] | None = None,
                        members: list[str] | None = None, rotation: str = "weekly", every: Any = 1,
                        first_handoff: Any = None, handoff: str | None = None, description: str = "",
                        reason: str = "") -> ScheduleInfo:
        """Create a schedule (needs operator).

        Either give ``layers`` (lowest priority first; each a mapping with ``name``,
        ``members``, ``rotation`` daily|weekly|custom, ``every`` (count, or ``3d``/``2w`` for
        custom), ``first_handoff`` local wall-clock ``2025-03-03T09:00``, optional ``start``,
        ``end`` and ``window: ["09:00", "17:00"]``), or the one-layer shorthand ``members``,
        ``rotation``, ``every`` and ``first_handoff`` (or ``handoff="monday 09:00"``).

        Example:
            >>> ops.oncall.create_schedule(name="primary", timezone="America/New_York",   # doctest: +SKIP
            ...     members=["alice", "bob", "carol"], rotation="weekly", first_handoff="2025-03-03T09:00")
        """
        check_name(name, "schedule")
        rot.zone(timezone)
        built = _layers_from(layers, members=members, rotation_kind=rotation, every=every,
                             first_handoff=first_handoff, handoff=handoff, tz_name=timezone)
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="oncall.create_schedule")
            if s.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
                raise Conflict(f"schedule {name!r} exists; use update", kind="schedule", key=name)
            stored = [rot.layer_to_dict(x) for x in built]
            s.add(Schedule(name=name, timezone=timezone, description=str(description)[:2000], layers=stored,
                           created_at=utcnow(), created_by=self._ops.user, updated_at=utcnow()))
            self._ops.audit.record(action="oncall.create_schedule", target=name, reason=reason,
                                   params={"timezone": timezone, "layers": stored})
        return self.get(name)

    def update(self, name: str, *, timezone: str | None = None, layers: list[dict[str, Any]] | None = None,
               description: str | None = None, reason: str = "") -> ScheduleInfo:
        """Change a schedule's zone, layers or description (needs operator). Overrides are kept."""
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="oncall.update_schedule")
            row = self._schedule_row(s, name)
            tz = timezone or row.timezone
            rot.zone(tz)
            if layers is not None:
                built = _layers_from(layers, members=None, rotation_kind="weekly", every=1, first_handoff=None,
                                     handoff=None, tz_name=tz)
                row.layers = [rot.layer_to_dict(x) for x in built]
            row.timezone = tz
            if description is not None:
                row.description = str(description)[:2000]
            row.updated_at = utcnow()
            self._ops.audit.record(action="oncall.update_schedule", target=name, reason=reason,
                                   params={"timezone": tz, "layers": row.layers})
        return self.get(name)

    def get(self, name: str) -> ScheduleInfo:
        """A schedule by name."""
        with self._ops.db.session() as s:
            return _info(self._schedule_row(s, name))

    def list(self) -> pd.DataFrame:
        """Every schedule: name, zone, layers, members, who is on call now."""
        now = utcnow()
        with self._ops.db.session() as s:
            rows = []
            for r in s.scalars(select(Schedule).order_by(Schedule.name)):
                info = _info(r)
                rows.append({"name": r.name, "timezone": r.timezone, "layers": len(info.layers),
                             "members": rot.members_of(info.layers),
                             "on_call_now": rot.who(self._spec(s, r, now, now), now),
                             "description": r.description})
        return pd.DataFrame(rows, columns=["name", "timezone", "layers", "members", "on_call_now", "description"])

    @staticmethod
    def _schedule_row(s: Session, name: str) -> Schedule:
        row = s.scalar(select(Schedule).where(Schedule.name == name)) if isinstance(name, str) else None
        if row is None:
            hint = _did_you_mean(str(name), s.scalars(select(Schedule.name)).all(), "schedules")
            raise NotFound(f"no schedule {str(name)[:100]!r}{hint}", kind="schedule", key=str(name)[:100])
        return row

    @staticmethod
    def _spec(s: Session, row: Schedule, start: datetime, end: datetime) -> ScheduleSpec:
        """The schedule with the overrides that touch [start, end]."""
        ovs = s.scalars(select(ScheduleOverride).where(ScheduleOverride.schedule_id == row.id,
                                                       ScheduleOverride.end > start,
                                                       ScheduleOverride.start <= end))
        return ScheduleSpec(row.name, row.timezone, _info(row).layers,
                            tuple(Override(o.person, o.start, o.end, o.id) for o in ovs))

    def spec(self, schedule: str, start: Any = None, end: Any = None) -> ScheduleSpec:
        """The pure :class:`ScheduleSpec` of a schedule, with overrides touching [start, end]."""
        s0 = to_utc(start, what="start") if start is not None else datetime.min.replace(tzinfo=utcnow().tzinfo)
        e0 = to_utc(end, what="end") if end is not None else datetime.max.replace(tzinfo=utcnow().tzinfo)
        with self._ops.db.session() as s:
            return self._spec(s, self._schedule_row(s, schedule), s0, e0)

    def _spec_in(self, s: Session, schedule: str, at: datetime) -> ScheduleSpec:
        """Like :meth:`spec` for one instant, inside the caller's transaction (paging uses it)."""
        return self._spec(s, self._schedule_row(s, schedule), at, at)

    # --- overrides ----------------------------------------------------------------------------

    def add_override(self, schedule: str, *, person: str, start: Any, end: Any, reason: str = "") -> int:
        """Let ``person`` cover [start, end) (needs responder). A later override beats an earlier one.

        Returns:
            The override id.
        """
        person = check_person(person)
        s0, e0 = to_utc(start, what="start"), to_utc(end, what="end")
        if e0 <= s0:
            raise ValidationError(f"override end {e0.isoformat()} is not after start {s0.isoformat()}", field="end")
        if (e0 - s0).days > MAX_OVERRIDE_DAYS:
            raise ValidationError(f"an override may cover at most {MAX_OVERRIDE_DAYS} days", field="end")
        with self._ops.db.session() as s:
            self._ops.access.require("responder", action="oncall.add_override")
            return self._add_override(s, self._schedule_row(s, schedule), person, s0, e0, reason)

    def _add_override(self, s: Session, row: Schedule, person: str, s0: datetime, e0: datetime,
                      reason: str) -> int:
        o = ScheduleOverride(schedule_id=row.id, person=person, start=s0, end=e0, reason=str(reason)[:2000],
                             created_by=self._ops.user, created_at=utcnow())
        s.add(o)
        s.flush()
        self._ops.audit.record(action="oncall.add_override", target=row.name, reason=reason,
                               params={"id": o.id, "person": person, "start": s0.isoformat(), "end": e0.isoformat()})
        return int(o.id)

    def remove_override(self, schedule: str, override_id: int, *, reason: str = "") -> None:
        """Delete an override (needs responder)."""
        with self._ops.db.session() as s:
            self._ops.access.require("responder", action="oncall.remove_override")
            row = self._schedule_row(s, schedule)
            o = s.get(ScheduleOverride, int(override_id))
            if o is None or o.schedule_id != row.id:
                raise NotFound(f"no override {override_id} in schedule {schedule!r}", kind="override",
                               key=str(override_id))
            s.delete(o)
            self._ops.audit.record(action="oncall.remove_override", target=schedule, reason=reason,
                                   params={"id": int(override_id), "person": o.person})

    def overrides(self, schedule: str, start: Any = None, end: Any = None) -> pd.DataFrame:
        """Overrides of a schedule touching [start, end]."""
        spec = self.spec(schedule, start, end)
        df = pd.DataFrame([{"id": o.id, "person": o.person, "start": o.start, "end": o.end} for o in spec.overrides],
                          columns=["id", "person", "start", "end"])
        for c in ("start", "end"):
            df[c] = pd.to_datetime(df[c], utc=True)
        return df.sort_values("id", ignore_index=True)

    # --- questions ----------------------------------------------------------------------------

    def who_is_on_call(self, schedule: str, at: Any = None) -> str | None | pd.Series:
        """Who is on call in ``schedule`` at ``at`` (default now).

        Args:
            schedule: Schedule name.
            at: One instant (datetime or ISO text; naive means UTC), or many (a list,
                Series or DatetimeIndex) answered at once, vectorised.

        Returns:
            A name, or None when nobody is on call; a Series indexed by instant for many.
        """
        at = utcnow() if at is None else at
        t = rot.as_instants(at)
        if t.size == 0:
            return pd.Series([], dtype=object, name=schedule)
        lo = pd.Timestamp(int(t.min()), tz="UTC").to_pydatetime()
        hi = pd.Timestamp(int(t.max()), tz="UTC").to_pydatetime()
        return rot.who(self.spec(schedule, lo, hi), at)

    def final_shifts(self, schedule: str, start: Any, end: Any) -> pd.DataFrame:
        """The final shifts in [start, end) after layers and overrides.

        Returns:
            DataFrame ``start, end, person, source, hours`` (UTC; source is a layer name or
            ``override``); gaps where nobody is on call have no row.
        """
        s0, e0 = to_utc(start, what="start"), to_utc(end, what="end")
        if (e0 - s0).days > 3660:
            raise ValidationError("final_shifts covers at most ten years", field="end")
        return rot.shifts(self.spec(schedule, s0, e0), s0, e0)

    # --- policies -----------------------------------------------------------------------------

    def create_policy(self, *, name: str, levels: builtins.list[dict[str, Any]], repeat: int = 0, ack_timeout: Any = None,
                      channel: str | None = None, description: str = "", reason: str = "") -> dict[str, Any]:
        """Create an escalation policy (needs operator).

        Args:
            name: Policy name.
            levels: ``[{"targets": [{"schedule": "primary"}, {"person": "alice"}], "delay": "15m"}, ...]``.
            repeat: The whole chain runs 1 + repeat times, then the escalation is exhausted.
            ack_timeout: After an ack, re-trigger the chain if not resolved within this long.
            channel: Notify channel for people without contact methods.
        """
        spec = policy_from_dict({"name": name, "levels": levels, "repeat": repeat, "ack_timeout": ack_timeout,
                                 "channel": channel})
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="oncall.create_policy")
            if s.scalar(select(Policy.id).where(Policy.name == name)) is not None:
                raise Conflict(f"escalation policy {name!r} exists; use update_policy", kind="policy", key=name)
            stored = policy_to_dict(spec)
            s.add(Policy(name=name, description=str(description)[:2000], spec=stored, created_at=utcnow(),
                         created_by=self._ops.user, updated_at=utcnow()))
            self._ops.audit.record(action="oncall.create_policy", target=name, reason=reason, params=stored)
        return stored

    def update_policy(self, name: str, *, levels: builtins.list[dict[str, Any]] | None = None, repeat: int | None = None,
                      ack_timeout: Any = "unchanged", channel: Any = "unchanged", reason: str = "") -> dict[str, Any]:
        """Change an escalation policy (needs operator). Running escalations keep their timers."""
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="oncall.update_policy")
            row = s.scalar(select(Policy).where(Policy.name == name))
            if row is None:
                hint = _did_you_mean(str(name), s.scalars(select(Policy.name)).all(), "policies")
                raise NotFound(f"no escalation policy {name!r}{hint}", kind="policy", key=name)
            d = dict(row.spec)
            if levels is not None:
                d["levels"] = levels
            if repeat is not None:
                d["repeat"] = repeat
            if ack_timeout != "unchanged":
                d["ack_timeout"] = ack_timeout
            if channel != "unchanged":
                d["channel"] = channel
            stored = policy_to_dict(policy_from_dict(d))
            row.spec, row.updated_at = stored, utcnow()
            self._ops.audit.record(action="oncall.update_policy", target=name, reason=reason, params=stored)
        return stored

    def policy(self, name: str) -> PolicySpec:
        """An escalation policy as a value."""
        with self._ops.db.session() as s:
            return self._policy_in(s, name)

    @staticmethod
    def _policy_in(s: Session, name: str) -> PolicySpec:
        row = s.scalar(select(Policy).where(Policy.name == name)) if isinstance(name, str) else None
        if row is None:
            hint = _did_you_mean(str(name), s.scalars(select(Policy.name)).all(), "policies")
            raise NotFound(f"no escalation policy {str(name)[:100]!r}{hint}", kind="policy",
                           key=str(name)[:100])
        return policy_from_dict(dict(row.spec))

    def policies(self) -> pd.DataFrame:
        """Every escalation policy."""
        with self._ops.db.session() as s:
            rows = [{"name": r.name, "levels": len(r.spec["levels"]), "repeat": r.spec["repeat"],
                     "ack_timeout": r.spec.get("ack_timeout"), "channel": r.spec.get("channel"),
                     "description": r.description} for r in s.scalars(select(Policy).order_by(Policy.name))]
        return pd.DataFrame(rows, columns=["name", "levels", "repeat", "ack_timeout", "channel", "description"])

    def plan(self, policy: str, trigger_at: Any = None, ack_at: Any = None) -> pd.DataFrame:
        """Who would be notified when, sending nothing (a dry run).

        Schedule targets are resolved at each level's planned firing time, with the
        overrides stored now.

        Returns:
            DataFrame ``at, action, round, level, target_kind, target, person``
            (action: notify, ack, retrigger, exhausted).
        """
        t0 = to_utc(trigger_at, what="trigger_at") if trigger_at is not None else utcnow()
        ack = to_utc(ack_at, what="ack_at") if ack_at is not None else None
        with self._ops.db.session() as s:
            spec = self._policy_in(s, policy)
            cache: dict[str, ScheduleSpec] = {}

            def resolve(schedule: str, at: datetime) -> str | None:
                if schedule not in cache:
                    try:
                        cache[schedule] = self._spec(s, self._schedule_row(s, schedule), t0,
                                                     t0 + spec.cycle * (spec.repeat + 2) + (
                                                         (ack - t0) if ack else spec.cycle))
                    except NotFound:
                        return None
                return rot.who(cache[schedule], at)

            return plan_escalation(spec, t0, ack, resolve)

    # --- paging (see paging.py) -------------------------------------------------------------

    def escalate(self, *, policy: str, incident_id: str, subject: str, body: str = "", at: Any = None,
                 context: dict[str, Any] | None = None) -> int:
        """Start paging for an incident under a policy (needs responder); see :func:`paging.escalate`."""
        return paging.escalate(self._ops, policy=policy, incident_id=incident_id, subject=subject, body=body,
                               at=at, context=context)

    def acknowledge(self, incident_id: str, *, by: str | None = None, at: Any = None) -> dict[str, Any]:
        """Acknowledge an incident's pages: every pending notification is cancelled (needs responder).

        A still triggered incident of ``ops.incidents`` becomes acknowledged in the same transaction.
        """
        return paging.acknowledge(self._ops, incident_id, by=by, at=at)

    def resolve(self, incident_id: str, *, by: str | None = None, at: Any = None) -> dict[str, Any]:
        """End an incident's escalation: cancels pending pages and any ack-timeout re-trigger."""
        return paging.resolve(self._ops, incident_id, by=by, at=at)

    def tick(self, now: Any = None) -> pd.DataFrame:
        """Fire every due escalation timer (the scheduler calls this); returns what fired."""
        return paging.tick(self._ops, now=now)

    def escalations(self, incident_id: str | None = None, *, status: str | None = None) -> pd.DataFrame:
        """Escalations, newest first."""
        return paging.escalations(self._ops, incident_id=incident_id, status=status)

    def timers(self, incident_id: str | None = None) -> pd.DataFrame:
        """Escalation timers (pending, fired, cancelled), by due time."""
        return paging.timers(self._ops, incident_id=incident_id)

    # --- files --------------------------------------------------------------------------------

    def export_ical(self, schedule: str, start: Any, end: Any, *, tzid: bool = False) -> str:
        """The final shifts in [start, end) as an RFC 5545 calendar.

        Args:
            tzid: Write local times in the schedule's zone (``TZID=`` with a VTIMEZONE)
                instead of UTC.
        """
        from opsnb.oncall.ical import export_shifts

        s0, e0 = to_utc(start, what="start"), to_utc(end, what="end")
        tz = self.get(schedule).timezone if tzid else None
        return export_shifts(schedule, self.final_shifts(schedule, s0, e0), stamp=utcnow(), tz_name=tz)

    def export_pagerduty(self, schedule: str, *, user_ids: dict[str, str] | None = None) -> PagerDutySchedule:
        """The schedule as a PagerDuty REST API v2 Schedule object (``POST /schedules`` body).

        Args:
            user_ids: PagerDuty user id per person (PagerDuty names users by its own ids).

        Returns:
            ``body`` (the layers, see :mod:`opsnb.oncall.pagerduty`) and ``notes`` (unmapped
            users, overrides left out), with ``overrides`` the body of ``POST /schedules/{id}/overrides``.
        """
        from opsnb.oncall.pagerduty import overrides_object, schedule_object

        info = self.get(schedule)
        spec = self.spec(schedule)
        out = schedule_object(spec, description=info.description, user_ids=user_ids)
        out.overrides = overrides_object(spec, user_ids=user_ids)
        return out

    def import_ical(self, schedule: str, text: str | bytes, *, reason: str = "") -> OverrideImport:
        """Import the events of a calendar as overrides of a schedule, all or nothing (needs responder).

        Each occurrence of a VEVENT (recurrences expanded, EXDATEs left out) becomes an override;
        the person is ``X-OPSNB-PERSON``, else the ``SUMMARY`` (``On call: alice`` or ``alice``).

        Returns:
            The new override ids; ``.notes`` says what the import could not represent
            (e.g. a rule without an end, imported up to a horizon).
        """
        from opsnb.oncall.ical import parse_calendar

        with self._ops.db.session() as s:
            self._ops.access.require("responder", action="oncall.import_ical")
            row = self._schedule_row(s, schedule)
            read = parse_calendar(text, default_tz=row.timezone)
            out = OverrideImport(self._add_override(s, row, check_person(e.person), e.start, e.end,
                                                    reason or f"imported from iCalendar {e.uid}"[:2000])
                                 for e in read.events)
            out.notes = read.notes
            return out

    def import_yaml(self, path: str | Path, *, reason: str = "") -> dict[str, builtins.list[str]]:
        """Create people, schedules and policies from an on-call YAML file, all or nothing.

        See :mod:`opsnb.oncall.config` for the format.
        """
        from opsnb.oncall.config import apply, load

        return apply(self, load(path), reason=reason or f"imported from {Path(path).name}")


class OverrideImport(builtins.list[int]):
    """The override ids an iCalendar import created, with ``notes`` on what it could not represent."""

    notes: builtins.list[str]

    def __init__(self, ids: Any = ()) -> None:
        super().__init__(ids)
        self.notes = []


def _info(row: Schedule) -> ScheduleInfo:
    layers = tuple(rot.layer_from_dict(d) for d in row.layers)
    return ScheduleInfo(row.name, row.timezone, row.description, layers, row.created_at, row.updated_at)
