"""The on-call YAML format, loaded and applied all or nothing.

::

    people:
      - name: alice
        contacts: [{channel: ops-mail, target: alice@example.com}]
    schedules:
      - name: primary
        timezone: America/New_York
        layers:                       # lowest priority first
          - name: weekly
            rotation: weekly          # daily | weekly | custom (every: 3d / 2w)
            first_handoff: "2025-03-03T09:00"   # local wall-clock time
            members: [alice, bob, carol]
        overrides:
          - {person: dave, start: "2025-03-05T00:00Z", end: "2025-03-06T00:00Z"}
    escalation_policies:
      - name: default
        repeat: 1
        ack_timeout: 30m
        levels:
          - {targets: [{schedule: primary}], delay: 15m}
          - {targets: [{person: carol}], delay: 15m}

A schedule may use the one-layer shorthand instead of ``layers``: ``members``,
``rotation``, ``every`` and ``first_handoff`` (or ``handoff: "monday 09:00"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsnb.bounded import load_yaml
from opsnb.errors import ParseError, ValidationError
from opsnb.oncall import rotation
from opsnb.oncall.escalation import policy_from_dict

if TYPE_CHECKING:
    from opsnb.oncall.service import OnCall

MAX_BYTES = 2 * 1024 * 1024
TOP = ("people", "schedules", "escalation_policies")
SCHEDULE_KEYS = {"name", "timezone", "description", "layers", "members", "rotation", "every", "first_handoff",
                 "handoff", "overrides"}


def load(path: str | Path) -> dict[str, Any]:
    """Read and check an on-call YAML file; a ParseError or ValidationError lists every problem."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ParseError(f"{p}: larger than {MAX_BYTES} bytes", source=str(p))
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParseError(f"cannot read {p}: {exc.strerror}", source=str(p)) from None
    except UnicodeDecodeError as exc:
        raise ParseError(f"{p} is not UTF-8: {exc}", source=str(p)) from None
    return parse(text, source=str(p))


def parse(text: str, *, source: str = "<text>") -> dict[str, Any]:
    """Parse and check on-call YAML text (safe loader: no tags, no objects)."""
    data = load_yaml(text, source=source)  # safe loader, with size, depth and alias limits
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: the top level must be a mapping with {', '.join(TOP)}", source=source)
    problems = [f"unknown top-level key {k!r} (known: {', '.join(TOP)})" for k in data if k not in TOP]
    for k in TOP:
        if k in data and not isinstance(data[k], list):
            problems.append(f"{k} must be a list")
    for i, sch in enumerate(data.get("schedules") or [], 1):
        if not isinstance(sch, dict):
            problems.append(f"schedules[{i}] must be a mapping")
            continue
        problems += [f"schedules[{i}]: unknown key {k!r}" for k in sch if k not in SCHEDULE_KEYS]
        try:
            rotation.zone(sch.get("timezone", ""))
        except ValidationError as exc:
            problems.append(f"schedules[{i}]: {exc}")
    for i, pol in enumerate(data.get("escalation_policies") or [], 1):
        try:
            policy_from_dict(pol)
        except ValidationError as exc:
            problems += [f"escalation_policies[{i}]: {p}" for p in (exc.problems or [str(exc)])]
    if problems:
        raise ValidationError(f"{source}: invalid on-call file:", problems, source=source)
    return data


def apply(oncall: OnCall, data: dict[str, Any], *, reason: str) -> dict[str, list[str]]:
    """Create everything in ``data``; on any failure, undo what this call created.

    Each create is its own audited transaction (they reuse the services' checks),
    so "all or nothing" is kept by compensation: created objects are deleted again.
    """
    done: dict[str, list[str]] = {"people": [], "schedules": [], "escalation_policies": []}
    try:
        for p in data.get("people") or []:
            if not isinstance(p, dict):
                raise ValidationError("each person must be a mapping with name and contacts")
            oncall.create_person(str(p.get("name", "")), display_name=str(p.get("display_name", "")),
                                 contacts=p.get("contacts") or [], reason=reason)
            done["people"].append(str(p["name"]))
        for sch in data.get("schedules") or []:
            kw = {k: v for k, v in sch.items() if k not in ("overrides",)}
            oncall.create_schedule(reason=reason, **kw)
            done["schedules"].append(str(sch["name"]))
            for o in sch.get("overrides") or []:
                if not isinstance(o, dict):
                    raise ValidationError(f"schedule {sch['name']!r}: overrides must be mappings")
                oncall.add_override(str(sch["name"]), person=str(o.get("person") or ""), start=o.get("start"),
                                    end=o.get("end"), reason=str(o.get("reason") or reason))
        for pol in data.get("escalation_policies") or []:
            oncall.create_policy(reason=reason, **{k: v for k, v in pol.items() if k != "description"},
                                 description=str(pol.get("description", "")))
            done["escalation_policies"].append(str(pol["name"]))
    except Exception:
        _undo(oncall, done)
        raise
    return done


def _undo(oncall: OnCall, done: dict[str, list[str]]) -> None:
    from sqlalchemy import delete

    from opsnb.oncall.models import Person, Policy, Schedule

    ops = oncall._ops
    with ops.db.session() as s:
        if done["escalation_policies"]:
            s.execute(delete(Policy).where(Policy.name.in_(done["escalation_policies"])))
        if done["schedules"]:
            from opsnb.oncall.models import ScheduleOverride

            ids = [i for (i,) in s.execute(Schedule.__table__.select().with_only_columns(Schedule.id)
                                           .where(Schedule.name.in_(done["schedules"])))]
            s.execute(delete(ScheduleOverride).where(ScheduleOverride.schedule_id.in_(ids)))
            s.execute(delete(Schedule).where(Schedule.id.in_(ids)))
        if done["people"]:
            s.execute(delete(Person).where(Person.name.in_(done["people"])))
        if any(done.values()):
            ops.audit.record(action="oncall.import_undone", target="oncall", params=done,
                             reason="import failed; created objects removed")
