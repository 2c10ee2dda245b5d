"""Seed the demo world's deploys (``world.deploys``) into the state database."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsnb.demo.world import DemoWorld
    from opsnb.workbench import Workbench


def seed(ops: Workbench, world: DemoWorld) -> None:
    """Record every deploy of the world, oldest first, through the service (so each is audited)."""
    for d in sorted(world.deploys, key=lambda d: (d.started_at, d.id)):
        ops.deploys.create(id=d.id, service=d.service, env=d.env, version=d.version,
                           previous_version=d.previous_version, commit=d.commit, actor=d.actor,
                           status=d.status, started_at=d.started_at, finished_at=d.finished_at,
                           rollback_of=d.rollback_of, reason="demo world")
