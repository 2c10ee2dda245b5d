"""Traces rebuilt from spans written to a real lake: tree, critical path, self time, graph, compare, CLI."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from opsnb.errors import NotFound, ValidationError
from opsnb.store.lake import SCHEMAS
from opsnb.traces.cli import cli as traces_cli
from opsnb.workbench import Workbench

T0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
WIN = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))


def _span(tid: str, sid: str, parent: str | None, svc: str, name: str, off_ms: float, dur_ms: float,
          status: str = "Ok") -> dict[str, Any]:
    return {"Timestamp": T0 + timedelta(milliseconds=off_ms), "TraceId": tid, "SpanId": sid, "ParentSpanId": parent,
            "SpanName": name, "SpanKind": "SERVER", "ServiceName": svc, "Duration": int(dur_ms * 1_000_000),
            "StatusCode": status, "StatusMessage": "HTTP 500" if status == "Error" else None,
            "SpanAttributes": [("http.route", name)]}


GOOD = [
    _span("good", "a", None, "frontend", "GET /checkout", 0, 100),
    _span("good", "d", "a", "catalog", "GET /items", 5, 20),
    _span("good", "b", "a", "checkout", "POST /order", 10, 50),
    _span("good", "c", "b", "payments", "POST /charge", 20, 30),
    _span("good", "e", "a", "search", "GET /q", 70, 25),
]
BAD = [
    _span("bad", "a2", None, "frontend", "GET /checkout", 0, 300, "Error"),
    _span("bad", "d2", "a2", "catalog", "GET /items", 5, 20),
    _span("bad", "b2", "a2", "checkout", "POST /order", 10, 250, "Error"),
    _span("bad", "c2", "b2", "payments", "POST /charge", 20, 200, "Error"),
    _span("bad", "c3", "b2", "payments", "POST /charge", 225, 30),  # a retry: aligns as the 2nd call
]


def _write(ops: Workbench, rows: list[dict[str, Any]]) -> None:
    ops.lake.write("spans", pa.Table.from_pylist(rows, schema=SCHEMAS["spans"]))


@pytest.fixture
def tops(ops_sqlite: Workbench) -> Workbench:
    _write(ops_sqlite, GOOD + BAD)
    ops_sqlite.lake.write("logs", pd.DataFrame([
        {"Timestamp": T0 + timedelta(milliseconds=25), "TraceId": "bad", "SpanId": "c2", "ServiceName": "payments",
         "SeverityText": "ERROR", "SeverityNumber": 17, "Body": "card processor timeout"},
        {"Timestamp": T0 + timedelta(milliseconds=1), "TraceId": "bad", "SpanId": "a2", "ServiceName": "frontend",
         "SeverityText": "INFO", "SeverityNumber": 9, "Body": "GET /checkout"},
        {"Timestamp": T0, "TraceId": "other", "SpanId": "x", "ServiceName": "frontend", "Body": "not mine"},
    ]))
    return ops_sqlite


def test_get_rebuilds_tree_in_order(tops: Workbench) -> None:
    tr = tops.traces.get("good")
    s = tr.spans
    assert s["span_id"].tolist() == ["a", "d", "b", "c", "e"]  # depth-first, children by start
    assert s["depth"].tolist() == [0, 1, 1, 2, 1]
    assert s["offset_ms"].tolist() == [0, 5, 10, 20, 70]
    assert s.loc[s.span_id == "a", "self_ms"].item() == pytest.approx(100 - (60 - 5) - 25)  # d and b overlap
    assert s.loc[s.span_id == "b", "self_ms"].item() == pytest.approx(20)
    assert tr.duration_ms == pytest.approx(100)
    assert not tr.incomplete and tr.errors == 0
    assert tr.services == ["catalog", "checkout", "frontend", "payments", "search"]
    assert s.loc[0, "attributes"] == {"http.route": "GET /checkout"}
    assert str(s["start"].dtype) .endswith("UTC]")
    assert "<code>good</code>" in tr._repr_html_()


def test_critical_path_sums_to_root_and_follows_the_blocking_child(tops: Workbench) -> None:
    cp = tops.traces.get("good").critical_path()
    assert cp["duration_ms"].sum() == pytest.approx(100)
    assert cp["span_id"].tolist() == ["a", "d", "b", "c", "b", "a", "e", "a"]
    assert cp["start_ms"].tolist() == [0, 5, 10, 20, 50, 60, 70, 95]
    bad = tops.traces.get("bad").critical_path()
    assert bad["duration_ms"].sum() == pytest.approx(300)
    assert "c3" in bad["span_id"].tolist() and "c2" in bad["span_id"].tolist()


def test_self_time_per_service(tops: Workbench) -> None:
    st = tops.traces.get("bad").self_time()
    by = dict(zip(st["service"], st["self_ms"], strict=True))
    assert by["payments"] == pytest.approx(230)
    assert by["checkout"] == pytest.approx(250 - 230)
    assert st["share"].sum() == pytest.approx(1.0)
    assert st["service"].iloc[0] == "payments"


def test_waterfall_colours_by_service_and_marks_errors(tops: Workbench) -> None:
    fig = tops.traces.get("bad").waterfall()
    names = [t.name for t in fig.data]
    assert names == ["catalog", "checkout", "frontend", "payments", "critical path"]
    colours = {t.name: t.marker.color for t in fig.data if t.name != "critical path"}
    assert len(set(colours.values())) == 4
    pay = next(t for t in fig.data if t.name == "payments")
    assert list(pay.marker.line.width) == [3, 0]  # c2 failed, c3 did not
    assert list(pay.base) == [20, 225]


def test_logs_of_a_trace_beside_spans(tops: Workbench) -> None:
    logs = tops.traces.get("bad").logs()
    assert logs["Body"].tolist() == ["GET /checkout", "card processor timeout"]
    assert logs["span_name"].tolist() == ["GET /checkout", "POST /charge"]
    assert logs["offset_ms"].tolist() == pytest.approx([1, 25])


def test_find_filters(tops: Workbench) -> None:
    df = tops.traces.find(*WIN)
    assert df["trace_id"].tolist() == ["bad", "good"]  # longest first
    row = df.iloc[0]
    assert row["root_service"] == "frontend" and row["root_name"] == "GET /checkout"
    assert row["spans"] == 5 and row["errors"] == 3 and row["duration_ms"] == pytest.approx(300)
    assert tops.traces.find(*WIN, status="ok")["trace_id"].tolist() == ["good"]
    assert tops.traces.find(*WIN, status="error")["trace_id"].tolist() == ["bad"]
    assert tops.traces.find(*WIN, service="search")["trace_id"].tolist() == ["good"]
    assert tops.traces.find(*WIN, min_duration=150)["trace_id"].tolist() == ["bad"]
    assert tops.traces.find(T0 + timedelta(days=3), T0 + timedelta(days=4)).empty
    with pytest.raises(ValidationError):
        tops.traces.find(*WIN, status="broken")
    with pytest.raises(ValidationError):
        tops.traces.find(WIN[1], WIN[0])


def test_service_graph(tops: Workbench) -> None:
    g = tops.traces.service_graph(*WIN)
    edges = {(r.caller, r.callee): r for r in g.itertuples()}
    assert set(edges) == {("frontend", "catalog"), ("frontend", "checkout"), ("checkout", "payments"),
                          ("frontend", "search")}
    cp = edges[("checkout", "payments")]
    assert (cp.requests, cp.errors) == (3, 1)
    assert cp.error_rate == pytest.approx(1 / 3, abs=1e-4)
    assert cp.p50_ms == pytest.approx(30) and 30 < cp.p99_ms <= 200
    fig = tops.traces.graph_figure(*WIN)
    assert len(fig.layout.annotations) == 4
    assert set(fig.data[-1].text) == {"frontend", "catalog", "checkout", "payments", "search"}


def test_compare_aligns_by_path(tops: Workbench) -> None:
    df = tops.traces.compare("good", "bad")
    rows = {r.path: r for r in df.itertuples()}
    charge = rows["frontend:GET /checkout > checkout:POST /order > payments:POST /charge"]
    assert (charge.good_ms, charge.bad_ms, charge.delta_ms) == (30, 200, 170)
    assert charge.bad_status == "Error" and charge.presence == "both"
    retry = rows["frontend:GET /checkout > checkout:POST /order > payments:POST /charge#2"]
    assert retry.presence == "bad only" and pd.isna(retry.good_ms)
    assert rows["frontend:GET /checkout > search:GET /q"].presence == "good only"
    assert df["presence"].iloc[-1] == "good only"  # bad trace order first, good-only rows after
    assert df["path"].iloc[0] == "frontend:GET /checkout"


def test_missing_and_bad_ids(tops: Workbench) -> None:
    with pytest.raises(NotFound):
        tops.traces.get("nope")
    with pytest.raises(ValidationError):
        tops.traces.get("")
    with pytest.raises(ValidationError):
        tops.traces.get("x" * 500)


def test_hostile_spans_orphans_duplicates_cycles(ops_sqlite: Workbench) -> None:
    rows = [
        _span("h", "r", None, "a", "root", 0, 10),
        _span("h", "r", None, "a", "root-dup", 0, 99),  # duplicated id: first row wins
        _span("h", "o", "missing-parent", "b", "orphan", 2, 3),
        _span("h", "x", "y", "c", "loop-x", 4, 1),  # x <-> y parent cycle
        _span("h", "y", "x", "c", "loop-y", 5, 1),
        _span("h", "neg", "r", "a", "negative", 1, -5),
    ]
    _write(ops_sqlite, rows)
    tr = ops_sqlite.traces.get("h")
    assert tr.incomplete
    assert sorted(tr.spans["span_id"]) == ["neg", "o", "r", "x", "y"]
    assert tr.spans.loc[tr.spans.span_id == "r", "name"].item() == "root"
    assert tr.spans.loc[tr.spans.span_id == "neg", "duration_ms"].item() == 0
    assert tr.critical_path()["duration_ms"].sum() == pytest.approx(10)
    tr.waterfall()


def test_deep_chain_does_not_recurse_forever(ops_sqlite: Workbench) -> None:
    rows = [_span("deep", "s0", None, "a", "op", 0, 5000)]
    rows += [_span("deep", f"s{i}", f"s{i - 1}", "a", "op", i, 5000 - 2 * i) for i in range(1, 1500)]
    _write(ops_sqlite, rows)
    tr = ops_sqlite.traces.get("deep")
    assert len(tr.spans) == 1500
    assert tr.critical_path()["duration_ms"].sum() == pytest.approx(5000)


def test_traces_cli(tops: Workbench) -> None:
    ws = ["--workspace", str(tops.workspace)]
    r = CliRunner().invoke(traces_cli, ["show", "bad", "--format", "json", *ws])
    assert r.exit_code == 0, r.output
    spans = json.loads(r.stdout)
    assert [s["span_id"] for s in spans] == ["a2", "d2", "b2", "c2", "c3"]
    r = CliRunner().invoke(traces_cli, ["show", "good", *ws])
    assert r.exit_code == 0 and "    payments: POST /charge" in r.stdout
    r = CliRunner().invoke(traces_cli, ["show", "good", "--critical-path", "--format", "json", *ws])
    assert sum(x["duration_ms"] for x in json.loads(r.stdout)) == pytest.approx(100)
    since, until = WIN[0].isoformat(), WIN[1].isoformat()
    r = CliRunner().invoke(traces_cli, ["graph", "--since", since, "--until", until, "--format", "json", *ws])
    assert r.exit_code == 0
    assert {(e["caller"], e["callee"]) for e in json.loads(r.stdout)} >= {("checkout", "payments")}
    r = CliRunner().invoke(traces_cli, ["find", "--since", since, "--until", until, "--status", "error",
                                        "--format", "json", *ws])
    assert [t["trace_id"] for t in json.loads(r.stdout)] == ["bad"]
    r = CliRunner().invoke(traces_cli, ["show", "nope", *ws])
    assert r.exit_code != 0 and isinstance(r.exception, NotFound)


def test_random_trees_keep_invariants(ops_sqlite: Workbench) -> None:
    rnd = random.Random(11)
    rows: list[dict[str, Any]] = []
    for t in range(20):
        spans = [("s0", None, 0.0, 1000.0)]
        for i in range(1, rnd.randrange(2, 30)):
            pid, _, pb, pd_ = spans[rnd.randrange(len(spans))]
            b = pb + rnd.uniform(0, pd_ * 0.8)
            spans.append((f"s{i}", pid, b, rnd.uniform(0, pb + pd_ - b)))
        rows += [_span(f"r{t}", s, p, rnd.choice("xyz"), "op", b, d) for s, p, b, d in spans]
    _write(ops_sqlite, rows)
    for t in range(20):
        tr = ops_sqlite.traces.get(f"r{t}")
        root = tr.spans.iloc[0]
        assert tr.critical_path()["duration_ms"].sum() == pytest.approx(root["duration_ms"], abs=0.01)
        assert (tr.spans["self_ms"] >= 0).all()
        assert (tr.spans["self_ms"] <= tr.spans["duration_ms"] + 1e-9).all()


def test_demo_traces(demo_ops: Workbench) -> None:
    world_days = demo_ops.lake.days("spans")
    assert world_days, "the demo wrote no spans"
    start = datetime.combine(world_days[0], datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=len(world_days))
    found = demo_ops.traces.find(start, end, status="error", limit=5)
    assert len(found) > 0
    tr = demo_ops.traces.get(found["trace_id"].iloc[0])
    assert tr.errors > 0 and len(tr.spans) == found["spans"].iloc[0]
    assert tr.critical_path()["duration_ms"].sum() == pytest.approx(tr.spans.iloc[0]["duration_ms"], abs=0.01)
    assert len(tr.logs()) > 0
    g = demo_ops.traces.service_graph(start, end)
    assert (g["requests"] > 0).all() and ("frontend" in set(g["caller"]))


def test_opsnb_traces_through_the_root_command(tops: Workbench) -> None:
    from opsnb.cli import cli as root

    r = CliRunner().invoke(root, ["--workspace", str(tops.workspace), "traces", "show", "good", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["service"] == "frontend"
    r = CliRunner().invoke(root, ["traces", "--help"])
    assert r.exit_code == 0 and "show" in r.stdout and "graph" in r.stdout and "Example" in r.stdout


def test_waterfall_with_logs_marks_them_on_their_span(tops: Workbench) -> None:
    fig = tops.traces.get("bad").waterfall(logs=True)
    marks = next(t for t in fig.data if t.name == "logs")
    assert list(marks.x) == pytest.approx([1, 25])
    assert marks.y[1].endswith("payments: POST /charge") and marks.marker.color[1] == "#d62728"
    assert "card processor timeout" in marks.hovertext[1]
