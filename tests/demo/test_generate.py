"""The demo world: determinism, schema, incidents visible in the data, seeding, workspace safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.demo.generate import build, info
from opsnb.demo.world import SERVICES
from opsnb.errors import Conflict, ValidationError
from opsnb.store.lake import SCHEMAS
from opsnb.workbench import Workbench, connect

END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def _fingerprint(ops: Workbench, table: str) -> tuple[int, str]:
    df = ops.lake.query(f"SELECT count(*) AS n, sum(hash(t)::HUGEINT) AS h FROM {table} t", tables=[table])
    return int(df["n"].iloc[0]), str(df["h"].iloc[0])


def test_same_seed_and_end_give_the_same_events(tmp_path: Path) -> None:
    worlds = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        build(tmp_path / name, days=1, seed=seed, scale=0.02, end=END)
        with connect(tmp_path / name) as ops:
            worlds.append({t: _fingerprint(ops, t) for t in ("logs", "spans", "metrics")})
    assert worlds[0] == worlds[1]
    assert worlds[0]["logs"] != worlds[2]["logs"] and worlds[0]["spans"] != worlds[2]["spans"]
    a, b = (json.loads((tmp_path / n / "demo.json").read_text()) for n in ("a", "b"))
    assert a["incidents"] == b["incidents"] and a["counts"] == b["counts"]


def test_small_world_has_the_promised_shape(demo_ops: Workbench, demo_workspace: Path) -> None:
    meta = info(demo_workspace)
    assert meta is not None and meta["days"] == 2 and meta["seed"] == 7
    for table in ("logs", "spans", "metrics"):
        assert demo_ops.lake.count(table) == meta["counts"][table] > 0
    cols = demo_ops.lake.query("SELECT * FROM logs LIMIT 1").columns
    assert list(cols) == SCHEMAS["logs"].names
    end = datetime.fromisoformat(meta["end"])
    span = demo_ops.lake.query("SELECT min(Timestamp) AS lo, max(Timestamp) AS hi, "
                               "count(DISTINCT ServiceName) AS svcs, count(DISTINCT HostName) AS hosts, "
                               "count(TraceId) AS traced, count(HttpStatus) AS http FROM logs")
    assert span["hi"].iloc[0] < end and span["lo"].iloc[0] >= end - timedelta(days=2)
    assert span["svcs"].iloc[0] >= 7 and span["hosts"].iloc[0] >= 10
    assert span["traced"].iloc[0] > 0.7 * meta["counts"]["logs"] and span["http"].iloc[0] > 0
    sev = set(demo_ops.lake.query("SELECT DISTINCT SeverityText FROM logs")["SeverityText"])
    assert {"INFO", "WARN", "ERROR"} <= sev
    bodies = demo_ops.lake.query("SELECT Body FROM logs WHERE SeverityNumber >= 17")["Body"]
    assert bodies.str.contains("\n\tat com.shop").any()  # Java stack traces
    assert bodies.str.contains("connection pool exhausted|timeout calling").any() or len(bodies) > 0
    assert (demo_workspace / "slos").is_dir()
    roles = demo_ops.access.list().set_index("user")["role"]
    assert roles["alice"] == "admin" and roles["carol"] == "responder" and roles["tester"] == "admin"


def test_spans_form_trees_that_match_the_logs(demo_ops: Workbench) -> None:
    orphans = demo_ops.lake.query(
        "SELECT count(*) AS n FROM spans c LEFT JOIN spans p ON c.ParentSpanId = p.SpanId AND c.TraceId = p.TraceId "
        "WHERE c.ParentSpanId IS NOT NULL AND p.SpanId IS NULL")
    assert orphans["n"].iloc[0] == 0
    longer = demo_ops.lake.query(
        "SELECT count(*) FILTER (WHERE c.Duration > p.Duration) AS bad, count(*) AS n FROM spans c "
        "JOIN spans p ON c.ParentSpanId = p.SpanId AND c.TraceId = p.TraceId")
    assert longer["n"].iloc[0] > 0 and longer["bad"].iloc[0] == 0
    roots = demo_ops.lake.query("SELECT DISTINCT ServiceName FROM spans WHERE ParentSpanId IS NULL")
    assert list(roots["ServiceName"]) == ["frontend"]
    joined = demo_ops.lake.query(
        "SELECT count(*) AS n FROM spans s JOIN logs l ON l.SpanId = s.SpanId AND l.TraceId = s.TraceId "
        "WHERE l.HttpStatus = TRY_CAST(s.SpanAttributes['http.response.status_code'] AS INTEGER)")
    assert joined["n"].iloc[0] >= demo_ops.lake.count("spans") * 0.99


def _ratio(ops: Workbench, service: str, lo: datetime, hi: datetime) -> float:
    df = ops.lake.query("SELECT avg(CASE WHEN HttpStatus >= 500 THEN 1.0 ELSE 0.0 END) AS r FROM logs "
                        "WHERE ServiceName = ? AND HttpStatus IS NOT NULL AND Timestamp >= ? AND Timestamp < ?",
                        [service, lo, hi])
    return float(df["r"].iloc[0] or 0.0)


def test_incidents_are_visible_in_the_data(demo_ops: Workbench, demo_workspace: Path) -> None:
    meta = info(demo_workspace)
    assert meta is not None
    incs = {i["id"]: i for i in meta["incidents"]}
    assert {i["cause"] for i in incs.values()} == {"bad-deploy", "disk-full", "latency-regression"}
    end = datetime.fromisoformat(meta["end"])
    for inc in incs.values():
        t = [datetime.fromisoformat(str(inc[k])) for k in
             ("impact_start", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at")]
        assert t == sorted(t) and t[-1] < end and t[0] > end - timedelta(days=2)

    a = incs["INC-1"]
    imp, mit = (datetime.fromisoformat(str(a[k])) for k in ("impact_start", "mitigated_at"))
    during = _ratio(demo_ops, "checkout", imp, mit)
    before = _ratio(demo_ops, "checkout", imp - timedelta(hours=6), imp - timedelta(minutes=10))
    assert during > 0.1 and during > 10 * before
    dep = demo_ops.deploys.get(a["deploy_id"])
    assert dep.service == "checkout" and dep.finished_at == imp and dep.status == "rolled_back"
    rollback = demo_ops.deploys.list(service="checkout", env="prod")
    assert (rollback["rollback_of"] == dep.id).sum() == 1

    b = incs["INC-2"]
    imp, mit = (datetime.fromisoformat(str(b[k])) for k in ("impact_start", "mitigated_at"))
    disk = demo_ops.lake.query(
        "SELECT Timestamp, Value FROM metrics WHERE MetricName = 'disk_used_percent' AND HostName = 'db-2' "
        "ORDER BY Timestamp")
    full = disk[(disk["Timestamp"] >= imp) & (disk["Timestamp"] < mit)]["Value"]
    earlier = disk[disk["Timestamp"] < imp - timedelta(hours=4)]["Value"]
    assert full.min() >= 99.0 and earlier.max() < 90
    assert disk[disk["Timestamp"] > mit + timedelta(minutes=5)]["Value"].max() < 90
    nospace = demo_ops.lake.query("SELECT HostName, ServiceName, min(Timestamp) AS first FROM logs "
                                  "WHERE Body LIKE '%No space left on device%' GROUP BY ALL")
    assert "db-2" in set(nospace["HostName"]) and "catalog" in set(nospace["ServiceName"])
    assert nospace["first"].min() >= imp - timedelta(minutes=1)

    c = incs["INC-3"]
    imp, mit = (datetime.fromisoformat(str(c[k])) for k in ("impact_start", "mitigated_at"))
    q = ("SELECT quantile_cont(DurationMs, 0.5) AS p50 FROM logs WHERE ServiceName = 'search' "
         "AND HttpStatus IS NOT NULL AND Timestamp >= ? AND Timestamp < ?")
    slow = demo_ops.lake.query(q, [imp, mit])["p50"].iloc[0]
    normal = demo_ops.lake.query(q, [imp - timedelta(hours=8), imp - timedelta(hours=1)])["p50"].iloc[0]
    assert slow > 3 * normal


def test_bad_parameters_and_occupied_workspaces(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        build(tmp_path / "x", days=0, seed=-1, scale=0, end=datetime(2026, 1, 1))
    assert len(err.value.problems) == 4
    assert not (tmp_path / "x").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty and holds no demo"):
        build(other, days=1, scale=0.01, end=END)
    assert (other / "notes.txt").read_text() == "mine" and not (other / "demo.json").exists()
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    with pytest.raises(Exception, match="refusing to wipe"):
        build(repo, days=1, scale=0.01, end=END, force=True)
    build(other, days=1, scale=0.01, end=END, force=True)
    assert not (other / "notes.txt").exists() and info(other) is not None


def test_cli_if_missing_and_json(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    run = CliRunner()
    res = run.invoke(cli, ["demo", "--days", "1", "--scale", "0.01", "--format", "json", "-w", ws])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["built"] and out["counts"]["logs"] > 0 and out["disk_bytes"] > 0 and out["seconds"] > 0
    res = run.invoke(cli, ["demo", "--if-missing", "--format", "json", "-w", ws])
    assert res.exit_code == 0 and json.loads(res.output)["built"] is False
    res = run.invoke(cli, ["demo", "--days", "1", "--scale", "0.01", "-w", ws])
    assert res.exit_code == 0 and "demo built in" in res.output and "disk" in res.output
    res = run.invoke(cli, ["demo", "--scale", "-1", "-w", ws])
    assert res.exit_code == 2


def test_world_contract_for_other_domains(tmp_path: Path) -> None:
    world = build(tmp_path / "ws", days=1, scale=0.01, end=END)
    assert world.services == SERVICES and world.end == END and world.start == END - timedelta(days=1)
    assert len(world.servers) >= 12 and len({s.port for s in world.servers}) == len(world.servers)
    assert all({"role", "env", "region", "service"} <= set(s.labels) for s in world.servers)
    assert {"members", "timezone", "rotation", "handoff"} <= set(world.oncall)
    assert set(world.oncall["members"]) <= set(world.users)
    ids = [d.id for d in world.deploys]
    assert len(set(ids)) == len(ids)
    started = pd.Series([d.started_at for d in world.deploys])
    assert started.is_monotonic_increasing
    assert world.counts["logs"] > 0 and world.slo_dir.is_dir()


def test_build_on_postgresql(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSNB_DATABASE_URL", pg_url)
    world = build(tmp_path / "ws", days=1, scale=0.01, end=END)
    with connect(tmp_path / "ws") as ops:
        assert ops.db.dialect == "postgresql"
        assert len(ops.deploys.list()) == len(world.deploys)
        assert ops.access.role("bob") == "operator"
    with pytest.raises(Conflict, match="already holds state"):
        build(tmp_path / "other", days=1, scale=0.01, end=END)
    assert not (tmp_path / "other" / "demo.json").exists() and not (tmp_path / "other" / "slos").exists()
