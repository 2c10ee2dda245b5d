"""Seed the demo's on-call share: a weekly schedule, an escalation policy, and the pages of past incidents."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opsnb.oncall.rotation import first_weekday_handoff, zone

if TYPE_CHECKING:
    from opsnb.demo.world import DemoWorld
    from opsnb.workbench import Workbench


def seed(ops: Workbench, world: DemoWorld) -> None:
    """Create schedule ``primary`` and policy ``default`` from ``world.oncall``, then replay each
    incident's page and acknowledgement so escalations and timelines match the ground truth.

    ``world.oncall`` is either the shorthand ``{"members", "timezone", "rotation", "handoff"}``
    or the on-call YAML structure (``schedules``, ``escalation_policies``, ``people``).
    """
    spec: dict[str, Any] = dict(world.oncall or {})
    if "schedules" in spec or "escalation_policies" in spec:
        from opsnb.oncall.config import apply

        apply(ops.oncall, spec, reason="demo world")
        policy = next(iter(p["name"] for p in spec.get("escalation_policies") or []), None)
    else:
        members = list(spec.get("members") or []) or sorted(world.users) or ["oncall"]
        tz = str(spec.get("timezone") or "UTC")
        # First handoff on or before the demo start, so the whole window is covered.
        local_start = world.start.astimezone(zone(tz)).date() - timedelta(days=7)
        first = first_weekday_handoff(str(spec.get("handoff") or "monday 09:00"), local_start)
        ops.oncall.create_schedule(name="primary", timezone=tz, members=members,
                                   rotation=str(spec.get("rotation") or "weekly"), first_handoff=first,
                                   description="demo: primary on-call", reason="demo world")
        backup = members[1:] + members[:1]
        ops.oncall.create_schedule(name="secondary", timezone=tz, members=backup,
                                   rotation=str(spec.get("rotation") or "weekly"), first_handoff=first,
                                   description="demo: secondary (primary's queue shifted by one)",
                                   reason="demo world")
        ops.oncall.create_policy(name="default", repeat=1, ack_timeout="1h", levels=[
            {"targets": [{"schedule": "primary"}], "delay": "5m"},
            {"targets": [{"schedule": "secondary"}], "delay": "10m"}],
            description="demo: primary, then secondary after 5 minutes", reason="demo world")
        policy = "default"
    if policy is None:
        return
    for inc in sorted(world.incidents, key=lambda i: i.detected_at):
        ops.oncall.escalate(policy=policy, incident_id=inc.id, subject=f"[{inc.severity}] {inc.title}",
                            body=f"{inc.service}: {inc.cause}", at=inc.detected_at)
        if inc.acknowledged_at > inc.detected_at:
            ops.oncall.tick(now=inc.acknowledged_at - timedelta(microseconds=1))
        ops.oncall.acknowledge(inc.id, at=inc.acknowledged_at, by=None)
        ops.oncall.resolve(inc.id, at=inc.resolved_at)
