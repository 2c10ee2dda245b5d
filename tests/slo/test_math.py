"""Every worked example of the SLO reference notes, through the formulas and through real lake data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from opsnb.slo import math as sm
from opsnb.slo import policy as pol
from opsnb.slo.spec import Duration

DAY = 86400.0


def write_events(ops, start: datetime, span: timedelta, n: int, bad_every: int, service: str = "checkout") -> None:
    """n events spread evenly over span; every bad_every-th one is a 500."""
    i = np.arange(n, dtype=np.int64)
    base = int(start.timestamp() * 1_000_000)
    ts = base + (i * int(span.total_seconds() * 1_000_000)) // n
    status = np.where(i % bad_every == bad_every - 1, 500, 200).astype(np.int32)
    ops.lake.write("logs", pa.table({"Timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                                     "ServiceName": pa.array([service] * n), "HttpStatus": pa.array(status)}))


def test_example1_formulas() -> None:
    s = sm.sli(99_000, 100_000)
    assert s == pytest.approx(0.99)
    assert pytest.approx(0.06) == (1 - 0.999) * 60  # minutes of budget in the hour
    assert sm.burn_rate(1 - s, 0.999) == pytest.approx(10.0)
    assert sm.consumed(s, 0.999) == pytest.approx(10.0)  # 1000 %


def test_example1_report_from_lake(ops_sqlite, slo_file) -> None:
    start = datetime(2026, 11, 2, 10, tzinfo=UTC)
    write_events(ops_sqlite, start, timedelta(hours=1), 100_000, 100)
    slo_file(ops_sqlite.slos.directory, window="1h")
    r = ops_sqlite.slos["checkout-availability"].report(at=start + timedelta(hours=1))
    assert (r.events_good, r.events_bad) == (99_000, 1_000)
    assert r.sli == pytest.approx(0.99)
    assert r.budget_time_total_s / 60 == pytest.approx(0.06)
    assert r.burn_rates["window (1h)"] == pytest.approx(10.0)
    assert r.budget_consumed == pytest.approx(10.0)
    assert r.budget_remaining == pytest.approx(-9.0)  # overspent is reported, not clamped
    assert r.status == "breached"


def test_example2_formulas() -> None:
    s = sm.sli(999_500, 1_000_000)
    period = 28 * DAY
    assert (1 - 0.999) * period / 60 == pytest.approx(40.32)
    assert (1 - sm.consumed(s, 0.999)) * (1 - 0.999) * period / 60 == pytest.approx(20.16)
    assert sm.burn_rate(1 - s, 0.999) == pytest.approx(0.5)


def test_example2_report_from_lake(ops_sqlite, slo_file) -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    write_events(ops_sqlite, start, timedelta(days=28), 1_000_000, 2000)
    slo_file(ops_sqlite.slos.directory, window="28d")
    r = ops_sqlite.slos["checkout-availability"].report(at=start + timedelta(days=28))
    assert (r.events_good, r.events_bad) == (999_500, 500)
    assert r.budget_time_total_s / 60 == pytest.approx(40.32)
    assert r.budget_time_remaining_s / 60 == pytest.approx(20.16)
    assert r.budget_remaining == pytest.approx(0.5)
    assert r.burn_rates["window (28d)"] == pytest.approx(0.5)
    assert r.budget_events_total == pytest.approx(1000.0)
    assert r.budget_events_remaining == pytest.approx(500.0)
    # exhaustion is r * P / BR and P / BR at the 1h burn rate
    assert r.burn_rates["3d"] == pytest.approx(0.5, rel=0.05)
    assert r.exhaustion_remaining_s == pytest.approx(0.5 * 28 * DAY / r.burn_rates["1h"])
    assert r.exhaustion_total_s == pytest.approx(28 * DAY / r.burn_rates["1h"])
    assert r.status == "ok" and r.issues == []


@pytest.mark.parametrize("days,expected", [(30, [14.4, 6, 3, 1]), (28, [13.44, 5.6, 2.8, 0.9333])])
def test_example3_thresholds(days: int, expected: list[float]) -> None:
    p = days * DAY
    got = [sm.threshold(f, p, lw) for f, lw in [(0.02, 3600), (0.05, 6 * 3600), (0.10, DAY), (0.10, 3 * DAY)]]
    assert got == pytest.approx(expected, abs=1e-4)
    # the Workbook policy resolves to the same thresholds for an SLO of that period
    assert [t.burn_rate for t in pol.workbook().resolve(p)] == pytest.approx(expected, abs=1e-4)


def test_example4_detection_times() -> None:
    assert sm.detection_time(14.4, 0.999, 3600) == pytest.approx(51.84)
    assert sm.detection_time(6, 0.999, 6 * 3600) == pytest.approx(2.16 * 60)
    assert sm.detection_time(1, 0.999, 3 * DAY) == pytest.approx(4.32 * 60)
    # the short window never slows a total outage down
    assert sm.detection_time(14.4, 0.999, 3600, short_s=300) == pytest.approx(51.84)
    assert sm.detection_time(14.4, 0.999, 3600, error_ratio=0.01) == float("inf")


def test_example4_policy_over_history_fires_at_the_first_minute_past_the_formula() -> None:
    """Total outage after 4 clean days, 100 events a minute: each tier fires at ceil(formula) minutes."""
    n = 5 * 1440
    total = np.full(n, 100.0)
    good = total.copy()
    outage = 4 * 1440
    good[outage:] = 0
    u = sm.Units.of(0, good, total)
    tiers = pol.Policy("t", [pol.TierDef("1h", "page", Duration(1, "h"), Duration(5, "m"), 14.4),
                             pol.TierDef("6h", "page", Duration(6, "h"), Duration(30, "m"), 6),
                             pol.TierDef("3d", "ticket", Duration(3, "d"), None, 1)]).resolve(30 * DAY)
    ep = pol.evaluate(u, 0.999, tiers, 0)
    first = {r.tier: (r.fired_at.timestamp() - outage * 60) for r in ep.itertuples()}
    for name, lw, br in [("1h", 3600, 14.4), ("6h", 6 * 3600, 6), ("3d", 3 * 86400, 1)]:
        exact = sm.detection_time(br, 0.999, lw)
        assert first[name] == np.ceil(exact / 60) * 60, name


def test_example5_budgeting_methods() -> None:
    good = np.array([10, 10, 10, 10, 20])
    total = np.array([10, 10, 10, 10, 40])
    assert sm.occurrences(good, total) == pytest.approx(0.75)
    assert sm.ratio_timeslices(good, total) == pytest.approx(0.90)
    assert sm.timeslices(good, total, 0.9) == pytest.approx(0.80)
    # the same through per-minute units (one slice per minute) and through 2-minute slices of halves
    for method, want in [("Occurrences", 0.75), ("RatioTimeslices", 0.9), ("Timeslices", 0.8)]:
        g, t = sm.to_units(good, total, method, 1, 0.9)
        assert g.sum() / t.sum() == pytest.approx(want)
    halves_g = np.repeat(good / 2, 2)
    halves_t = np.repeat(total / 2, 2)
    g, t = sm.to_units(halves_g, halves_t, "RatioTimeslices", 2, None)
    assert g.sum() / t.sum() == pytest.approx(0.9) and t.sum() == 5


def test_example6_ratio_of_sums_not_mean_of_ratios(ops_sqlite, slo_file) -> None:
    good, total = np.array([1000, 5]), np.array([1000, 10])
    assert 1 - sm.occurrences(good, total) == pytest.approx(0.00495, abs=1e-5)
    assert np.mean(1 - good / total) == pytest.approx(0.25)  # what a mean of ratios would say
    # through the lake: two 5-minute slices, 1000 events with no error, then 10 with 5 errors
    start = datetime(2026, 11, 2, 10, tzinfo=UTC)
    write_events(ops_sqlite, start, timedelta(minutes=5), 1000, 10**9)
    write_events(ops_sqlite, start + timedelta(minutes=5), timedelta(minutes=5), 10, 2)
    slo_file(ops_sqlite.slos.directory, window="1h")
    r = ops_sqlite.slos["checkout-availability"].report(at=start + timedelta(minutes=10))
    assert 1 - r.sli == pytest.approx(5 / 1010)


def test_episodes_and_units_windows() -> None:
    assert sm.episodes(np.array([0, 1, 1, 0, 1])) == [(1, 3), (4, 5)]
    u = sm.Units.of(100, np.array([1.0, 2, 3]), np.array([2.0, 2, 4]))
    assert u.sums(100, 103) == (6.0, 8.0)
    assert u.sums(50, 101) == (1.0, 2.0)  # clipped to the data
    er = u.error_ratio_series(2)
    assert er.tolist() == pytest.approx([0.5, 0.25, 1 / 6])
    assert np.isnan(sm.Units.of(0, np.zeros(2), np.zeros(2)).error_ratio_series(1)).all()
    with pytest.raises(ValueError):
        sm.budget_fraction(1.0)
