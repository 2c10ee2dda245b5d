"""The alerts share of the demo world: the alerts of each injected incident, and a realistic alert
stream (for the fatigue measurement) derived from the world.

The stream is what Prometheus would send at every evaluation (one minute): each
incident's alerts on every affected instance until mitigation, a correlated
second alert, SLO burn-rate alerts, flapping warnings through the period, and
a nightly search re-index that fires during its maintenance window.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from opsnb.alerts.grouping import StreamEvent
from opsnb.alerts.matchers import parse_matchers
from opsnb.alerts.payloads import fingerprint
from opsnb.alerts.silences import SilenceSpec, make_recurrence

if TYPE_CHECKING:
    from opsnb.demo.world import DemoIncident, DemoWorld
    from opsnb.workbench import Workbench

ALERTS_BY_CAUSE: dict[str, tuple[str, str]] = {
    "bad-deploy": ("HighErrorRate", "HighLatency"),
    "disk-full": ("DiskFull", "HighErrorRate"),
    "latency-regression": ("HighLatency", "UpstreamTimeouts"),
}
EVAL = timedelta(minutes=1)
MAINTENANCE = {"matchers": 'service="search",alertname="SearchIndexLag"', "start": "02:00", "duration": "30m",
               "timezone": "UTC", "comment": "nightly search re-index"}


def _severity(sev: str) -> str:
    return "critical" if sev in ("SEV1", "SEV2") else "warning"


def _instances(world: DemoWorld, inc: DemoIncident) -> list[str]:
    return inc.servers or [s.name for s in world.servers if s.labels.get("service") == inc.service][:3] or \
        [f"{inc.service}-1"]


def incident_alerts(world: DemoWorld, inc: DemoIncident) -> list[dict[str, str]]:
    """Label sets of the alerts an incident raises (primary alert per instance, plus a correlated one)."""
    first, second = ALERTS_BY_CAUSE.get(inc.cause, ("HighErrorRate", "HighLatency"))
    out = [{"alertname": first, "service": inc.service, "severity": _severity(inc.severity), "instance": i}
           for i in _instances(world, inc)]
    out.append({"alertname": second, "service": inc.service, "severity": "warning"})
    return out


def demo_stream(world: DemoWorld) -> tuple[list[StreamEvent], list[SilenceSpec]]:
    """The alert stream of the demo period and the maintenance window that silences part of it."""
    rng = np.random.default_rng([world.seed, 31])
    ev: list[StreamEvent] = []

    def fire(labels: dict[str, str], start: datetime, end: datetime) -> None:
        t = start
        while t < end:
            ev.append(StreamEvent(at=t, labels=labels, status="firing"))
            t += EVAL
        ev.append(StreamEvent(at=end, labels=labels, status="resolved"))

    for inc in world.incidents:
        for labels in incident_alerts(world, inc):
            delay = timedelta(minutes=int(rng.integers(0, 3)))
            fire(labels, inc.detected_at + delay, inc.mitigated_at + timedelta(minutes=int(rng.integers(0, 5))))
        for slo in inc.slos:
            fire({"alertname": "SLOBurnRate", "slo": slo, "service": inc.service, "tier": "page",
                  "window": "1h/5m", "severity": "critical"}, inc.detected_at, inc.mitigated_at)
    # flapping warnings: CPU / memory blips around their thresholds, now and then on each server
    hours = int((world.end - world.start).total_seconds() // 3600)
    for server in world.servers:
        for h in range(0, hours, 8):
            if rng.random() < 0.5:
                continue
            t = world.start + timedelta(hours=h, minutes=int(rng.integers(0, 420)))
            labels = {"alertname": str(rng.choice(["HighCPU", "HighMemory"])), "service":
                      server.labels.get("service", "infra"), "severity": "warning", "instance": server.name}
            for _ in range(int(rng.integers(1, 4))):  # fires a few minutes, clears, fires again
                up = t + timedelta(minutes=int(rng.integers(2, 8)))
                fire(labels, t, up)
                t = up + timedelta(minutes=int(rng.integers(1, 4)))
    # chronic warnings every team has: a certificate close to expiry, a disk slowly filling
    fire({"alertname": "CertificateExpiresSoon", "service": "frontend", "severity": "warning",
          "instance": "lb-1"}, world.start, world.end)
    db = next((s.name for s in world.servers if s.labels.get("role") == "db"), "db-1")
    fire({"alertname": "DiskUsageHigh", "service": "catalog", "severity": "warning", "instance": db},
         world.start + (world.end - world.start) * 0.3, world.end - (world.end - world.start) * 0.2)
    # nightly re-index: index lag on every search server during the maintenance window
    search = [s.name for s in world.servers if s.labels.get("service") == "search"] or ["search-1"]
    day = world.start.date()
    while datetime.combine(day, time(2, 0), world.start.tzinfo) < world.end:
        begin = datetime.combine(day, time(2, 0), world.start.tzinfo) + timedelta(minutes=2)
        if begin > world.start:
            for host in search:
                fire({"alertname": "SearchIndexLag", "service": "search", "severity": "warning", "instance": host},
                     begin, begin + timedelta(minutes=20))
        day += timedelta(days=1)
    rec = make_recurrence(start=MAINTENANCE["start"], duration=MAINTENANCE["duration"], days=None,
                          timezone=MAINTENANCE["timezone"])
    window = SilenceSpec("demo-maintenance", parse_matchers(MAINTENANCE["matchers"]), world.start, None, rec)
    return sorted(ev, key=lambda e: e.at), [window]


def seed(ops: Workbench, world: DemoWorld) -> None:
    """Store each incident's alerts (resolved, linked to the incident) and the maintenance window."""
    from opsnb.alerts.models import Alert, AlertReceipt, Silence
    from opsnb.incidents import hooks as incident_hooks
    from opsnb.store.types import utcnow

    now = utcnow()
    have_incidents = {i.id for i in world.incidents}
    with ops.db.session() as s:
        for inc in world.incidents:
            for labels in incident_alerts(world, inc):
                fp = fingerprint(labels)
                raw = {"status": "resolved", "labels": labels,
                       "annotations": {"summary": f"{labels['alertname']} on {labels.get('instance', inc.service)}"},
                       "startsAt": inc.detected_at.isoformat(), "endsAt": inc.mitigated_at.isoformat(),
                       "generatorURL": "", "fingerprint": fp}
                body = {"version": "4", "status": "resolved", "receiver": "opsnb", "groupKey": "demo",
                        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {},
                        "externalURL": "", "alerts": [raw]}
                receipt = AlertReceipt(received_at=now, source="alertmanager", alerts=1, body=json.dumps(body))
                s.add(receipt)
                s.flush()
                s.add(Alert(fingerprint=fp, source="alertmanager", status="resolved", labels=labels,
                            annotations=raw["annotations"], starts_at=inc.detected_at, ends_at=inc.mitigated_at,
                            first_received_at=now, last_received_at=now, receive_count=1, generator_url="",
                            last_payload=raw, last_receipt_id=receipt.id, group_key="demo", grouped=False,
                            pending=False, incident_id=None))
                s.flush()
                if inc.id in have_incidents and _incident_exists(s, inc.id):
                    incident_hooks.link(ops, inc.id, actor="opsnb-alerts", at=inc.detected_at, alert=fp)
        s.add(Silence(id="00000000-0000-4000-8000-000000000001", kind="maintenance",
                      matchers=[m.as_dict() for m in parse_matchers(MAINTENANCE["matchers"])], starts_at=world.start,
                      ends_at=None, recurrence=make_recurrence(start=MAINTENANCE["start"],
                                                               duration=MAINTENANCE["duration"], days=None,
                                                               timezone=MAINTENANCE["timezone"]),
                      created_by="bob", created_at=world.start, comment=MAINTENANCE["comment"], expired_at=None))
        ops.audit.record(action="alerts.demo.seed", target="demo", actor="demo",
                         params={"incidents": len(world.incidents)})


def _incident_exists(s: Any, iid: str) -> bool:
    from sqlalchemy import select

    from opsnb.incidents.models import IncidentRow

    return s.scalar(select(IncidentRow.id).where(IncidentRow.id == iid)) is not None
