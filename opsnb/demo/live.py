"""The demo lives: while ``opsnb up`` serves a demo workspace, its world keeps going.

Each tick (a minute by default) renders only the interval since the last tick, ``[last, now)``,
from the same model that built the demo (:class:`opsnb.demo.events.DayRenderer` over a plan),
appends those logs, spans and metrics to the lake, and runs the SLO alert rules
(``ops.slos.sync_alerts``), so budgets burn and alerts fire as they would in production.

What happens in the live world is decided up front from the demo's seed (:func:`live_schedule`):
a deploy every hour or so, and every few hours an incident (a bad deploy rolled back, an upstream
error spike, a latency regression). Its effect bends the rendered traffic, and the tick that
crosses each milestone records it through the real services: the deploy (``ops.deploys``), the
firing alerts (``ops.alerts``), the incident paged under the demo's escalation policy
(``ops.incidents``, ``ops.oncall``), its acknowledgement, the rollback, the alerts resolving and
the recovery. Equal seed, start and tick instants give equal rows and equal happenings.
``opsnb up --no-live`` turns it off.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TICK_SECONDS = 60.0
HORIZON = timedelta(days=7)  # how far ahead the live schedule reaches
DEPLOY_EVERY = (45, 120)  # minutes between live deploys
INCIDENT_EVERY = (180, 360)  # minutes between live incidents
FIRST_INCIDENT = (20, 50)  # minutes after the demo's end until the first one
CATCH_UP = timedelta(hours=6)  # most rendered in one go when ticks fell behind (a laptop asleep)

log = logging.getLogger(__name__)

# kind -> (services it can hit, severity, added error ratio, latency factor, status, cause of the log lines)
KINDS: dict[str, tuple[tuple[str, ...], str, float, float, int, str]] = {
    "bad-deploy": (("checkout", "payments", "catalog"), "SEV2", 0.25, 1.3, 500, "npe"),
    "error-spike": (("payments", "auth", "checkout"), "SEV2", 0.15, 1.1, 502, ""),
    "latency-regression": (("search", "catalog"), "SEV3", 0.01, 5.0, 504, "slow"),
}
ALERTNAME = {"bad-deploy": "HighErrorRate", "error-spike": "HighErrorRate", "latency-regression": "HighLatency"}
ACTORS = ("deploy-bot", "deploy-bot", "bob", "alice")


@dataclass(frozen=True)
class Happening:
    """One thing that happens in the live world at ``at``: a deploy or an incident milestone."""

    at: datetime
    kind: str  # deploy | incident.open | incident.ack | incident.mitigate | incident.resolve
    key: str  # "deploy-<n>" or "incident-<n>": ties an incident's milestones together
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Schedule:
    """The live world's happenings, in time order, and how they bend traffic."""

    happenings: list[Happening]
    effects: list[Any]  # opsnb.demo.plan.Effect
    versions: dict[str, list[tuple[datetime, str]]]  # service -> [(prod version took effect, version)]


def _bump(v: str, minor: bool) -> str:
    try:
        a, b, c = (int(x) for x in v.split(".")[:3])
    except ValueError:
        return "1.0.0"
    return f"{a}.{b + 1}.0" if minor else f"{a}.{b}.{c + 1}"


def live_schedule(*, seed: int, start: datetime, end: datetime, services: tuple[str, ...],
                  versions: dict[str, str]) -> Schedule:
    """Decide the deploys and incidents of ``[start, end)`` from ``seed`` (same inputs, same schedule).

    Args:
        seed: The demo's seed.
        start: Where the live world begins (the demo's end).
        end: How far ahead to decide.
        services: The world's services.
        versions: The prod version of each service at ``start``.
    """
    import numpy as np

    from opsnb.demo.plan import Effect

    rng = np.random.default_rng([seed, 5])
    current = {s: versions.get(s) or "1.0.0" for s in services}
    out: list[Happening] = []
    effects: list[Effect] = []
    took_effect: dict[str, list[tuple[datetime, str]]] = {s: [] for s in services}

    def mins(lo: int, hi: int) -> timedelta:
        return timedelta(minutes=int(rng.integers(lo, hi + 1)))

    # when things happen is drawn first; versions are then assigned walking forward in time
    incidents: list[tuple[datetime, str, str]] = []  # impact start (or bad deploy start), kind, service
    t, kinds = start + mins(*FIRST_INCIDENT), list(KINDS)
    while t < end:
        kind = kinds[(len(incidents) + int(seed)) % len(kinds)]
        pool = KINDS[kind][0]
        incidents.append((t, kind, pool[int(rng.integers(0, len(pool)))]))
        t += mins(*INCIDENT_EVERY)
    releases: list[tuple[datetime, str, bool]] = []
    t = start + mins(5, 30)
    while t < end:
        releases.append((t, services[int(rng.integers(0, len(services)))], bool(rng.random() < 0.3)))
        t += mins(*DEPLOY_EVERY)

    def deploy(at: datetime, svc: str, version: str, took: datetime, *, rollback_of: str | None = None,
               actor: str | None = None) -> str:
        key = f"deploy-{sum(1 for h in out if h.kind == 'deploy') + 1}"
        commit = "".join(f"{b:02x}" for b in rng.integers(0, 256, size=20, dtype=np.uint8))
        out.append(Happening(at, "deploy", key, {
            "service": svc, "env": "prod", "version": version, "previous_version": current[svc],
            "finished_at": took, "commit": commit, "rollback_of": rollback_of,
            "actor": actor or ACTORS[int(rng.integers(0, len(ACTORS)))]}))
        current[svc] = version
        took_effect[svc].append((took, version))
        return key

    busy: list[tuple[str, datetime, datetime]] = []  # a service's incident window: no release lands in it
    events = sorted([(at, 1, ("release", svc, minor)) for at, svc, minor in releases] +
                    [(at, 0, ("incident", kind, svc)) for at, kind, svc in incidents], key=lambda e: (e[0], e[1]))
    for n_at, _, (what, a, b) in events:
        if what == "release":
            svc, minor = str(a), bool(b)
            if not any(s == svc and lo <= n_at <= hi for s, lo, hi in busy):
                deploy(n_at, svc, _bump(current[svc], minor=minor), n_at + mins(2, 6))
            continue
        kind, svc = str(a), str(b)
        _pool, severity, err, lat, status, cause = KINDS[kind]
        n = sum(1 for h in out if h.kind == "incident.open") + 1
        key, bad, impact = f"incident-{n}", None, n_at
        if kind == "bad-deploy":  # the bad version rolls out, impact starts with it, the rollback mitigates
            impact = n_at + mins(2, 5)
            previous = current[svc]
            bad = deploy(n_at, svc, _bump(previous, minor=True), impact)
        detected = impact + mins(3, 6)
        acked = detected + mins(2, 5)
        mitigated = acked + mins(8, 18)
        resolved = mitigated + mins(15, 35)
        busy.append((svc, n_at, resolved))
        title = {"bad-deploy": f"{svc} 5xx after a deploy",
                 "error-spike": f"{svc} errors from an upstream dependency",
                 "latency-regression": f"{svc} latency regression"}[kind] + f" (live #{n})"
        info = {"title": title, "service": svc, "severity": severity, "cause": kind, "impact_start": impact,
                "deploy": bad, "alertname": ALERTNAME[kind]}
        out.append(Happening(detected, "incident.open", key, info))
        out.append(Happening(acked, "incident.ack", key, info))
        if bad is not None:
            deploy(mitigated - timedelta(minutes=3), svc, previous, mitigated, rollback_of=bad, actor="bob")
        out.append(Happening(mitigated, "incident.mitigate", key, info))
        out.append(Happening(resolved, "incident.resolve", key, info))
        effects.append(Effect(svc, impact, mitigated, mitigated + timedelta(minutes=4), error=err, latency=lat,
                              status=status, cause=cause))
    order = {"deploy": 0, "incident.open": 1, "incident.ack": 2, "incident.mitigate": 3, "incident.resolve": 4}
    out = sorted((h for h in out if h.at < end), key=lambda h: (h.at, order[h.kind], h.key))
    for svc in took_effect:
        took_effect[svc].sort()
    return Schedule(happenings=out, effects=effects, versions=took_effect)


class Live:
    """Keeps one demo workspace's world going (see the module docstring)."""

    def __init__(self, ops: Any, *, seed: int, scale: float, start: datetime, tick: float = TICK_SECONDS) -> None:
        from opsnb.demo.plan import plan_world
        from opsnb.demo.world import SERVICES

        self.ops, self.seed, self.scale, self.tick = ops, int(seed), float(scale), float(tick)
        self._tmp = tempfile.TemporaryDirectory(prefix="opsnb-live-")
        # the plan gives the world's shape (servers, vocabularies); its SLO files go to a scratch
        # dir so the workspace's own definitions stay as they are. What happens is the live schedule's.
        self.plan = plan_world(seed=self.seed + 1, start=start, end=start + HORIZON, slo_dir=Path(self._tmp.name))
        self.start = start
        running = self._prod_versions()
        self.schedule = live_schedule(seed=self.seed, start=start, end=start + HORIZON, services=SERVICES,
                                      versions=running)
        self.plan.effects = list(self.schedule.effects)
        self.plan.disk_fill = None
        self.plan.initial_version = {s: running.get(s) or self.plan.initial_version[s] for s in SERVICES}
        self.plan.versions = self.schedule.versions
        latest = ops.logs.last_seen()
        self.last = max(start, latest.to_pydatetime() + timedelta(microseconds=1)) if latest is not None else start
        self.written = {"logs": 0, "spans": 0, "metrics": 0}
        self.happened: list[Happening] = []
        self.incidents: dict[str, str] = {}  # schedule key -> incident id
        self.alerts: dict[str, list[dict[str, Any]]] = {}  # schedule key -> the alerts it fired
        self.deploys: dict[str, str] = {}  # schedule key -> deploy id
        self.ticks = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _prod_versions(self) -> dict[str, str]:
        try:
            df = self.ops.deploys.current(env="prod")
        except Exception:  # a workspace without the deploys domain: the plan's versions
            return {}
        return {str(r.service): str(r.version) for r in df.itertuples()}

    # ------------------------------------------------------------------ one tick
    def step(self, now: datetime | None = None) -> dict[str, int]:
        """Append the world's events of ``[last, now)``, record what happened, run the SLO alert rules.

        Returns:
            Rows appended per table, plus ``happenings`` (deploys and incident milestones recorded).
        """
        now = (now or datetime.now(UTC)).astimezone(UTC)
        end = min(now, self.start + HORIZON, self.last + CATCH_UP)
        if end <= self.last:
            return {}
        out = self._render(self.last, end)
        done = 0
        for h in self.schedule.happenings:
            if self.last <= h.at < end:
                self._happen(h)
                done += 1
        out["happenings"] = done
        self.last = end
        self.ticks += 1
        self.ops.slos.sync_alerts(at=end)  # the real alert rules, on the data just appended
        return out

    def _render(self, lo: datetime, hi: datetime) -> dict[str, int]:
        """Render and append ``[lo, hi)`` only: the renderer starts at ``lo``'s minute and stops at ``hi``."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from opsnb.demo.events import DayRenderer, _us

        out: dict[str, int] = {}
        t0 = lo.replace(second=0, microsecond=0)
        while t0 < hi:
            upto = min(hi, t0 + timedelta(days=1))
            # seeded by the interval, so the same tick instants give the same rows
            rng = np.random.default_rng([self.seed, 3, _us(t0), _us(upto)])
            renderer = DayRenderer(self.plan, t0, rng, self.scale)
            renderer.end_us = _us(upto)  # nothing at or after the tick's end: the next tick writes it
            for table, rows in renderer.render().items():
                ts = rows.column("Timestamp")
                # a tick starting mid-minute keeps that minute's events from ``lo`` on (metrics are per
                # whole minute, so a minute's sample belongs to the tick its start falls in)
                part = rows.filter(pc.greater_equal(ts, pa.scalar(max(lo, t0), type=ts.type)))
                if part.num_rows:
                    self.ops.lake.write(table, part)
                    out[table] = out.get(table, 0) + part.num_rows
                    self.written[table] = self.written.get(table, 0) + part.num_rows
            t0 = upto
        return out

    def _happen(self, h: Happening) -> None:
        """Record one happening through the real services; one that fails is logged, the rest go on."""
        try:
            getattr(self, "_" + h.kind.replace(".", "_"))(h)
            self.happened.append(h)
        except Exception as exc:
            log.warning("live demo: %s %s failed: %s", h.kind, h.key, exc)
            self.errors.append(f"{h.kind} {h.key}: {type(exc).__name__}: {exc}"[:300])
            del self.errors[:-20]

    def _deploy(self, h: Happening) -> None:
        d = h.data
        bad = self.deploys.get(d["rollback_of"]) if d.get("rollback_of") else None
        if bad is not None:  # marks the bad one rolled_back and records the rollback deploy
            made = self.ops.deploys.record_rollback(bad, to_version=d["version"], actor=d["actor"], at=h.at,
                                                    finished_at=d["finished_at"], reason="live demo: rollback")
        else:
            made = self.ops.deploys.create(
                service=d["service"], env=d["env"], version=d["version"], previous_version=d["previous_version"],
                commit=d["commit"], actor=d["actor"], status="succeeded", started_at=h.at,
                finished_at=d["finished_at"], reason="live demo")
        self.deploys[h.key] = made.id

    def _alerts(self, h: Happening, status: str) -> list[str]:
        d = h.data
        hosts = [s.name for s in self.plan.world.servers
                 if s.labels.get("service") == d["service"] and s.labels.get("env") == "prod"] or [d["service"]]
        alerts = [{"status": status, "labels": {"alertname": d["alertname"], "service": d["service"],
                                                "severity": "critical" if d["severity"] in ("SEV1", "SEV2")
                                                else "warning", "instance": host, "source": "live-demo"},
                   "annotations": {"summary": f"{d['alertname']} on {host}"},
                   "startsAt": h.at.isoformat() if status == "firing" else d["impact_start"].isoformat(),
                   "endsAt": h.at.isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
                   "generatorURL": ""} for host in hosts]
        body = {"version": "4", "status": status, "receiver": "opsnb", "groupKey": f"live:{h.key}",
                "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {"service": d["service"]},
                "commonAnnotations": {}, "externalURL": "", "alerts": alerts}
        return list(self.ops.alerts.ingest_alertmanager(body).fingerprints)

    def _incident_open(self, h: Happening) -> None:
        d = h.data
        fingerprints = self._alerts(h, "firing")
        policy = "default" if self._has_policy("default") else None
        inc = self.ops.incidents.create(title=d["title"], service=d["service"], severity=d["severity"],
                                        impact_start=d["impact_start"], detected_at=h.at, policy=policy,
                                        actor="opsnb-alerts", reason="live demo")
        self.incidents[h.key] = inc.id
        for fp in fingerprints:
            self.ops.incidents.link(inc.id, alert=fp, at=h.at)
        if d.get("deploy") and d["deploy"] in self.deploys:
            self.ops.incidents.link(inc.id, deploy=self.deploys[d["deploy"]], at=h.at)

    def _has_policy(self, name: str) -> bool:
        try:
            return name in set(self.ops.oncall.policies()["name"])
        except Exception:
            return False

    def _incident_id(self, h: Happening) -> str | None:
        if h.key in self.incidents:
            return self.incidents[h.key]
        # opsnb up restarted mid-incident: find it by its title
        df = self.ops.incidents.list()
        hit = df[df["title"] == h.data["title"]] if len(df) and "title" in df else df.iloc[:0]
        return str(hit["id"].iloc[0]) if len(hit) else None

    def _incident_ack(self, h: Happening) -> None:
        if (iid := self._incident_id(h)) is not None:
            self.ops.incidents.update(iid, status="acknowledged", at=h.at, reason="live demo: on-call acknowledged")

    def _incident_mitigate(self, h: Happening) -> None:
        self._alerts(h, "resolved")
        if (iid := self._incident_id(h)) is not None:
            self.ops.incidents.update(iid, status="mitigated", at=h.at, reason="live demo: impact stopped")

    def _incident_resolve(self, h: Happening) -> None:
        if (iid := self._incident_id(h)) is not None:
            self.ops.incidents.update(iid, status="resolved", at=h.at, reason="live demo: back to baseline")

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.step()
            except Exception as exc:  # a bad tick is logged and the next one tries again
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                del self.errors[:-20]

    def start_thread(self) -> None:
        """Tick in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="opsnb-demo-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (waits for a tick in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self._tmp.cleanup()


def start_background(ops: Any, *, tick: float | None = None) -> Live | None:
    """Start keeping ``ops``'s demo world going; None when the workspace holds no complete demo.

    ``tick`` defaults to the ``demo_live_tick`` setting (60 s).
    """
    live = for_workspace(ops, tick=tick)
    if live is not None:
        live.start_thread()
    return live


def for_workspace(ops: Any, *, tick: float | None = None) -> Live | None:
    """A :class:`Live` for ``ops``'s demo (not ticking yet); None when the workspace holds no complete demo."""
    from opsnb.demo.generate import info

    if tick is None:
        tick = max(1.0, float(ops.settings.demo_live_tick))
    meta = info(ops.workspace)
    if meta is None or not meta.get("end") or meta.get("status") != "complete":
        return None
    start = datetime.fromisoformat(str(meta["end"])).astimezone(UTC)
    return Live(ops, seed=int(meta.get("seed", 7)), scale=float(meta.get("scale", 1.0)), start=start, tick=tick)
