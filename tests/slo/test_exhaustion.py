"""An overspent budget reads "exhausted N ago", never "never", even when nothing burns right now."""

from __future__ import annotations

from datetime import timedelta

from .conftest import T0, write_traffic

H = timedelta(hours=1)


def test_overspent_budget_is_exhausted_not_never(ops_sqlite, slo_file) -> None:
    # 99.5 % over 1d; 10 req/min for a day; 30 % errors from 10:00 to 11:00, then clean
    slo_file(ops_sqlite.slos.directory, window="1d", target=0.995)
    write_traffic(ops_sqlite, minutes=1440, errors=[("checkout", T0 + 10 * H, T0 + 11 * H, 0.3)])
    at = T0 + 24 * H
    r = ops_sqlite.slos["checkout-availability"].report(at=at)
    assert r.budget_remaining is not None and r.budget_remaining < 0 and r.burn_rates["1h"] == 0
    assert r.exhaustion_remaining_s == 0.0  # spent, although the 1h burn rate is 0
    # budget: 0.5 % of 14,400 = 72 bad; 3 bad a minute from 10:00 -> the 25th bad minute, 10:24, ends at 10:25
    assert r.exhausted_at == T0 + 10 * H + timedelta(minutes=25)
    assert r.exhaustion() == "exhausted 13.6h ago (2026-11-01 10:25 UTC)"
    page = r._repr_html_()
    assert "exhausted 13.6h ago" in page and "never" not in page.split("exhaustion", 1)[1].split("</tr>", 1)[0]
    assert r.as_dict()["exhausted_at"] == "2026-11-01T10:25:00+00:00"


def test_healthy_budget_says_when_or_never(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory, window="1d", target=0.99)
    write_traffic(ops_sqlite, minutes=1440, errors=[("checkout", T0 + 23 * H, T0 + 24 * H, 0.1)])
    r = ops_sqlite.slos["checkout-availability"].report(at=T0 + 24 * H)
    assert r.budget_remaining is not None and r.budget_remaining > 0 and r.exhausted_at is None
    assert r.exhaustion().startswith("in ") and r.exhaustion().endswith("at the 1h burn rate")
    write_traffic(ops_sqlite, start=T0 + 24 * H, minutes=120)
    calm = ops_sqlite.slos["checkout-availability"].report(at=T0 + 26 * H)
    assert calm.exhaustion() == "never at the 1h burn rate"
