"""What the demo generator decided, handed to every domain so it can seed itself.

The generator (``opsnb.demo.generate``) builds the world (services, servers,
deploys, incidents, SLO files, on-call) and writes events to the lake. Then each
domain that has ``opsnb/<domain>/demo.py`` with ``seed(ops, world)`` is called,
in the domain table's order (``opsnb/domains.py``, rows with ``demo``), to store its share in the state database.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

SERVICES: tuple[str, ...] = ("frontend", "checkout", "payments", "catalog", "search", "auth")


@dataclass
class DemoServer:
    name: str
    address: str
    port: int
    user: str
    labels: dict[str, str]  # role, env, region, service
    platform: str = "debian-12"


@dataclass
class DemoDeploy:
    id: str
    service: str
    version: str
    previous_version: str
    env: str
    started_at: datetime
    finished_at: datetime
    actor: str
    commit: str
    status: str = "succeeded"  # succeeded | failed | rolled_back
    rollback_of: str | None = None  # id of the deploy this one rolls back


@dataclass
class DemoIncident:
    """An injected incident: its cause and the true milestones (ground truth for backtests)."""

    id: str  # "INC-1"
    title: str
    service: str
    severity: str  # SEV1..SEV4
    cause: str  # bad-deploy | disk-full | latency-regression
    impact_start: datetime
    detected_at: datetime
    acknowledged_at: datetime
    mitigated_at: datetime
    resolved_at: datetime
    servers: list[str] = field(default_factory=list)
    deploy_id: str | None = None
    slos: list[str] = field(default_factory=list)


@dataclass
class DemoWorld:
    """Everything the generator decided. Times are UTC-aware."""

    seed: int
    start: datetime
    end: datetime
    services: tuple[str, ...]
    servers: list[DemoServer]
    deploys: list[DemoDeploy]
    incidents: list[DemoIncident]
    slo_dir: Path  # OpenSLO YAML files, one per SLO
    oncall: dict[str, Any]  # {"schedules": [...], "escalation_policies": [...]} as in the oncall YAML format
    users: dict[str, str] = field(default_factory=dict)  # user -> role
    counts: dict[str, int] = field(default_factory=dict)  # lake table -> rows written


def seed_domains(ops: Workbench, world: DemoWorld) -> list[str]:
    """Call ``seed(ops, world)`` of every domain that has a ``demo`` module. Returns the domains seeded."""
    from opsnb.domains import demo_modules

    done = []
    for name in demo_modules():
        importlib.import_module(name).seed(ops, world)
        done.append(name.split(".")[1])
    return done
