"""The demo world's plan: servers, people, deploys and incidents, decided from the seed.

Everything here is small (tens of objects) and decided before any event is
written; :mod:`opsnb.demo.events` then renders the plan into millions of lake
rows. Times are relative to ``end`` so equal ``seed`` and ``end`` give equal worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from opsnb.demo.world import SERVICES, DemoDeploy, DemoIncident, DemoServer, DemoWorld

# name, role, env, region, service (labels of the inventory)
SERVER_TABLE: tuple[tuple[str, str, str, str, str], ...] = (
    ("web-1", "web", "prod", "us-east-1", "frontend"),
    ("web-2", "web", "prod", "us-west-2", "frontend"),
    ("app-1", "app", "prod", "us-east-1", "checkout"),
    ("app-2", "app", "prod", "us-west-2", "checkout"),
    ("app-3", "app", "prod", "us-east-1", "payments"),
    ("app-4", "app", "prod", "us-east-1", "catalog"),
    ("app-5", "app", "prod", "us-west-2", "auth"),
    ("db-1", "db", "prod", "us-east-1", "postgres"),
    ("db-2", "db", "prod", "us-east-1", "postgres"),
    ("cache-1", "cache", "prod", "us-east-1", "redis"),
    ("search-1", "search", "prod", "us-east-1", "search"),
    ("search-2", "search", "prod", "us-west-2", "search"),
    ("stage-1", "app", "staging", "us-east-1", "checkout"),
)

# Which database host each service keeps its data on (the disk-full incident follows this).
DATABASE_OF: dict[str, str] = {"checkout": "db-1", "payments": "db-1", "catalog": "db-2", "auth": "db-2"}

USERS: dict[str, str] = {
    "alice": "admin",
    "bob": "operator",
    "carol": "responder",
    "dave": "responder",
    "erin": "viewer",
    "deploy-bot": "operator",
}
ONCALL_MEMBERS: list[str] = ["alice", "bob", "carol", "dave"]


@dataclass
class Effect:
    """How an incident bends the events of one service between two instants.

    ``error`` is the added probability that a request of ``service`` fails at
    its origin; ``latency`` multiplies its own processing time. Both ramp down
    linearly from ``mitigated`` to ``recovered``.
    """

    service: str
    start: datetime
    mitigated: datetime
    recovered: datetime
    error: float = 0.0
    latency: float = 1.0
    status: int = 500
    cause: str = ""


@dataclass
class Plan:
    """The world plus what the event renderer needs beyond the contract."""

    world: DemoWorld
    effects: list[Effect] = field(default_factory=list)
    disk_fill: tuple[str, datetime, datetime, datetime] | None = None  # host, fill start, full, cleaned
    # service -> [(prod deploy finished_at, version after)], sorted; plus the version before the period
    versions: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    initial_version: dict[str, str] = field(default_factory=dict)


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join(f"{b:02x}" for b in rng.integers(0, 256, size=n // 2, dtype=np.uint8))


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def make_servers() -> list[DemoServer]:
    """The fleet: distinct loopback ports so a test sshd per host is possible."""
    return [
        DemoServer(name=name, address="127.0.0.1", port=2201 + i, user="opsnb",
                   labels={"role": role, "env": env, "region": region, "service": service})
        for i, (name, role, env, region, service) in enumerate(SERVER_TABLE)
    ]


BUSY_UTC = (14, 20)
"""Hours (UTC) of the demo's peak traffic, where incidents are placed."""


def _busy(t: datetime, earliest: datetime, latest: datetime, taken: list[datetime]) -> datetime:
    """The time nearest ``t`` inside busy hours, within bounds and 4 h from incidents already placed."""
    best: datetime | None = None
    for d in range(-3, 4):
        day = t + timedelta(days=d)
        lo = day.replace(hour=BUSY_UTC[0], minute=t.minute, second=0, microsecond=0)
        hi = day.replace(hour=BUSY_UTC[1], minute=t.minute, second=0, microsecond=0)
        cand = min(max(t, lo), hi)
        if not earliest <= cand <= latest or any(abs(cand - o) < timedelta(hours=4) for o in taken):
            continue
        if best is None or abs(cand - t) < abs(best - t):
            best = cand
    chosen = best or t  # a world too short for busy hours keeps the plain fraction
    taken.append(chosen)
    return chosen


def plan_world(*, seed: int, start: datetime, end: datetime, slo_dir: Path) -> Plan:
    """Decide servers, deploys, incidents, people and on-call for ``[start, end)``.

    Incidents sit near fixed fractions of the period, moved into busy hours (``BUSY_UTC``),
    so a 2-day test world holds all three, visible and resolved before ``end``.
    """
    rng = np.random.default_rng([seed, 1])
    period = end - start
    hours = period.total_seconds() / 3600.0

    # ---- incident windows (impact start), fixed fractions plus seeded jitter, moved into
    # busy hours: at night a small-scale world has a request every few minutes, too few to
    # show an incident, and real incidents cluster where deploys and traffic are anyway.
    jitter = [timedelta(minutes=int(m)) for m in rng.integers(-40, 40, size=3)]
    tail = timedelta(hours=min(max(0.1 * hours, 4.0), 18.0))
    taken: list[datetime] = []
    t_deploy = _busy(_minute(start + period * 0.35 + jitter[0]), start + timedelta(hours=4),
                     end - timedelta(hours=4), taken)
    t_disk = _busy(_minute(start + period * 0.60 + jitter[1]), start + timedelta(hours=4),
                   end - timedelta(hours=4), taken)
    t_latency = _busy(_minute(end - tail + jitter[2] / 4), start + timedelta(hours=4),
                      end - timedelta(hours=3), taken)

    def mins(lo: int, hi: int) -> timedelta:
        return timedelta(minutes=int(rng.integers(lo, hi + 1)))

    # ---- deploys: steady releases per service, staging first, then prod
    initial = {s: f"{int(rng.integers(1, 4))}.{int(rng.integers(10, 40))}.{int(rng.integers(0, 6))}"
               for s in SERVICES}
    per_service = max(2, round(period.days / 2.5)) if period.days else 2
    blocked = [(t_deploy - timedelta(hours=4), t_deploy + timedelta(hours=4))]
    raw: list[dict] = []
    for svc in SERVICES:
        for k in range(per_service):
            # spread releases over the period, in US working hours (13:00-22:00 UTC)
            frac = (k + 0.5 + float(rng.uniform(-0.3, 0.3))) / per_service
            day = start + period * frac
            at = day.replace(hour=int(rng.integers(13, 22)), minute=int(rng.integers(0, 60)),
                             second=0, microsecond=0)
            if at < start + timedelta(hours=1) or at > end - timedelta(hours=1):
                at = _minute(start + period * frac)
            if svc == "checkout" and any(lo <= at <= hi for lo, hi in blocked):
                at = at - timedelta(hours=6)
            raw.append({"service": svc, "at": at})
    raw.append({"service": "checkout", "at": t_deploy - timedelta(minutes=3), "bad": True})
    raw.sort(key=lambda r: (r["at"], r["service"]))

    current = dict(initial)
    deploys: list[DemoDeploy] = []
    versions: dict[str, list[tuple[datetime, str]]] = {s: [] for s in SERVICES}
    actors = ["deploy-bot", "deploy-bot", "bob", "alice"]
    bad_deploy: DemoDeploy | None = None

    def bump(v: str, minor: bool) -> str:
        a, b, c = (int(x) for x in v.split("."))
        return f"{a}.{b + 1}.0" if minor else f"{a}.{b}.{c + 1}"

    for r in raw:
        svc, at = r["service"], r["at"]
        new = bump(current[svc], minor=bool(rng.random() < 0.4))
        commit = _hex(rng, 40)
        actor = actors[int(rng.integers(0, len(actors)))]
        staged = at - timedelta(minutes=int(rng.integers(60, 180)))
        if staged > start:
            deploys.append(DemoDeploy(id="", service=svc, version=new, previous_version=current[svc],
                                      env="staging", started_at=staged,
                                      finished_at=staged + timedelta(minutes=int(rng.integers(2, 6))),
                                      actor=actor, commit=commit))
        dur = timedelta(minutes=3) if r.get("bad") else timedelta(minutes=int(rng.integers(2, 8)))
        dep = DemoDeploy(id="", service=svc, version=new, previous_version=current[svc], env="prod",
                         started_at=at, finished_at=at + dur, actor=actor, commit=commit,
                         status="rolled_back" if r.get("bad") else "succeeded")
        deploys.append(dep)
        if r.get("bad"):
            bad_deploy = dep
        current[svc] = new
        versions[svc].append((dep.finished_at, new))
    assert bad_deploy is not None

    incidents: list[DemoIncident] = []
    effects: list[Effect] = []

    # (a) bad checkout deploy: 5xx from the moment it finishes until the rollback
    imp = bad_deploy.finished_at
    det = imp + mins(4, 7)
    ack = det + mins(2, 5)
    mit = ack + mins(12, 20)
    res = mit + mins(20, 40)
    rollback = DemoDeploy(id="", service="checkout", version=bad_deploy.previous_version,
                          previous_version=bad_deploy.version, env="prod", started_at=mit - timedelta(minutes=4),
                          finished_at=mit, actor="bob", commit=_hex(rng, 40), status="succeeded")
    deploys.append(rollback)
    versions["checkout"].append((mit, rollback.version))
    effects.append(Effect("checkout", imp, mit, mit + timedelta(minutes=3), error=0.28, latency=1.3,
                          status=500, cause="npe"))
    incidents.append(DemoIncident(
        id="INC-1", title=f"Checkout 5xx after deploy of {bad_deploy.version}", service="checkout",
        severity="SEV2", cause="bad-deploy", impact_start=imp, detected_at=det, acknowledged_at=ack,
        mitigated_at=mit, resolved_at=res, servers=["app-1", "app-2"], slos=["checkout-availability"],
    ))

    # (b) disk filling on db-2: catalog and auth fail to write once it is full
    fill_start = t_disk - timedelta(hours=3)
    det = t_disk + mins(3, 6)
    ack = det + mins(2, 4)
    mit = ack + mins(25, 40)
    res = mit + mins(30, 60)
    for svc, p in (("catalog", 0.35), ("auth", 0.18)):
        effects.append(Effect(svc, t_disk, mit, mit + timedelta(minutes=5), error=p, latency=1.8,
                              status=500, cause="disk-full"))
    incidents.append(DemoIncident(
        id="INC-2", title="db-2 disk full: catalog and auth writes failing", service="catalog",
        severity="SEV1", cause="disk-full", impact_start=t_disk, detected_at=det, acknowledged_at=ack,
        mitigated_at=mit, resolved_at=res, servers=["db-2"], slos=["catalog-availability"],
    ))
    disk_fill = ("db-2", fill_start, t_disk, mit)

    # (c) search latency regression: own time x5, a few frontend timeouts
    det = t_latency + mins(8, 15)
    ack = det + mins(3, 6)
    mit = ack + mins(40, 70)
    res = mit + mins(30, 60)
    effects.append(Effect("search", t_latency, mit, mit + timedelta(minutes=10), error=0.01, latency=6.0,
                          status=504, cause="slow"))
    incidents.append(DemoIncident(
        id="INC-3", title="Search latency regression (p99 over 2 s)", service="search",
        severity="SEV3", cause="latency-regression", impact_start=t_latency, detected_at=det,
        acknowledged_at=ack, mitigated_at=mit, resolved_at=res, servers=["search-1", "search-2"],
        slos=["search-latency"],
    ))

    deploys.sort(key=lambda d: (d.started_at, d.service, d.env))
    for i, d in enumerate(deploys, 1):
        d.id = f"DEP-{i}"
    incidents[0].deploy_id = bad_deploy.id
    rollback.rollback_of = bad_deploy.id
    for svc in versions:
        versions[svc].sort()

    world = DemoWorld(
        seed=seed, start=start, end=end, services=SERVICES, servers=make_servers(), deploys=deploys,
        incidents=incidents, slo_dir=slo_dir,
        oncall={"members": list(ONCALL_MEMBERS), "timezone": "America/New_York", "rotation": "weekly",
                "handoff": "monday 09:00"},
        users=dict(USERS),
    )
    return Plan(world=world, effects=effects, disk_fill=disk_fill, versions=versions, initial_version=initial)
