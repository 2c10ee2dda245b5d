"""The demo world's incidents and alerts, and the fatigue reduction of its alert stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsnb.alerts.demo import demo_stream
from opsnb.alerts.grouping import Policy
from opsnb.alerts.silences import make_muter


@pytest.fixture
def world(tmp_path: Path):
    plan = pytest.importorskip("opsnb.demo.plan")
    end = datetime(2025, 3, 10, tzinfo=UTC)
    return plan.plan_world(seed=7, start=end - timedelta(days=4), end=end, slo_dir=tmp_path).world


def test_seed_stores_incidents_timelines_and_alerts(ops, world) -> None:
    from opsnb.alerts import demo as alerts_demo
    from opsnb.incidents import demo as incidents_demo

    incidents_demo.seed(ops, world)
    alerts_demo.seed(ops, world)
    df = ops.incidents.list()
    assert sorted(df["id"]) == sorted(i.id for i in world.incidents)
    assert set(df["status"]) <= {"resolved", "closed"}
    for truth in world.incidents:
        inc = ops.incidents.get(truth.id)
        assert inc.milestones["impact_start"] == truth.impact_start
        assert inc.milestones["acknowledged"] == truth.acknowledged_at
        assert inc.milestones["resolved"] == truth.resolved_at
        kinds = list(inc.timeline["kind"])
        assert {"created", "page", "ack", "note", "status", "link"} <= set(kinds)
        assert inc.timeline["at"].is_monotonic_increasing
        assert set(inc.linked("slo")) == set(truth.slos) and len(inc.linked("alert")) >= 2
        if truth.deploy_id:
            assert truth.deploy_id in inc.linked("deploy")
    m = ops.incidents.metrics(by=())
    mttd = m.set_index("metric").loc["MTTD"]
    assert mttd["n"] == len(world.incidents)
    truth_mttd = sorted((i.detected_at - i.impact_start).total_seconds() / 60 for i in world.incidents)
    assert mttd["median_min"] == pytest.approx(truth_mttd[len(truth_mttd) // 2])
    alerts = ops.alerts.list()
    assert set(alerts["status"]) == {"resolved"} and alerts["incident_id"].notna().all()
    assert len(ops.alerts.list_silences()) == 1


def test_demo_stream_fatigue_reduction_meets_the_target(world) -> None:
    events, windows = demo_stream(world)
    assert len(events) > 1000
    rep = __import__("opsnb.alerts.grouping", fromlist=["replay"]).replay(
        events, Policy(), muter=make_muter(windows, []))
    assert rep.silenced > 0 and rep.notifications < rep.after_grouping < rep.after_dedup < rep.received
    assert rep.reduction_pct >= 80.0


def test_demo_workspace_incidents_and_slo_impact(demo_ops) -> None:
    """The generated demo: each incident seeded, and its SLO budget burn computed by the SLO domain."""
    df = demo_ops.incidents.list()
    assert len(df) >= 3 and set(df["status"]) <= {"resolved", "closed"}
    for iid in df["id"]:
        inc = demo_ops.incidents.get(iid)
        impact = demo_ops.incidents.slo_impact(iid)
        assert list(impact["slo"]) == inc.linked("slo") and impact["error"].isna().all()
        row = impact.iloc[0]
        assert row["budget_burned"] > 0 and 0 < row["bad_events"] <= row["total_events"]
        # cross-check against the SLO domain's own per-minute history over the same window
        hist = demo_ops.slos[row["slo"]].history(start=row["start"], end=row["end"], freq="1min")
        assert row["total_events"] == pytest.approx(hist["total"].sum())
        assert row["bad_events"] == pytest.approx((hist["total"] - hist["good"]).sum())
        assert len(demo_ops.alerts.list(labels=f'service="{inc.service}"')) >= 1
