"""The runbooks share of the demo world: alert triggers and a nightly schedule over the library."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsnb.demo.world import DemoWorld
    from opsnb.workbench import Workbench

TRIGGERS = [
    # (name, runbook, match, params)
    ("triage-high-error-rate", "high-error-rate-triage", {"alertname": "HighErrorRate"},
     {"service": "{labels.service}"}),
    ("triage-service-down", "service-down-triage", {"alertname": "~(ServiceDown|TargetDown)"},
     {"service": "{labels.service}"}),
]
SCHEDULES = [
    # (name, runbook, cron, time zone)
    ("tls-nightly", "tls-cert-expiry", "0 6 * * *", "UTC"),
    ("fleet-health-hourly", "host-health-check", "0 * * * *", "UTC"),
]


def seed(ops: Workbench, world: DemoWorld) -> None:
    """Create the demo triggers and schedules for the library runbooks the catalog has."""
    names = set(ops.runbooks.catalog.names())
    for name, runbook, match, params in TRIGGERS:
        if runbook in names:
            ops.runbooks.triggers.create(name, runbook, match=match, params=params,
                                         reason="demo: triage what the alert names")
    for name, runbook, cron, tz in SCHEDULES:
        if runbook in names:
            ops.runbooks.schedules.create(name, runbook, cron=cron, timezone=tz, reason="demo schedule",
                                          now=world.end)
