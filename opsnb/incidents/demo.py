"""The incidents share of the demo world: each injected incident with its timeline and milestones."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opsnb.incidents import hooks

if TYPE_CHECKING:
    from opsnb.demo.world import DemoIncident, DemoWorld
    from opsnb.workbench import Workbench


def _people(world: DemoWorld) -> list[str]:
    names = sorted(u for u, r in world.users.items() if r in ("responder", "operator", "admin") and "bot" not in u)
    return names or ["alice", "bob", "carol"]


def seed(ops: Workbench, world: DemoWorld) -> None:
    """Store ``world.incidents``: status resolved (closed once a day has passed), milestones as planned,
    a timeline telling the story (alert, page, ack, notes, mitigation, resolution), links to deploys,
    servers and SLOs."""
    from opsnb.incidents.models import IncidentRow

    svc = ops.incidents
    people = _people(world)
    with ops.db.session() as s:
        for n, inc in enumerate(world.incidents):
            commander = people[n % len(people)]
            responder = people[(n + 1) % len(people)]
            hooks.create(ops, title=inc.title, service=inc.service, severity=inc.severity,
                         impact_start=inc.impact_start, detected_at=inc.detected_at, commander=commander, id=inc.id,
                         actor="demo", reason="demo")
            row = s.get(IncidentRow, inc.id)
            assert row is not None
            _story(ops, inc, commander, responder)
            closed = inc.resolved_at + timedelta(days=1) <= world.end
            row.paged_at, row.acknowledged_at = inc.detected_at, inc.acknowledged_at
            row.mitigated_at, row.resolved_at = inc.mitigated_at, inc.resolved_at
            row.status = "closed" if closed else "resolved"
            row.responders = [responder]
            if closed:
                row.closed_at = inc.resolved_at + timedelta(days=1)
                hooks.add_timeline(ops, inc.id, kind="status", at=row.closed_at, actor=commander,
                                   data={"from": "resolved", "to": "closed", "reason": "postmortem done"})
            row.updated_at = row.closed_at or inc.resolved_at
            pairs = [("server", h) for h in inc.servers] + [("slo", x) for x in inc.slos] + \
                [("service", inc.service)] + ([("deploy", inc.deploy_id)] if inc.deploy_id else [])
            svc._link(s, inc.id, pairs, commander, inc.acknowledged_at)


def _story(ops: Workbench, inc: DemoIncident, commander: str, responder: str) -> None:
    def add(iid: str, **kw: Any) -> None:
        hooks.add_timeline(ops, iid, **kw)

    add(inc.id, kind="page", at=inc.detected_at, actor="opsnb-oncall",
        data={"user": commander, "channel": "slack", "level": 1})
    add(inc.id, kind="ack", at=inc.acknowledged_at, actor=commander, data={"user": commander})
    add(inc.id, kind="status", at=inc.acknowledged_at, actor=commander,
        data={"from": "triggered", "to": "acknowledged", "reason": ""})
    cause = {"bad-deploy": f"error rate up right after deploy {inc.deploy_id or ''}; rolling back",
             "disk-full": f"{', '.join(inc.servers)} at 100 % disk; clearing old WAL files",
             "latency-regression": "p99 latency of search up 6x; suspect the new ranking index"}
    add(inc.id, kind="note", at=inc.acknowledged_at + timedelta(minutes=2), actor=responder,
        data={"text": cause.get(inc.cause, inc.cause)})
    if inc.deploy_id:
        add(inc.id, kind="deploy", at=inc.acknowledged_at + timedelta(minutes=4), actor=responder,
            data={"deploy": inc.deploy_id, "action": "rollback"})
    add(inc.id, kind="status", at=inc.mitigated_at, actor=commander,
        data={"from": "acknowledged", "to": "mitigated", "reason": "impact stopped"})
    add(inc.id, kind="status", at=inc.resolved_at, actor=commander,
        data={"from": "mitigated", "to": "resolved", "reason": "metrics back to baseline"})
