"""The two recovery checks of a rollback, on logs written at known instants (SQLite and PostgreSQL).

The sshd tests run the checks through a real rollback; these pin their arithmetic: which minutes the
SLO check counts (not the one the command finished in), its burn rate, the events it waits for, and
the error ratio check's figures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from opsnb.deploys.rollback import error_ratio_verifier, service_slos, slo_burn_verifier
from opsnb.workbench import Workbench
from tests.deploys.test_rollback_sshd import _with_slo


def _log(ops: Workbench, start: datetime, seconds: int, per_second: int, bad_share: float) -> None:
    lines = []
    for sec in range(seconds):
        for k in range(per_second):
            status = 503 if k < per_second * bad_share else 200
            lines.append(json.dumps({"timestamp": (start + timedelta(seconds=sec, milliseconds=k)).isoformat(),
                                     "service": "checkout", "status": status, "message": "GET /cart"}))
    ops.logs.ingest_bytes("\n".join(lines) + "\n", format="jsonl", source="test")


def _minute_ago(n: int) -> datetime:
    now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0) - timedelta(minutes=n)


def test_slo_check_leaves_out_the_minute_of_the_command_and_reads_the_burn_rate(ops: Workbench) -> None:
    _with_slo(ops)
    assert service_slos(ops, "checkout") == ["checkout-availability"] and service_slos(ops, "search") == []
    m3 = _minute_ago(3)
    done = m3 + timedelta(seconds=40)  # the command finished 40 s into that minute
    _log(ops, m3, 40, 5, 0.4)  # the bad version: 40 % 5xx until then
    _log(ops, done, 20, 5, 0.0)  # the rest of that minute is good, but it is not counted
    _log(ops, m3 + timedelta(minutes=1), 6, 20, 0.05)  # then 5 % errors against a 10 % budget: burn 0.5
    verdict, detail, fig = slo_burn_verifier(["checkout-availability"])(ops, "checkout", "prod", done)
    assert verdict is True, detail
    slo = fig["slos"]["checkout-availability"]
    assert slo["total"] == 120 and slo["burn_rate"] == 0.5
    assert datetime.fromisoformat(fig["window_start"]) == m3 + timedelta(minutes=1)
    assert "5-minute burn rate 0.50 over 120 events (under 1)" in detail


def test_slo_check_says_not_recovered_with_its_figures(ops: Workbench) -> None:
    _with_slo(ops)
    m2 = _minute_ago(2)
    _log(ops, m2, 120, 1, 0.0)
    _log(ops, m2 + timedelta(minutes=1), 30, 2, 0.5)  # 50 % 5xx: burn 5 in the minute after
    verdict, detail, fig = slo_burn_verifier(["checkout-availability"])(ops, "checkout", "prod",
                                                                       m2 + timedelta(seconds=5))
    assert verdict is False and "not under 1" in detail
    assert fig["slos"]["checkout-availability"]["burn_rate"] > 1


def test_slo_check_waits_for_events_and_for_the_next_minute(ops: Workbench) -> None:
    _with_slo(ops)
    verdict, detail, _ = slo_burn_verifier(["checkout-availability"])(ops, "checkout", "prod", datetime.now(UTC))
    assert verdict is None and "waiting for the first whole minute" in detail
    m1 = _minute_ago(1)
    _log(ops, m1, 5, 1, 0.0)  # 5 events, fewer than the 20 the check wants
    verdict, detail, _ = slo_burn_verifier(["checkout-availability"])(ops, "checkout", "prod",
                                                                      m1 - timedelta(seconds=1))
    assert verdict is None and "waiting for 20" in detail


def test_error_ratio_check_figures(ops: Workbench) -> None:
    since = datetime.now(UTC) - timedelta(seconds=30)
    _log(ops, since, 10, 4, 0.25)
    verdict, detail, fig = error_ratio_verifier(0.05)(ops, "checkout", "prod", since)
    assert verdict is False and fig == {"error_ratio": 0.25, "requests": 40, "threshold": 0.05}
    assert detail == "error ratio 25.0% over 40 requests (not under 5.0%)"
