"""The demo seed: schedules and a policy from world.oncall, and the pages of past incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsnb.demo.world import DemoIncident, DemoWorld
from opsnb.oncall.demo import seed
from opsnb.workbench import Workbench

START = datetime(2025, 3, 5, 0, 0, tzinfo=UTC)  # a Wednesday


def world(oncall: dict[str, object], incidents: list[DemoIncident] | None = None) -> DemoWorld:
    return DemoWorld(seed=7, start=START, end=START + timedelta(days=14), services=("checkout",), servers=[],
                     deploys=[], incidents=incidents or [], slo_dir=Path("."), oncall=oncall,
                     users={"alice": "admin", "bob": "operator"})


def test_seed_shorthand_and_incident_pages(ops_sqlite: Workbench) -> None:
    t = START + timedelta(days=2, hours=3)
    inc = DemoIncident(id="INC-1", title="checkout errors", service="checkout", severity="SEV2", cause="bad-deploy",
                       impact_start=t - timedelta(minutes=4), detected_at=t, acknowledged_at=t + timedelta(minutes=7),
                       mitigated_at=t + timedelta(minutes=30), resolved_at=t + timedelta(hours=1))
    seed(ops_sqlite, world({"members": ["alice", "bob", "carol", "dave"], "timezone": "America/New_York",
                            "rotation": "weekly", "handoff": "monday 09:00"}, [inc]))
    # The first handoff is the Monday 09:00 before the demo starts, so the whole window is covered.
    shifts = ops_sqlite.oncall.final_shifts("primary", START, START + timedelta(days=14))
    assert shifts.iloc[0]["start"] == START and shifts["person"].tolist()[:3] == ["alice", "bob", "carol"]
    assert ops_sqlite.oncall.who_is_on_call("secondary", START) == "bob"
    timers = ops_sqlite.oncall.timers("INC-1")
    # Level 1 at detection, level 2 five minutes later, then the ack at +7 cancelled the rest.
    assert timers[timers["status"] == "fired"]["due_at"].tolist() == [t, t + timedelta(minutes=5)]
    assert ops_sqlite.oncall.escalations("INC-1")["status"].tolist() == ["resolved"]
    assert ops_sqlite.oncall.tick(now=t + timedelta(days=30)).empty


def test_seed_tolerates_empty_members_and_yaml_form(ops_sqlite: Workbench) -> None:
    seed(ops_sqlite, world({"members": [], "timezone": "UTC"}))
    assert ops_sqlite.oncall.get("primary").layers[0].members == ("alice", "bob")
    other = {"schedules": [{"name": "yaml-sched", "timezone": "UTC", "members": ["x"],
                            "first_handoff": "2025-01-01T00:00"}],
             "escalation_policies": [{"name": "yaml-pol", "levels": [{"targets": [{"schedule": "yaml-sched"}],
                                                                      "delay": "5m"}]}]}
    seed(ops_sqlite, world(other))
    assert ops_sqlite.oncall.who_is_on_call("yaml-sched", START) == "x"
