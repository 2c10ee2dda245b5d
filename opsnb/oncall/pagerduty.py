"""On-call schedules as PagerDuty REST API v2 ``Schedule`` objects (schedule layers).

:func:`schedule_object` writes the body of ``POST /schedules`` (or ``PUT /schedules/{id}``):
``{"schedule": {"type": "schedule", "name", "time_zone", "description", "schedule_layers": [...]}}``.
Each opsnb layer becomes one schedule layer:

* ``rotation_virtual_start``: handoff 0 (the first member starts), in the schedule's zone with
  its offset; ``start`` the layer's own start if later (before handoff 0 the layer is empty,
  as in opsnb); ``end`` the layer's end or ``null``;
* ``rotation_turn_length_seconds``: ``period_days * 86400``. PagerDuty turns a schedule in its
  ``time_zone``, keeping the handoff's local time across DST changes, which is opsnb's rule
  (a weekly turn across spring-forward is 167 hours);
* ``users``: the members in rotation order as ``user_reference`` objects. PagerDuty names users
  by its own ids (``PXPGF42``): pass ``user_ids`` to map opsnb names; an unmapped name is written
  as it is and listed in the notes;
* ``restrictions``: a layer's daily ``window`` becomes one ``daily_restriction`` (start time of
  day, duration); outside it the layer is empty and the rotation still advances, in both systems.

Layers are listed lowest first, the order PagerDuty reads them in a request (Layer 1 first; a
later layer wins where it has someone, as in opsnb). PagerDuty's GET answers list them the other
way round. Overrides are not part of a Schedule object (PagerDuty takes them at
``POST /schedules/{id}/overrides``): :func:`overrides_object` writes that body.

:func:`pagerduty_handoffs` and :func:`pagerduty_who` read a Schedule object back the way
PagerDuty computes it, independently of :mod:`opsnb.oncall.rotation`, so tests can check that
the export implies the same hand-offs as opsnb's own rotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from opsnb.oncall.rotation import Layer, ScheduleSpec, place, zone

DAY_S = 86_400
MAX_TURN_S = 365 * DAY_S  # PagerDuty: a turn cannot exceed one year


@dataclass
class PagerDutySchedule:
    """An exported schedule: the request ``body``, ``notes`` on what needs a person's eye, and
    ``overrides`` (the body of ``POST /schedules/{id}/overrides``, when exported from a workspace)."""

    body: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)


def _iso(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).isoformat(timespec="seconds")


def _user(name: str, user_ids: Mapping[str, str], unmapped: set[str]) -> dict[str, Any]:
    pid = user_ids.get(name)
    if pid is None:
        unmapped.add(name)
        pid = name
    return {"user": {"id": pid, "type": "user_reference", "summary": name}}


def _restriction(window: tuple[time, time]) -> dict[str, Any] | None:
    a = window[0].hour * 3600 + window[0].minute * 60 + window[0].second
    b = window[1].hour * 3600 + window[1].minute * 60 + window[1].second
    if a == b:  # opsnb: from == to is the whole day
        return None
    return {"type": "daily_restriction", "start_time_of_day": window[0].strftime("%H:%M:%S"),
            "duration_seconds": (b - a) % DAY_S}


def layer_object(layer: Layer, tz_name: str, *, user_ids: Mapping[str, str] | None = None,
                 unmapped: set[str] | None = None) -> dict[str, Any]:
    """One opsnb layer as a PagerDuty ``schedule_layers`` entry."""
    tz = zone(tz_name)
    virtual = place(layer.first_handoff, tz)
    start = max(virtual, layer.start) if layer.start else virtual
    out: dict[str, Any] = {
        "name": layer.name,
        "start": _iso(start, tz),
        "end": _iso(layer.end, tz) if layer.end else None,
        "rotation_virtual_start": _iso(virtual, tz),
        "rotation_turn_length_seconds": layer.period_days * DAY_S,
        "users": [_user(m, user_ids or {}, unmapped if unmapped is not None else set()) for m in layer.members],
        "restrictions": [],
    }
    if layer.window is not None:
        r = _restriction(layer.window)
        if r:
            out["restrictions"].append(r)
    return out


def schedule_object(spec: ScheduleSpec, *, description: str = "",
                    user_ids: Mapping[str, str] | None = None) -> PagerDutySchedule:
    """A schedule as the body of PagerDuty's ``POST /schedules``.

    Args:
        spec: The schedule (its overrides are left out; see :func:`overrides_object`).
        description: The schedule's description.
        user_ids: PagerDuty user id per opsnb person; unmapped names are written as they are.

    Returns:
        The body and notes (names that still need a PagerDuty id, overrides left out, layers
        whose turn PagerDuty cannot take).
    """
    unmapped: set[str] = set()
    layers = [layer_object(x, spec.timezone, user_ids=user_ids, unmapped=unmapped) for x in spec.layers]
    notes: list[str] = []
    for x in spec.layers:
        if x.period_days * DAY_S > MAX_TURN_S:
            notes.append(f"layer {x.name!r}: a turn of {x.period_days} days is longer than PagerDuty allows "
                         "(one year)")
    if unmapped:
        notes.append("users without a PagerDuty id (written as their opsnb name; map them with user_ids / "
                     f"--user-id NAME=PID): {', '.join(sorted(unmapped))}")
    if spec.overrides:
        notes.append(f"{len(spec.overrides)} override(s) are not part of a Schedule object; PagerDuty takes "
                     "them at POST /schedules/{id}/overrides")
    body = {"schedule": {"type": "schedule", "name": spec.name, "time_zone": spec.timezone,
                         "description": description, "schedule_layers": layers}}
    return PagerDutySchedule(body, notes)


def overrides_object(spec: ScheduleSpec, *, user_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The schedule's overrides as the body of PagerDuty's ``POST /schedules/{id}/overrides``."""
    tz = zone(spec.timezone)
    unmapped: set[str] = set()
    return {"overrides": [{"start": _iso(o.start, tz), "end": _iso(o.end, tz),
                           **_user(o.person, user_ids or {}, unmapped)}
                          for o in sorted(spec.overrides, key=lambda o: (o.start, o.id))]}


# ---------------------------------------------------------------- reading it back, as PagerDuty does
def _parse(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return t.astimezone(UTC)


def pagerduty_handoffs(layer: Mapping[str, Any], time_zone: str, start: datetime,
                       end: datetime) -> list[tuple[datetime, str]]:
    """``(instant, user id)`` of every turn of a schedule layer beginning in [start, end).

    A turn of whole days keeps the virtual start's local time in ``time_zone`` (PagerDuty's
    behaviour across DST); any other length is counted in elapsed seconds.
    """
    tz = ZoneInfo(time_zone)
    virtual = _parse(layer["rotation_virtual_start"])
    turn = int(layer["rotation_turn_length_seconds"])
    users = [u["user"]["id"] for u in layer["users"]]
    local0 = virtual.astimezone(tz).replace(tzinfo=None)
    out: list[tuple[datetime, str]] = []
    k = 0
    while True:
        if turn % DAY_S == 0:
            t = (local0 + timedelta(days=k * turn // DAY_S)).replace(tzinfo=tz, fold=0).astimezone(UTC)
        else:
            t = virtual + timedelta(seconds=k * turn)
        if t >= end:
            return out
        if t >= start:
            out.append((t, users[k % len(users)]))
        k += 1


def _in_restrictions(t: datetime, restrictions: list[Mapping[str, Any]], tz: ZoneInfo) -> bool:
    if not restrictions:
        return True
    local = t.astimezone(tz)
    secs = local.hour * 3600 + local.minute * 60 + local.second
    for r in restrictions:
        h, m, s = (int(x) for x in str(r["start_time_of_day"]).split(":"))
        a, d = h * 3600 + m * 60 + s, int(r["duration_seconds"])
        if r["type"] == "daily_restriction" and (secs - a) % DAY_S < d:
            return True
        if r["type"] == "weekly_restriction":
            wk = (local.isoweekday() - int(r["start_day_of_week"])) % 7 * DAY_S + secs - a
            if wk % (7 * DAY_S) < d:
                return True
    return False


def pagerduty_who(body: Mapping[str, Any], at: datetime) -> str | None:
    """Who a PagerDuty Schedule object (as :func:`schedule_object` writes it) has on call at ``at``.

    Layers are read lowest first; a later layer with someone on call wins.
    """
    sched = body["schedule"]
    tz = ZoneInfo(sched["time_zone"])
    at = at.astimezone(UTC)
    found: str | None = None
    for layer in sched["schedule_layers"]:
        if at < _parse(layer["start"]) or (layer.get("end") and at >= _parse(layer["end"])):
            continue
        turns = pagerduty_handoffs(layer, sched["time_zone"], _parse(layer["rotation_virtual_start"]),
                                   at + timedelta(microseconds=1))
        if not turns or not _in_restrictions(at, layer.get("restrictions") or [], tz):
            continue
        found = turns[-1][1]
    return found

