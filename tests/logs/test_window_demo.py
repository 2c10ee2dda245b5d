"""The incident window over the small demo world: each injected incident shows in the logs."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from opsnb.demo.generate import MARKER


def _incidents(ops) -> list[dict]:
    marker = json.loads((ops.workspace / MARKER).read_text())
    return marker["incidents"]


def test_window_shows_each_demo_incident(demo_ops) -> None:
    """The small demo is thin (5 % volume), so per-incident checks compare with plain SQL; the
    error surge itself must show for at least one error incident."""
    incidents = _incidents(demo_ops)
    assert incidents
    rises = []
    for inc in incidents:
        start = datetime.fromisoformat(inc["impact_start"])
        w = demo_ops.logs.window(start, service=inc["service"], before="30m", after="20m", baseline="2h")
        truth = demo_ops.logs.sql(
            "SELECT count(*) AS n, count(*) FILTER (WHERE SeverityNumber >= 17 OR HttpStatus >= 500) AS e, "
            "count(DurationMs) AS d FROM logs WHERE ServiceName = ? AND Timestamp >= ? AND Timestamp < ?",
            [inc["service"], w.start, w.end], since=w.start, until=w.end).iloc[0]
        assert (w.total, w.error_total, int(w.latency["count"].sum())) == (truth["n"], truth["e"], truth["d"])
        assert len(w.volume) == 50 and w.start < w.around < w.end
        t = pd.Timestamp(start)
        before = w.error_rate[w.error_rate["time"] < t]
        after = w.error_rate[w.error_rate["time"] >= t]
        if inc["cause"] != "latency-regression":
            ratio_b = before["errors"].sum() / max(before["total"].sum(), 1)
            ratio_a = after["errors"].sum() / max(after["total"].sum(), 1)
            rises.append(ratio_a > 2 * ratio_b and after["errors"].sum() >= 3)
            if after["errors"].sum():
                assert len(w.trace_ids) > 0
                assert len(w.errors) > 0 or "opsnb.logs.fingerprints is not installed" in " ".join(w.notes)
        if inc.get("deploy_id") and not any(n.startswith("deploys:") for n in w.notes):
            assert len(w.deploys) >= 1, inc["id"]
        assert w.figure() is not None and inc["service"] in w._repr_html_()
    assert any(rises)


def test_demo_context_and_topk(demo_ops) -> None:
    inc = next(i for i in _incidents(demo_ops) if i["cause"] == "disk-full")
    start = datetime.fromisoformat(inc["impact_start"])
    errs = demo_ops.logs.query(start, start + pd.Timedelta(minutes=20), service=inc["service"],
                               errors_only=True, limit=5)
    assert len(errs) > 0
    ctx = demo_ops.logs.context(errs.iloc[0], n=10)
    assert (ctx["offset"] == 0).sum() == 1 and ctx["offset"].min() >= -10 and ctx["offset"].max() <= 10
    top = demo_ops.logs.topk(start, start + pd.Timedelta(minutes=20), field="HttpRoute", k=3,
                             service=inc["service"], errors_only=True)
    assert 1 <= len(top) <= 3 and top["count"].is_monotonic_decreasing
