"""Queries, metrics, window and context over a generated lake (numbers checked against numpy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from opsnb.errors import ValidationError
from opsnb.logs import query as Q
from opsnb.store.lake import SCHEMAS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
N = 6_000  # one event every 0.6 s over one hour


@pytest.fixture
def lake_ops(ops_sqlite):
    """A lake with N events: 3 services, errors rising after 12:30 for checkout, latency known."""
    rng = np.random.default_rng(3)
    ts = np.array([int(T0.timestamp() * 1e6) + i * 600_000 for i in range(N)], dtype=np.int64)
    svc = np.array(["checkout", "payments", "search"])[np.arange(N) % 3]
    late = ts >= int((T0 + timedelta(minutes=30)).timestamp() * 1e6)
    err = (rng.random(N) < np.where((svc == "checkout") & late, 0.5, 0.02))
    dur = rng.gamma(2.0, 20.0, N)
    bodies = np.where(err, "payment gateway timeout after 3000 ms", "request ok")
    bodies = np.where(err & (svc == "checkout") & late, "cart lock contention on order", bodies)
    status = np.where(err, 503, 200)
    tbl = pa.table({
        "Timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "ObservedTimestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "TraceId": pa.array([f"{i:032x}" for i in range(N)]),
        "SeverityNumber": pa.array(np.where(err, 17, 9).astype(np.int32)),
        "SeverityText": pa.array(np.where(err, "ERROR", "INFO")),
        "ServiceName": pa.array(svc), "HostName": pa.array(np.array(["h1", "h2"])[np.arange(N) % 2]),
        "Body": pa.array(bodies), "HttpMethod": pa.array(["GET"] * N), "HttpRoute": pa.array(["/api/x"] * N),
        "HttpStatus": pa.array(status.astype(np.int32)), "DurationMs": pa.array(dur),
        "LogAttributes": pa.array([[("user", f"u{i % 5}"), ("request_id", f"req-{i}")] for i in range(N)],
                                  SCHEMAS["logs"].field("LogAttributes").type),
    })
    ops_sqlite.lake.write("logs", tbl)
    ops_sqlite._truth = tbl.to_pandas()  # type: ignore[attr-defined]
    return ops_sqlite


def test_time_range_is_the_one_grammar() -> None:
    # the grammar itself is tested in tests/core/test_timeparse.py; here: the logs domain uses it
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert Q.time_range("1h", None, now=now) == (now - timedelta(hours=1), now)
    with pytest.raises(ValidationError):
        Q.time_range("-1h", "-2h", now=now)

def test_time_range_is_mandatory(lake_ops) -> None:
    with pytest.raises(TypeError):
        lake_ops.logs.query()  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        lake_ops.logs.query(None)


def test_query_filters(lake_ops) -> None:
    t = lake_ops._truth
    end = T0 + timedelta(hours=1)
    df = lake_ops.logs.query(T0, end, service="checkout", severity="error", limit=None)
    exp = t[(t.ServiceName == "checkout") & (t.SeverityNumber >= 17)]
    assert len(df) == len(exp) > 0 and set(df["ServiceName"]) == {"checkout"}
    assert df["Timestamp"].is_monotonic_increasing and str(df["Timestamp"].dt.tz) == "UTC"
    assert len(lake_ops.logs.query(T0, end, attrs={"user": ["u1", "u2"]}, limit=None)) == \
        t.index.isin(np.flatnonzero(np.isin(np.arange(N) % 5, [1, 2]))).sum()
    assert len(lake_ops.logs.query(T0, end, regex=r"lock\s+contention", limit=None)) == \
        (t.Body == "cart lock contention on order").sum()
    assert len(lake_ops.logs.query(T0, end, contains="gateway", host="h1", limit=None)) == \
        ((t.Body.str.contains("gateway")) & (t.HostName == "h1")).sum()
    one = lake_ops.logs.query(T0, end, trace_id=f"{42:032X}")
    assert one["TraceId"].tolist() == [f"{42:032x}"]
    assert lake_ops.logs.query(T0, end, correlation_id="req-77")["TraceId"].tolist() == [f"{77:032x}"]
    assert len(lake_ops.logs.query(T0, end, status="5xx", limit=None)) == (t.HttpStatus >= 500).sum()
    newest = lake_ops.logs.query(T0, end, limit=3, order="desc", columns=["Timestamp", "Body"])
    assert list(newest.columns) == ["Timestamp", "Body"] and newest["Timestamp"].is_monotonic_decreasing
    assert lake_ops.logs.query(T0 - timedelta(days=3), T0).empty


@pytest.mark.parametrize("bad", [{"severity": "loud"}, {"regex": "(unclosed"}, {"columns": ["Nope"]},
                                 {"order": "sideways"}, {"status": ["abc"]}])
def test_query_rejects_bad_filters(lake_ops, bad: dict) -> None:
    with pytest.raises((ValidationError, ValueError)):
        lake_ops.logs.query(T0, T0 + timedelta(hours=1), **bad)


def test_hostile_values_are_parameters_not_sql(lake_ops) -> None:
    evil = "x' OR 1=1 --"
    assert lake_ops.logs.query(T0, T0 + timedelta(hours=1), service=evil).empty
    assert lake_ops.logs.query(T0, T0 + timedelta(hours=1), attrs={evil: evil}).empty
    assert lake_ops.logs.topk(T0, T0 + timedelta(hours=1), field='we"ird').iloc[0]["count"] == N


def test_count_rate_error_ratio_per_minute(lake_ops) -> None:
    t = lake_ops._truth
    end = T0 + timedelta(hours=1)
    c = lake_ops.logs.count(T0, end)
    assert len(c) == 60 and c["count"].sum() == N and (c["count"] == 100).all()
    r = lake_ops.logs.rate(T0, end, every="5m")
    assert len(r) == 12 and np.allclose(r["rate"], 500 / 300)
    er = lake_ops.logs.error_ratio(T0, end, by="ServiceName")
    assert len(er) == 180
    minute = t.assign(m=t.Timestamp.dt.floor("min"), e=t.SeverityNumber >= 17)
    exp = minute.groupby(["m", "ServiceName"])["e"].mean().reset_index()
    got = er.merge(exp, left_on=["time", "ServiceName"], right_on=["m", "ServiceName"])
    assert len(got) == 180 and np.allclose(got["error_ratio"], got["e"])
    late = er[(er.ServiceName == "checkout") & (er.time >= pd.Timestamp(T0 + timedelta(minutes=30)))]
    assert late["error_ratio"].mean() > 0.3


def test_empty_buckets_are_zero(lake_ops) -> None:
    c = lake_ops.logs.count(T0 + timedelta(minutes=50), T0 + timedelta(minutes=70), every="5m")
    assert c["count"].tolist() == [500, 500, 0, 0]


def test_exact_quantiles(lake_ops) -> None:
    t = lake_ops._truth
    q = lake_ops.logs.quantiles(T0, T0 + timedelta(hours=1), q=(0.5, 0.99, 0.999), every="10m")
    assert list(q.columns) == ["time", "count", "p50", "p99", "p99_9"]
    for row in q.itertuples():
        sel = t[(t.Timestamp >= row.time) & (t.Timestamp < row.time + pd.Timedelta(minutes=10))].DurationMs
        assert row.count == len(sel)
        assert row.p50 == pytest.approx(np.quantile(sel, 0.5)) and row.p99 == pytest.approx(np.quantile(sel, 0.99))


def test_topk_grouped_and_attribute_fields(lake_ops) -> None:
    top = lake_ops.logs.topk(T0, T0 + timedelta(hours=1), field="Body", k=2, by="ServiceName")
    assert top.groupby("ServiceName").size().max() == 2
    assert top[top.ServiceName == "search"].iloc[0]["Body"] == "request ok"
    users = lake_ops.logs.topk(T0, T0 + timedelta(hours=1), field="user", k=5)
    assert sorted(users["user"]) == [f"u{i}" for i in range(5)] and users["count"].sum() == N
    assert users["share"].sum() == pytest.approx(1.0)


def test_sql_escape_hatch(lake_ops) -> None:
    df = lake_ops.logs.sql("SELECT ServiceName, count(*) AS n FROM logs GROUP BY 1 ORDER BY 1",
                           since=T0, until=T0 + timedelta(hours=1))
    assert df["n"].tolist() == [N // 3] * 3


def test_window(lake_ops) -> None:
    w = lake_ops.logs.window(T0 + timedelta(minutes=30), service="checkout", before="10m", after="10m",
                             baseline="20m")
    assert len(w.volume) == 20
    assert w.total == lake_ops.logs.count(w.start, w.end, service="checkout")["count"].sum()
    er = w.error_rate.set_index("time")["error_ratio"]
    assert er[er.index >= pd.Timestamp(T0 + timedelta(minutes=30))].mean() > 0.3
    assert er[er.index < pd.Timestamp(T0 + timedelta(minutes=30))].mean() < 0.15
    assert list(w.latency.columns) == ["time", "count", "p50", "p90", "p99"]
    assert (w.latency["p50"] <= w.latency["p99"]).all()
    assert len(w.trace_ids) > 0 and w.trace_ids["errors"].iloc[0] >= 1
    if "opsnb.logs.patterns is not installed" not in w.notes:
        assert "cart lock contention on order" in " ".join(w.patterns["example"].astype(str))
        assert set(w.patterns["status"]) <= {"new", "spiking"}
    assert list(w.deploys.columns)  # typed even when empty
    fig = w.figure()
    assert len(fig.data) >= 5
    html = w._repr_html_()
    assert "checkout" in html and "errors" in html


def test_window_with_no_data_is_empty_not_an_error(lake_ops) -> None:
    w = lake_ops.logs.window(T0 - timedelta(days=10))
    assert w.total == 0 and "no log events in the window" in w.notes
    assert w.figure() is not None


def test_context_lines_around_an_event(lake_ops) -> None:
    end = T0 + timedelta(hours=1)
    ev = lake_ops.logs.query(T0, end, service="payments", host="h1", limit=50).iloc[20]
    ctx = lake_ops.logs.context(ev, n=5)
    assert ctx["offset"].tolist() == list(range(-5, 6))
    mid = ctx[ctx.offset == 0].iloc[0]
    assert mid["TraceId"] == ev["TraceId"]
    assert set(ctx["ServiceName"]) == {"payments"} and set(ctx["HostName"]) == {"h1"}
    assert ctx["Timestamp"].is_monotonic_increasing
    first = lake_ops.logs.query(T0, end, service="search", limit=1).iloc[0]
    assert lake_ops.logs.context(first, n=3)["offset"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValidationError):
        lake_ops.logs.context({"Body": "x"})
