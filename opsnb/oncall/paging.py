"""Paging for real: escalations whose timers are database rows.

``escalate`` writes every timer of the chain at once (one row per level and
round, plus the ``exhaust`` timer); ``tick`` fires the due ones. Each timer is
claimed with a conditional UPDATE (pending -> fired) so that with several
ticking processes a page goes out once, and the notifications it causes are
recorded in the same transaction (:func:`opsnb.notify.hooks.record`), then tried
after commit. A process that dies after commit leaves the deliveries pending:
the next ``ops.notify.tick()`` of any process sends them. Nothing lives in
memory, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsnb.errors import OpsnbError, ValidationError
from opsnb.incidents import hooks as incident_hooks
from opsnb.notify import hooks as notify_hooks
from opsnb.oncall import rotation
from opsnb.oncall.escalation import PolicySpec, steps
from opsnb.oncall.models import Escalation, Person, Policy, Timer
from opsnb.oncall.rotation import to_utc
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)
OPEN = ("active", "acknowledged", "exhausted")
MAX_TICK_ROUNDS = 50


def _check_incident(incident_id: Any) -> str:
    if (not isinstance(incident_id, str) or not incident_id.strip() or len(incident_id) > 100
            or any(c in incident_id for c in "\r\n\x00")):
        raise ValidationError(f"incident id {str(incident_id)[:60]!r} is not an id like INC-7", field="incident_id")
    from opsnb.incidents.service import normalise_id

    return normalise_id(incident_id)  # inc-7 and 7 mean INC-7, as everywhere else


def _chain(s: Session, esc: Escalation, spec: PolicySpec, start: datetime) -> None:
    chain, exhausted_at = steps(spec, start)
    for st in chain:
        s.add(Timer(escalation_id=esc.id, kind="page", due_at=st.at, round=st.round, level=st.level,
                    generation=esc.generation, status="pending", result=[]))
    s.add(Timer(escalation_id=esc.id, kind="exhaust", due_at=exhausted_at, round=spec.repeat, level=0,
                generation=esc.generation, status="pending", result=[]))


def escalate(ops: Workbench, *, policy: str, incident_id: str, subject: str, body: str = "", at: Any = None,
             context: dict[str, Any] | None = None) -> int:
    """Start paging for an incident: write the chain's timers, then fire what is due at ``at``.

    Idempotent per incident: while an escalation of the incident is open
    (active, acknowledged or exhausted), its id is returned and nothing new starts.

    Args:
        policy: Escalation policy name.
        incident_id: The incident, e.g. ``INC-7``.
        subject: One line, sent with every page.
        body: Text sent with every page.
        at: When the escalation starts (default now); level 1 fires then.
        context: Extra JSON data passed to the notifications.

    Returns:
        The escalation id.
    """
    incident_id = _check_incident(incident_id)
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 1000:
        raise ValidationError("subject must be one line of text (1..1000 characters)", field="subject")
    if not isinstance(body, str) or len(body) > 100_000:
        raise ValidationError("body must be text of at most 100000 characters", field="body")
    if context is not None and not isinstance(context, dict):
        raise ValidationError("context must be a mapping", field="context")
    t0 = to_utc(at, what="at") if at is not None else utcnow()
    with ops.db.session() as s:
        ops.access.require("responder", action="oncall.escalate")
        spec = ops.oncall._policy_in(s, policy)
        existing = s.scalar(select(Escalation.id).where(Escalation.incident_id == incident_id,
                                                        Escalation.status.in_(OPEN)))
        if existing is not None:
            return int(existing)
        pid = s.scalar(select(Policy.id).where(Policy.name == policy))
        esc = Escalation(incident_id=incident_id, policy_id=pid, policy_name=policy, status="active",
                         subject=" ".join(subject.split()), body=body, context=dict(context or {}), generation=0,
                         started_at=t0, created_by=ops.user)
        s.add(esc)
        s.flush()
        _chain(s, esc, spec, t0)
        ops.audit.record(action="oncall.escalate", target=incident_id,
                         params={"policy": policy, "escalation": esc.id, "at": t0.isoformat(), "subject": subject})
        eid = int(esc.id)
    tick(ops, now=t0)
    return eid


def _cancel(s: Session, escalation_ids: list[int]) -> int:
    if not escalation_ids:
        return 0
    res = s.execute(update(Timer).where(Timer.escalation_id.in_(escalation_ids), Timer.status == "pending")
                    .values(status="cancelled"))
    return int(getattr(res, "rowcount", 0) or 0)


def acknowledge(ops: Workbench, incident_id: str, *, by: str | None = None, at: Any = None) -> dict[str, Any]:
    """Cancel every pending page of an incident; arm the policy's ack timeout if it has one.

    Acknowledging an incident that was never paged is not an error: nothing is cancelled.
    An incident opsnb tracks that is still ``triggered`` becomes ``acknowledged`` in the same
    transaction (``ops.incidents.update(status="acknowledged")`` comes here too, after its change:
    the incident is acknowledged already then, so nothing loops).

    Returns:
        ``{"incident_id", "escalations", "cancelled", "retrigger_at", "incident_status"}``
        (``incident_status`` None when opsnb does not track the incident; ``incident_error``
        when the incident could not follow, e.g. an ack time before it was detected).
    """
    incident_id = _check_incident(incident_id)
    t = to_utc(at, what="at") if at is not None else utcnow()
    who = by or ops.user
    retrigger_at = None
    incident: dict[str, Any] = {"incident_status": None}
    with ops.db.session() as s:
        ops.access.require("responder", action="oncall.acknowledge")
        incident = _incident_follows(ops, s, incident_id, who, t)
        escs = list(s.scalars(select(Escalation).where(Escalation.incident_id == incident_id,
                                                       Escalation.status.in_(("active", "exhausted")))))
        cancelled = _cancel(s, [e.id for e in escs])
        for e in escs:
            e.status, e.acked_at, e.acked_by = "acknowledged", t, who
            spec = ops.oncall._policy_in(s, e.policy_name)
            if spec.ack_timeout is not None:
                retrigger_at = t + spec.ack_timeout
                s.add(Timer(escalation_id=e.id, kind="retrigger", due_at=retrigger_at, round=0, level=0,
                            generation=e.generation, status="pending", result=[]))
        # Audited when pages were cancelled, and for an incident opsnb does not track (nothing else would
        # record that someone acknowledged it); a tracked incident's own change is audited as incident.update.
        if escs or incident.get("incident_status") is None:
            ops.audit.record(action="oncall.acknowledge", target=incident_id,
                             params={"by": who, "at": t.isoformat(), "cancelled": cancelled,
                                     "escalations": [e.id for e in escs]})
        if escs:
            _timeline(ops, s, incident_id, "ack", t, who,
                      {"cancelled": cancelled, "retrigger_at": retrigger_at.isoformat() if retrigger_at else None})
    return {"incident_id": incident_id, "escalations": len(escs), "cancelled": cancelled,
            "retrigger_at": retrigger_at, **incident}


def _incident_follows(ops: Workbench, s: Session, incident_id: str, who: str, t: datetime) -> dict[str, Any]:
    """Acknowledge the incident itself if it is still triggered (incidents domain, our transaction)."""
    try:
        with s.begin_nested():  # a refusal (milestone order) must not undo the ack of the pages
            return {"incident_status": incident_hooks.acknowledge_from_page(ops, incident_id, by=who, at=t)}
    except OpsnbError as exc:
        log.warning("acknowledging %s did not acknowledge the incident: %s", incident_id, exc)
        return {"incident_status": None, "incident_error": str(exc)[:500]}


def resolve(ops: Workbench, incident_id: str, *, by: str | None = None, at: Any = None) -> dict[str, Any]:
    """End every open escalation of an incident: pending pages and re-triggers are cancelled."""
    incident_id = _check_incident(incident_id)
    t = to_utc(at, what="at") if at is not None else utcnow()
    with ops.db.session() as s:
        ops.access.require("responder", action="oncall.resolve")
        escs = list(s.scalars(select(Escalation).where(Escalation.incident_id == incident_id,
                                                       Escalation.status.in_(OPEN))))
        cancelled = _cancel(s, [e.id for e in escs])
        for e in escs:
            e.status, e.ended_at = "resolved", t
        if escs:
            ops.audit.record(action="oncall.resolve", target=incident_id,
                             params={"by": by or ops.user, "cancelled": cancelled})
    return {"incident_id": incident_id, "escalations": len(escs), "cancelled": cancelled}


def _contacts(s: Session, person: str, spec: PolicySpec) -> list[tuple[str, str | None]]:
    row = s.get(Person, person)
    found = [(c["channel"], c.get("target")) for c in (row.contacts if row else [])]
    if not found and spec.channel:
        found = [(spec.channel, None)]
    return found


def _fire_page(ops: Workbench, s: Session, timer: Timer, esc: Escalation, spec: PolicySpec,
               now: datetime) -> tuple[list[int], list[dict[str, Any]]]:
    level = spec.levels[timer.level] if timer.level < len(spec.levels) else None
    results: list[dict[str, Any]] = []
    deliveries: list[int] = []
    if level is None:
        return [], [{"error": f"policy {spec.name!r} has no level {timer.level + 1} any more"}]
    for target in level.targets:
        person: str | None = target.name
        entry: dict[str, Any] = {"target": f"{target.kind}:{target.name}"}
        if target.kind == "schedule":
            try:  # resolved when the level fires, so a handoff during escalation is honoured
                person = rotation.who(ops.oncall._spec_in(s, target.name, now), now)
            except OpsnbError as exc:
                results.append({**entry, "person": None, "error": str(exc)})
                continue
            if person is None:
                results.append({**entry, "person": None, "error": "nobody on call"})
                continue
        assert person is not None
        entry["person"] = person
        contacts = _contacts(s, person, spec)
        if not contacts:
            results.append({**entry, "error": "no contact method and the policy has no channel"})
            continue
        sent: list[dict[str, Any]] = []
        for i, (channel, tgt) in enumerate(contacts):
            key = f"esc{esc.id}:g{timer.generation}:r{timer.round}:l{timer.level}:{person}:{i}"
            body = (f"Paging {person} for {esc.incident_id} (level {timer.level + 1}, round {timer.round + 1} "
                    f"of {spec.repeat + 1}, policy {spec.name})\n\n{esc.body}").strip()
            context: dict[str, Any] = {**esc.context, "incident_id": esc.incident_id, "person": person,
                                       "level": timer.level + 1, "round": timer.round + 1, "escalation": esc.id}
            try:
                did = notify_hooks.record(ops, channel=channel, target=tgt, subject=esc.subject, body=body,
                                          dedup_key=key, context=context, now=now)
            except OpsnbError as exc:  # a deleted or disabled channel: record it, page the others
                sent.append({"channel": channel, "error": str(exc)[:300]})
                continue
            deliveries.append(did)
            sent.append({"channel": channel, "delivery": did})
        results.append({**entry, "sent": sent})
    return deliveries, results


def tick(ops: Workbench, now: Any = None) -> pd.DataFrame:
    """Fire every due timer (pages, exhaustion, ack-timeout re-triggers), oldest first.

    Safe to run from several processes at once: each timer is claimed by one.

    Returns:
        The timers fired: ``timer, escalation, incident_id, kind, due_at, round, level, result``.
    """
    t = to_utc(now, what="now") if now is not None else utcnow()
    fired: list[dict[str, Any]] = []
    for _ in range(MAX_TICK_ROUNDS):  # a re-trigger creates timers that are due at once
        with ops.db.session() as s:
            due = list(s.scalars(select(Timer.id).where(Timer.status == "pending", Timer.due_at <= t)
                                 .order_by(Timer.due_at, Timer.id).limit(500)))
        if not due:
            break
        for tid in due:
            out = _fire(ops, tid, t)
            if out is not None:
                fired.append(out)
    df = pd.DataFrame(fired, columns=["timer", "escalation", "incident_id", "kind", "due_at", "round", "level",
                                      "result"])
    df["due_at"] = pd.to_datetime(df["due_at"], utc=True)
    return df


def _fire(ops: Workbench, tid: int, now: datetime) -> dict[str, Any] | None:
    deliveries: list[int] = []
    timeline: list[tuple[str, dict[str, Any]]] = []
    with ops.db.session() as s:
        res = s.execute(update(Timer).where(Timer.id == tid, Timer.status == "pending")
                        .values(status="fired", fired_at=now))
        claimed = getattr(res, "rowcount", 0)
        if claimed != 1:
            return None  # another process fired or cancelled it
        timer = s.get(Timer, tid)
        assert timer is not None
        esc = s.get(Escalation, timer.escalation_id)
        assert esc is not None
        spec = ops.oncall._policy_in(s, esc.policy_name)
        result: list[dict[str, Any]] = []
        if timer.kind == "page":
            deliveries, result = _fire_page(ops, s, timer, esc, spec, now)
            ops.audit.record(action="oncall.page", target=esc.incident_id, actor="opsnb-scheduler",
                             params={"escalation": esc.id, "round": timer.round + 1, "level": timer.level + 1,
                                     "result": result})
            timeline.append(("page", {"escalation": esc.id, "round": timer.round + 1, "level": timer.level + 1,
                                      "notified": [r.get("person") for r in result if r.get("sent")],
                                      "result": result}))
        elif timer.kind == "exhaust":
            esc.status = "exhausted"  # the incident stays open; an ack still counts
            ops.audit.record(action="oncall.exhausted", target=esc.incident_id, actor="opsnb-scheduler",
                             params={"escalation": esc.id, "policy": esc.policy_name})
            timeline.append(("escalation", {"event": "exhausted", "escalation": esc.id,
                                            "policy": esc.policy_name}))
        elif timer.kind == "retrigger":
            esc.status, esc.generation = "active", esc.generation + 1
            esc.acked_at = esc.acked_by = None
            _chain(s, esc, spec, timer.due_at)
            ops.audit.record(action="oncall.retrigger", target=esc.incident_id, actor="opsnb-scheduler",
                             params={"escalation": esc.id, "generation": esc.generation})
            timeline.append(("escalation", {"event": "retrigger", "escalation": esc.id,
                                            "generation": esc.generation}))
        timer.result = result
        for kind, data in timeline:
            _timeline(ops, s, esc.incident_id, kind, now, "opsnb-scheduler", data)
        out = {"timer": tid, "escalation": esc.id, "incident_id": esc.incident_id, "kind": timer.kind,
               "due_at": timer.due_at, "round": timer.round + 1, "level": timer.level + 1, "result": result}
    if deliveries:
        ops.notify.attempt(deliveries, now=now)
    return out


def _timeline(ops: Workbench, s: Session, incident_id: str, kind: str, at: datetime, actor: str,
              data: dict[str, Any]) -> None:
    """Add an entry to the incident's timeline, in our transaction."""
    try:
        with s.begin_nested():
            incident_hooks.add_timeline(ops, incident_id, kind=kind, at=at, actor=actor, data=data)
    except OpsnbError:
        pass  # an incident opsnb does not track (an external id): paging still happened


def escalations(ops: Workbench, *, incident_id: str | None = None, status: str | None = None) -> pd.DataFrame:
    q = select(Escalation).order_by(Escalation.id.desc())
    if incident_id:
        q = q.where(Escalation.incident_id == incident_id)
    if status:
        q = q.where(Escalation.status == status)
    with ops.db.session() as s:
        rows = [{"id": e.id, "incident_id": e.incident_id, "policy": e.policy_name, "status": e.status,
                 "generation": e.generation, "started_at": e.started_at, "acked_at": e.acked_at,
                 "acked_by": e.acked_by, "ended_at": e.ended_at, "subject": e.subject} for e in s.scalars(q)]
    df = pd.DataFrame(rows, columns=["id", "incident_id", "policy", "status", "generation", "started_at",
                                     "acked_at", "acked_by", "ended_at", "subject"])
    for c in ("started_at", "acked_at", "ended_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def timers(ops: Workbench, *, incident_id: str | None = None) -> pd.DataFrame:
    q = select(Timer, Escalation.incident_id).join(Escalation, Escalation.id == Timer.escalation_id)
    if incident_id:
        q = q.where(Escalation.incident_id == incident_id)
    with ops.db.session() as s:
        rows = [{"id": t.id, "escalation": t.escalation_id, "incident_id": inc, "kind": t.kind, "due_at": t.due_at,
                 "round": t.round + 1, "level": t.level + 1, "generation": t.generation, "status": t.status,
                 "fired_at": t.fired_at, "result": t.result}
                for t, inc in s.execute(q.order_by(Timer.due_at, Timer.id))]
    df = pd.DataFrame(rows, columns=["id", "escalation", "incident_id", "kind", "due_at", "round", "level",
                                     "generation", "status", "fired_at", "result"])
    for c in ("due_at", "fired_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df
