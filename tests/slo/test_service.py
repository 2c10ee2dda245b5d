"""ops.slos on real lake data: reports, data quality, exclusions, alerts, backtests, budget policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from opsnb.audit.models import AuditRecord
from opsnb.errors import NotFound, PermissionDenied, ValidationError
from opsnb.slo import demo
from opsnb.slo import policy as pol
from opsnb.slo.spec import parse_text

from .conftest import T0, write_traffic

H = timedelta(hours=1)
D = timedelta(days=1)


def audits(ops, action: str) -> list[AuditRecord]:
    with ops.db.session() as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def as_viewer(ops) -> None:
    ops.user = "someone-else"  # never granted a role: viewer


def test_no_data_is_reported_never_a_silent_100(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory)
    r = ops_sqlite.slos["checkout-availability"].report(at=T0)
    assert r.status == "no data" and r.sli is None and r.budget_remaining is None
    assert any("no data" in i for i in r.issues)
    # a filter that matches nothing in a lake that has data is "no data" too
    write_traffic(ops_sqlite, minutes=60, services=("payments",))
    r = ops_sqlite.slos["checkout-availability"].report(at=T0 + H)
    assert r.status == "no data" and r.events_total == 0
    assert ops_sqlite.slos.status(at=T0 + H)["status"].tolist() == ["no data"]


def test_data_quality_checks(ops_sqlite, slo_file) -> None:
    write_traffic(ops_sqlite, minutes=30, per_minute=2)
    import pyarrow as pa
    ops_sqlite.lake.write("logs", pa.table({"Timestamp": pa.array([T0 + timedelta(minutes=40)] * 3),
                                            "ServiceName": ["checkout"] * 3, "HttpStatus": pa.nulls(3, pa.int32())}))
    text = (slo_file(ops_sqlite.slos.directory, window="1h").read_text()
            .replace("filter: HttpStatus < 500", "filter: HttpStatus < 500 OR HttpStatus IS NULL"))
    (ops_sqlite.slos.directory / "checkout-availability.yaml").write_text(text)
    r = ops_sqlite.slos["checkout-availability"].report(at=T0 + H)
    dq = r.data_quality
    assert dq["good_gt_total_minutes"] == 1 and dq["too_few_events"] is True
    assert dq["missing_minutes"] == 30 and dq["minutes"] == 60
    assert r.events_total == 60 and r.events_good == 60  # good clipped to valid in the bad minute
    assert any("more good than valid" in i for i in r.issues) and any("too few events" in i for i in r.issues)


def test_hostile_filters_are_refused(ops_sqlite, slo_file) -> None:
    write_traffic(ops_sqlite, minutes=10)
    for flt in ["HttpStatus < 500; DROP TABLE logs", "read_csv('/etc/passwd') IS NOT NULL",
                "HttpStatus IN (SELECT 1)", "Nope = 1", "(HttpStatus < 500", "HttpStatus < 500 --",
                "HttpStatus < 500 /* the time range after this */"]:
        p = slo_file(ops_sqlite.slos.directory)
        p.write_text(p.read_text().replace("filter: HttpStatus < 500", f'filter: "{flt}"'))
        with pytest.raises(ValidationError) as ei:
            ops_sqlite.slos["checkout-availability"].report(at=T0 + H)
        assert "filter" in str(ei.value)
    p.write_text(p.read_text().replace("type: lake", "type: nosuch"))
    with pytest.raises(ValidationError, match="no source registered for metricSource type 'nosuch'"):
        ops_sqlite.slos["checkout-availability"].report(at=T0 + H)


def test_latency_threshold_sli_counts_slow_requests(ops_sqlite, tmp_path) -> None:
    demo.write(ops_sqlite.slos.directory, ("search",))
    write_traffic(ops_sqlite, minutes=120, services=("search",),
                  slow=[("search", T0 + timedelta(minutes=30), T0 + timedelta(minutes=40), 0.5)])
    r = ops_sqlite.slos["search-latency"].report(at=T0 + 2 * H)
    assert r.events_total == 1200 and r.events_bad == 50  # 10 minutes x 5 slow
    assert r.sli == pytest.approx(1 - 50 / 1200)


def test_status_of_every_kind_in_one_frame(ops_sqlite) -> None:
    services = ("checkout", "search", "frontend")
    demo.write(ops_sqlite.slos.directory, services)
    write_traffic(ops_sqlite, minutes=2 * 1440, services=services,
                  errors=[("checkout", T0 + 30 * H, T0 + 31 * H, 0.5)])
    st = ops_sqlite.slos.status(at=T0 + 2 * D)
    assert set(st["name"]) == set(ops_sqlite.slos)
    row = st.set_index("name").loc["checkout-availability"]
    assert row["sli"] == pytest.approx(1 - 300 / 28800) and row["status"] == "breached"
    assert st.set_index("name").loc["search-availability", "status"] == "ok"
    monthly = ops_sqlite.slos["checkout-availability-monthly"].report(at=T0 + 2 * D)
    # calendar month in Paris starts Oct 31 23:00 UTC; the 49 h elapsed of 30 d weigh 49 h / 30 d
    assert monthly.window_start == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert monthly.window_end == datetime(2026, 11, 30, 23, tzinfo=UTC)
    b = 1 - monthly.target
    assert monthly.budget_consumed == pytest.approx((300 / 28800) / b * (49 * 60) / (30 * 1440), rel=1e-9)
    assert monthly.budget_time_total_s == pytest.approx(b * 30 * 86400)
    assert monthly.budget_events_total == pytest.approx(b * 28800 * (30 * 1440) / (49 * 60))
    slices = ops_sqlite.slos["frontend-availability-slices"].report(at=T0 + 2 * D)
    assert slices.unit == "slices" and slices.sli == 1.0 and slices.events_total == 2 * 288


def test_alerts_over_history_fire_and_reset(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory)
    write_traffic(ops_sqlite, minutes=5 * 1440, per_minute=100,
                  errors=[("checkout", T0 + 4 * D, T0 + 4 * D + H, 0.3)])
    slo = ops_sqlite.slos["checkout-availability"]
    single = pol.single_window("1h", fraction=0.02, name="single-1h")
    ep = slo.alerts(single, start=T0 + 3 * D, end=T0 + 5 * D)
    assert len(ep) == 1
    e = ep.iloc[0]
    assert e["fired_at"] == T0 + 4 * D + timedelta(minutes=3)  # 0.0144 * 60 / 0.3 = 2.88 min
    # resets when 0.3 * (60 - t) / 60 <= 0.0144: t = 57.12 -> the 58th minute after the end
    assert e["reset_at"] == T0 + 4 * D + H + timedelta(minutes=58)
    wb = slo.alerts("workbook", start=T0 + 3 * D, end=T0 + 5 * D)
    fast = wb[wb["tier"] == "page-1h"].iloc[0]
    assert fast["fired_at"] == e["fired_at"]
    assert fast["reset_at"] == T0 + 4 * D + H + timedelta(minutes=5)  # the 5m short window clears first
    assert set(wb["tier"]) == {"page-1h", "page-6h", "ticket-1d", "ticket-3d"}


def test_backtest_scores_policies_side_by_side(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory)
    write_traffic(ops_sqlite, minutes=5 * 1440, per_minute=100,
                  errors=[("checkout", T0 + 4 * D, T0 + 4 * D + H, 0.3),
                          ("checkout", T0 + 3 * D, T0 + 3 * D + timedelta(minutes=2), 1.0)])
    incidents = [{"id": "INC-1", "start": T0 + 4 * D, "end": T0 + 4 * D + H, "service": "checkout"},
                 {"id": "INC-2", "start": T0 + 2 * D, "end": T0 + 2 * D + H, "service": "checkout"},  # silent
                 {"id": "INC-3", "start": T0 + 2 * D, "end": T0 + 2 * D + H, "service": "payments"}]
    bt = ops_sqlite.slos.backtest(incidents=incidents, start=T0 + 1 * D, end=T0 + 5 * D)
    s = bt.summary.set_index("policy")
    assert list(s.index) == ["workbook", "single-1h", "single-6h"]
    one = s.loc["single-1h"]
    assert one["recall"] == pytest.approx(1 / 3) and one["detected"] == 1
    assert one["detection_median_s"] == 180.0
    assert one["reset_median_s"] == 58 * 60
    assert one["precision"] == pytest.approx(0.5)  # the 2-minute blip paged too
    assert one["pages_per_week"] == pytest.approx(2 / (4 / 7))
    # budget spent at first fire: 3 minutes x 30 bad / (B x valid events in the 30 d window then)
    valid = (4 * 1440 + 3) * 100
    assert one["budget_at_first_fire_median"] == pytest.approx(90 / (0.001 * valid))
    assert s.loc["workbook", "detection_median_s"] == 180.0
    assert s.loc["workbook", "episodes"] > one["episodes"]
    eps = bt.episodes
    assert set(eps["policy"]) == {"workbook", "single-1h", "single-6h"} and (eps["slo"] == "checkout-availability").all()
    assert "<table" in bt._repr_html_()
    with pytest.raises(ValidationError, match="is not a time"):
        ops_sqlite.slos.backtest(incidents=[{"start": "2026-11-01 at ten", "end": "2026-11-01 11:00"}])
    with pytest.raises(ValidationError, match="not after start"):
        ops_sqlite.slos.backtest(incidents=[{"start": T0 + H, "end": T0}])
    with pytest.raises(NotFound, match="demo incidents"):
        ops_sqlite.slos.backtest(incidents="demo")


def test_exclusions_leave_maintenance_out_of_the_budget(ops, slo_file) -> None:
    slo_file(ops.slos.directory)
    write_traffic(ops, minutes=8 * 1440, per_minute=10,
                  errors=[("checkout", T0 + D + 2 * H, T0 + D + 3 * H, 1.0),
                          ("checkout", T0 + 5 * D, T0 + 5 * D + H, 1.0)])
    slo = ops.slos["checkout-availability"]
    at = T0 + 8 * D
    before = slo.report(at=at)
    assert before.events_bad == 1200
    # weekly maintenance on Mondays 03:00-04:00 Paris time, first on Oct 19 (01:00Z, summer time):
    # it keeps local wall time across the DST change, so on Nov 2 it is 02:00-03:00 UTC
    ops.slos.exclude("checkout-availability", start="2026-10-19T01:00Z", end="2026-10-19T02:00Z", every="week",
                     timezone="Europe/Paris", reason="weekly db maintenance")
    after = slo.report(at=at)
    # Oct 19, Oct 26 (no data yet) and Nov 2 fall in the 30 d window
    assert after.events_bad == 600 and after.excluded_minutes == 180 and after.excluded_events == 600
    assert after.events_total == before.events_total - 600
    assert after.budget_remaining > before.budget_remaining
    one_off = ops.slos.exclude("*", start=T0 + 5 * D, end=T0 + 5 * D + H, reason="planned failover")
    last = slo.report(at=at)
    assert last.events_bad == 0 and last.excluded_minutes == 240
    assert len(ops.slos.exclusions("checkout-availability")) == 2
    assert [a.target for a in audits(ops, "slo.exclude")] == ["checkout-availability", "*"]
    ops.slos.remove_exclusion(one_off, reason="done")
    assert slo.report(at=at).events_bad == 600
    with pytest.raises(ValidationError, match="shorter than a week"):
        ops.slos.exclude("checkout-availability", start=T0, end=T0 + 8 * D, every="week")
    with pytest.raises(ValidationError, match="is not a time"):
        ops.slos.exclude("checkout-availability", start="2026-11-01 at ten", end="2026-11-01 11:00")
    with pytest.raises(NotFound):
        ops.slos.exclude("nope", start=T0, end=T0 + H)
    as_viewer(ops)
    with pytest.raises(PermissionDenied):
        ops.slos.exclude("checkout-availability", start=T0, end=T0 + H)


BUDGET_POLICY = """\
apiVersion: opsnb.io/v1
kind: ErrorBudgetPolicy
metadata: {name: default}
spec:
  slos: ["*"]
  steps:
    - name: freeze
      when: {remainingBelow: 0.25}
      action: {kind: freeze-deploys}
    - name: fast-burn
      when: {burnRateAbove: 10, window: 1h}
      action: {kind: record, message: run the triage runbook}
"""


def test_budget_policy_steps_are_taken_once_audited_and_cleared(ops, slo_file) -> None:
    slo_file(ops.slos.directory)
    (ops.slos.directory / "budget.yaml").write_text(BUDGET_POLICY)
    write_traffic(ops, minutes=3 * 1440, per_minute=10, errors=[("checkout", T0 + D, T0 + D + H, 1.0)])
    df = ops.slos.evaluate_budget_policies(T0 + D + H)
    assert df.set_index("step")["taken"].to_dict() == {"freeze": True, "fast-burn": True}
    again = ops.slos.evaluate_budget_policies(T0 + D + H + timedelta(minutes=1))
    assert not again["taken"].any() and again["active"].all()
    later = ops.slos.evaluate_budget_policies(T0 + D + 3 * H)  # 1h burn back to 0; budget still overspent
    assert later.set_index("step")["active"].to_dict() == {"freeze": True, "fast-burn": False}
    taken = ops.slos.steps_taken("checkout-availability")
    assert len(taken) == 2 and taken.set_index("step").loc["fast-burn", "cleared_at"] is not None
    assert len(audits(ops, "slo.budget_policy.step")) == 2 and len(audits(ops, "slo.budget_policy.clear")) == 1
    dry = ops.slos.evaluate_budget_policies(T0 + 2 * D, dry_run=True)
    assert len(dry) == 2
    as_viewer(ops)
    with pytest.raises(PermissionDenied):
        ops.slos.evaluate_budget_policies(T0 + 2 * D)


def test_freeze_step_freezes_deploys_and_lifts_its_own_freeze_when_it_clears(ops, slo_file) -> None:
    from opsnb.errors import Conflict

    slo_file(ops.slos.directory)
    (ops.slos.directory / "budget.yaml").write_text(BUDGET_POLICY.replace(
        "{remainingBelow: 0.25}", "{burnRateAbove: 10, window: 1h}"))
    write_traffic(ops, minutes=3 * 1440, per_minute=10, errors=[("checkout", T0 + D, T0 + D + H, 1.0)])
    service = ops.slos["checkout-availability"].spec.service
    ops.slos.evaluate_budget_policies(T0 + D + H)
    with pytest.raises(Conflict, match="error budget policy of SLO checkout-availability"):
        ops.deploys.create(service=service, version="9.9.9")
    ops.deploys.freeze(service=service, reason="by hand", source="")  # not the policy's: must survive
    frozen = ops.deploys.freezes()
    assert sorted(frozen["source"]) == ["", "slo:checkout-availability"]
    ops.slos.evaluate_budget_policies(T0 + D + 3 * H)  # the 1 h burn is over: the step clears
    left = ops.deploys.freezes()
    assert list(left["source"]) == [""]
    ops.deploys.unfreeze(service=service)
    assert ops.deploys.create(service=service, version="9.9.9").version == "9.9.9"
    calm = ops.slos.evaluate_budget_policies(T0 + 2 * D + H)  # no burn: nothing new is frozen
    assert not calm["taken"].any() and ops.deploys.freezes().empty


def test_firing_tiers_become_trigger_then_resolve_events(ops, slo_file) -> None:
    slo_file(ops.slos.directory)
    write_traffic(ops, minutes=3 * 1440, per_minute=10, errors=[("checkout", T0 + D, T0 + D + H, 1.0)])
    ev = ops.slos.alert_events(T0 + D + timedelta(minutes=30))
    assert {e["dedup_key"] for e in ev} >= {"slo:checkout-availability:page-1h"}
    assert all(e["event_action"] == "trigger" and e["payload"]["source"] == "opsnb.slo" for e in ev)
    assert ops.slos.alert_events(T0 + D + timedelta(minutes=31)) == []  # no change, no event
    gone = ops.slos.alert_events(T0 + 3 * D)
    assert {e["dedup_key"] for e in gone} == {e["dedup_key"] for e in ev}
    assert all(e["event_action"] == "resolve" for e in gone)
    assert len(audits(ops, "slo.alert.trigger")) == len(ev)
    out = ops.slos.tick(T0 + 3 * D)
    assert out == {"budget_steps": 0, "alert_events": 0}


def test_load_validates_everything_before_copying(ops, tmp_path) -> None:
    src = tmp_path / "src"
    demo.write(src, ("checkout",))
    names = ops.slos.load(src, reason="initial")
    assert "checkout-availability" in names and "checkout-availability" in ops.slos
    assert len(audits(ops, "slo.load")) == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text((src / "checkout.yaml").read_text().replace("target: 0.999", "target: 1.5", 1)
                                .replace("checkout-availability", "x-availability"))
    with pytest.raises(ValidationError, match="x.yaml"):
        ops.slos.load(bad)
    assert not (ops.slos.directory / "x.yaml").exists()
    with pytest.raises(NotFound):
        ops.slos.load(tmp_path / "missing.yaml")
    as_viewer(ops)
    with pytest.raises(PermissionDenied):
        ops.slos.load(src)


def test_export_is_the_loaded_yaml(ops_sqlite) -> None:
    demo.write(ops_sqlite.slos.directory, ("checkout",))
    text = ops_sqlite.slos.export("checkout-availability")
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == ["Service", "AlertPolicy", "SLO"]
    originals = {(d["kind"], d["metadata"]["name"]): d
                 for f in ops_sqlite.slos.directory.glob("*.yaml") for d in yaml.safe_load_all(f.read_text())}
    assert all(d == originals[(d["kind"], d["metadata"]["name"])] for d in docs)
    assert [x.split("/")[0] for x in ops_sqlite.slos.parse(text)] == ["Service", "AlertPolicy", "SLO"]
    assert len(parse_text(text)) == 3
    with pytest.raises(NotFound, match="no SLO 'nope'"):
        ops_sqlite.slos["nope"]


def test_history_and_report_html(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory, window="1d")
    write_traffic(ops_sqlite, minutes=2 * 1440, errors=[("checkout", T0 + 30 * H, T0 + 31 * H, 0.5)])
    h = ops_sqlite.slos["checkout-availability"].history(start=T0 + D, end=T0 + 2 * D, freq="1h")
    assert len(h) == 24 and str(h.index.dtype) == "datetime64[us, UTC]" or str(h.index.tz) == "UTC"
    assert h["burn_rate"].iloc[6] == pytest.approx(500.0)
    assert np.isclose(h["budget_remaining"].iloc[-1], 1 - (300 / 14400) / 0.001)
    r = ops_sqlite.slos["checkout-availability"].report(at=T0 + 2 * D)
    assert "checkout-availability" in r._repr_html_() and r.as_dict()["at"].startswith("2026-11-03")
    with pytest.raises(ValidationError):
        ops_sqlite.slos["checkout-availability"].history(start=T0, end=T0 + D, freq="10s")


def test_day_cache_sees_late_segments_and_other_workspaces(ops_sqlite, slo_file, tmp_path) -> None:
    from tests.conftest import make_ops

    slo_file(ops_sqlite.slos.directory, window="1d")
    write_traffic(ops_sqlite, minutes=120)
    slo = ops_sqlite.slos["checkout-availability"]
    assert slo.report(at=T0 + 2 * H).events_total == 1200
    write_traffic(ops_sqlite, minutes=60, errors=[("checkout", T0, T0 + H, 1.0)])  # late data, same day
    r = slo.report(at=T0 + 2 * H)
    assert r.events_total == 1800 and r.events_bad == 600
    other = make_ops(tmp_path / "other")
    try:
        slo_file(other.slos.directory, window="1d")
        assert other.slos["checkout-availability"].report(at=T0 + 2 * H).status == "no data"
    finally:
        other.close()


def test_firing_tiers_become_alerts_in_the_alerts_domain(ops, slo_file) -> None:
    slo_file(ops.slos.directory)
    write_traffic(ops, minutes=3 * 1440, per_minute=10, errors=[("checkout", T0 + D, T0 + D + H, 1.0)])
    sent = ops.slos.sync_alerts(T0 + D + timedelta(minutes=30))
    assert sent
    firing = ops.alerts.list(status="firing", labels={"slo": "checkout-availability"})
    assert len(firing) == len(sent)
    assert ops.slos.sync_alerts(T0 + D + timedelta(minutes=31)) == []
    resolved = ops.slos.sync_alerts(T0 + 3 * D)
    assert len(resolved) == len(sent) and all(e["event_action"] == "resolve" for e in resolved)
    assert ops.alerts.list(status="firing", labels={"slo": "checkout-availability"}).empty
    assert len(ops.alerts.list(status="resolved", labels={"slo": "checkout-availability"})) == len(sent)


def test_ratio_with_a_bad_metric(ops_sqlite, slo_file) -> None:
    p = slo_file(ops_sqlite.slos.directory)
    p.write_text(p.read_text().replace("        good:\n", "        bad:\n").replace("filter: HttpStatus < 500",
                                                                               "filter: HttpStatus >= 500"))
    write_traffic(ops_sqlite, minutes=60, errors=[("checkout", T0, T0 + timedelta(minutes=10), 0.3)])
    r = ops_sqlite.slos["checkout-availability"].report(at=T0 + H)
    assert (r.events_total, r.events_bad) == (600, 30) and r.data_quality["good_gt_total_minutes"] == 0


def test_one_broken_file_does_not_hide_the_others(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory)
    slo_file(ops_sqlite.slos.directory, name="payments-availability", service="payments", target=1.5)
    (ops_sqlite.slos.directory / "junk.yaml").write_text("kind: [unclosed\n")
    assert list(ops_sqlite.slos) == ["checkout-availability"]
    problems = ops_sqlite.slos.problems()
    assert any("payments-availability.yaml" in p and "target" in p for p in problems)
    assert any("junk.yaml" in p for p in problems)
    assert len(ops_sqlite.slos.status(at=T0)) == 1
    with pytest.raises(NotFound):
        ops_sqlite.slos["payments-availability"]


def test_closed_days_counts_are_shared_through_the_workspace_cache(ops_sqlite, slo_file) -> None:
    from opsnb.slo.sources import SOURCES
    from opsnb.workbench import connect

    slo_file(ops_sqlite.slos.directory, window="1d")
    write_traffic(ops_sqlite, minutes=120, errors=[("checkout", T0, T0 + H, 0.5)])
    first = ops_sqlite.slos["checkout-availability"].report(at=T0 + 2 * H)
    cached = list((ops_sqlite.workspace / "cache" / "slo" / "logs").rglob("*.npy"))
    assert len(cached) == 1
    SOURCES["lake"]._cache.clear()  # a fresh process: nothing in memory
    other = connect(ops_sqlite.workspace)
    try:
        again = other.slos["checkout-availability"].report(at=T0 + 2 * H)
        assert (again.events_total, again.events_bad) == (first.events_total, first.events_bad) == (1200, 300)
        # a late segment changes that day's digest: recounted, and the stale counts removed
        write_traffic(other, minutes=60, start=T0 + 2 * H)
        SOURCES["lake"]._cache.clear()
        assert other.slos["checkout-availability"].report(at=T0 + 3 * H).events_total == 1800
        assert len(list((ops_sqlite.workspace / "cache" / "slo" / "logs").rglob("*.npy"))) == 1
        # a corrupt cache file is ignored, not trusted
        bad = next((ops_sqlite.workspace / "cache" / "slo" / "logs").rglob("*.npy"))
        bad.write_bytes(b"garbage")
        SOURCES["lake"]._cache.clear()
        assert other.slos["checkout-availability"].report(at=T0 + 3 * H).events_total == 1800
    finally:
        other.close()


def test_budget_policy_runbook_step_goes_through_the_runbooks_domain(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory)
    (ops_sqlite.slos.directory / "budget.yaml").write_text(
        BUDGET_POLICY.replace("{kind: record, message: run the triage runbook}",
                              "{kind: runbook, runbook: no-such-runbook-here, params: {service: checkout}}"))
    write_traffic(ops_sqlite, minutes=2 * 1440, per_minute=10, errors=[("checkout", T0 + D, T0 + D + H, 1.0)])
    df = ops_sqlite.slos.evaluate_budget_policies(T0 + D + H).set_index("step")
    assert df.loc["fast-burn", "taken"] and df.loc["fast-burn", "result"].startswith("failed: ")
    assert "no-such-runbook-here" in df.loc["fast-burn", "result"]
    assert df.loc["freeze", "result"].startswith("deploys of ") and df.loc["freeze", "result"].endswith(" frozen")
    stored = ops_sqlite.slos.steps_taken().set_index("step")
    assert stored.loc["fast-burn", "result"] == df.loc["fast-burn", "result"]
