"""The service metrics faces use (``ops.logs.service_metrics`` and friends) on the small demo world.

Each test runs on a workbench over a copy of the demo's lake with a SQLite and a PostgreSQL
state database: the numbers come from the lake, the workbench from either store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opsnb.errors import ValidationError
from opsnb.logs.error_event import ERROR_SQL, is_error
from opsnb.workbench import Workbench, connect


@pytest.fixture
def world(demo_workspace: Path, tmp_path: Path, db_url: str) -> Iterator[Workbench]:
    dest = tmp_path / "demo-ws"
    shutil.copytree(demo_workspace, dest)
    ops = connect(dest, database_url=db_url if "postgres" in db_url else None)
    yield ops
    ops.close()


@pytest.fixture
def inc1(demo_workspace: Path) -> Any:
    with connect(demo_workspace) as ops:
        return ops.incidents.get("INC-1")


def _requests(ops: Workbench, start: Any, end: Any, service: str | None = None) -> pd.DataFrame:
    rows = ops.logs.query(since=start, until=end, service=service, limit=None,
                          columns=["Timestamp", "ServiceName", "SeverityNumber", "HttpStatus", "DurationMs"])
    return rows[rows["HttpStatus"].notna()]


def test_service_metrics_of_one_service_match_its_rows(world: Workbench, inc1: Any) -> None:
    start = inc1.started_at - timedelta(minutes=30)
    end = inc1.milestones["mitigated"]
    df = world.logs.service_metrics(service="checkout", since=start, until=end, step="1m")
    assert list(df.columns) == ["time", "service", "requests", "rate", "errors", "error_ratio", "p50", "p90", "p99"]
    assert str(df["time"].dt.tz) == "UTC"
    assert len(df) == (end - start) // timedelta(minutes=1)  # every minute, silent ones as zeros
    assert df["time"].is_monotonic_increasing and set(df["service"]) == {"checkout"}
    rows = _requests(world, start, end, "checkout")
    assert df["requests"].sum() == len(rows) > 0
    assert df["errors"].sum() == int(is_error(rows).sum())
    assert (df["rate"] == df["requests"] / 60).all()
    silent = df[df["requests"] == 0]
    assert silent["error_ratio"].isna().all() and silent["p99"].isna().all()
    during = df[df["time"] >= inc1.started_at]
    before = df[df["time"] < inc1.started_at]
    assert during["errors"].sum() / during["requests"].sum() > 0.1 > before["errors"].sum() / max(1, before["requests"].sum())
    busy = df[df["requests"] > 0]
    assert (busy["p50"] <= busy["p90"]).all() and (busy["p90"] <= busy["p99"]).all()


def test_every_service_and_wider_steps(world: Workbench, inc1: Any) -> None:
    start, end = inc1.started_at, inc1.milestones["mitigated"]
    df = world.logs.service_metrics(since=start, until=end, step="10m", quantiles=(0.5, 0.95))
    assert {"checkout", "frontend", "catalog"} <= set(df["service"]) and "p95" in df.columns
    assert (df["time"].dt.minute % 10 == 0).all() and (df["time"].dt.second == 0).all()
    assert df["requests"].sum() == len(_requests(world, start, end))
    summary = world.logs.service_summary(since=start, until=end).set_index("service")
    sums = df.groupby("service")[["requests", "errors"]].sum()
    assert (summary.loc[sums.index, "requests"] == sums["requests"]).all()
    assert (summary.loc[sums.index, "errors"] == sums["errors"]).all()
    minutes = (end - start).total_seconds() / 60
    checkout = summary.loc["checkout"]
    assert checkout["requests_per_min"] == pytest.approx(checkout["requests"] / minutes)
    assert checkout["error_ratio"] == pytest.approx(checkout["errors"] / checkout["requests"])
    assert checkout["error_ratio"] > summary.drop(index="checkout")["error_ratio"].max()


def test_last_seen(world: Workbench, inc1: Any) -> None:
    newest = world.logs.query(since="-30d", until="now", columns=["Timestamp"], limit=1, order="desc")
    assert world.logs.last_seen() == newest["Timestamp"].iloc[0]
    before = world.logs.last_seen(service="checkout", before=inc1.started_at)
    assert before is not None and before < inc1.started_at and str(before.tz) == "UTC"
    assert world.logs.last_seen(service="no-such-service") is None


def test_error_onset_finds_the_burst_not_a_stray_error(world: Workbench, inc1: Any) -> None:
    start = inc1.started_at - timedelta(hours=3)
    end = inc1.milestones["mitigated"]
    stray = inc1.started_at - timedelta(minutes=90)
    world.lake.write("logs", pd.DataFrame({
        "Timestamp": [stray], "ServiceName": ["checkout"], "SeverityNumber": [17], "SeverityText": ["ERROR"],
        "Body": ["GET /api/cart 500 in 41ms"], "HttpStatus": [500], "DurationMs": [41.0]}))
    onset = world.logs.error_onset(service="checkout", since=start, until=end)
    assert onset is not None
    assert inc1.started_at - timedelta(minutes=2) <= onset <= inc1.milestones["detected"]
    quiet = world.logs.error_onset(service="checkout", since=stray - timedelta(minutes=10),
                                   until=inc1.started_at - timedelta(minutes=5))
    assert quiet is None  # one failed request is not a burst


def test_metric_points(world: Workbench, inc1: Any) -> None:
    start, end = inc1.started_at, inc1.milestones["mitigated"]
    hosts = inc1.linked("server")
    df = world.logs.metric_points(since=start, until=end, host=hosts, name="cpu_used_percent")
    assert len(df) and set(df["HostName"]) == set(hosts) and set(df["MetricName"]) == {"cpu_used_percent"}
    assert df["Timestamp"].is_monotonic_increasing and str(df["Timestamp"].dt.tz) == "UTC"
    assert world.logs.metric_points(since=start, until=end, host=[]).empty


def test_one_definition_of_an_error(world: Workbench, inc1: Any) -> None:
    start, end = inc1.started_at, inc1.milestones["mitigated"]
    rows = world.logs.query(since=start, until=end, limit=None, columns=["SeverityNumber", "HttpStatus"])
    flagged = world.logs.query(since=start, until=end, limit=None, errors_only=True, columns=["Body"])
    assert int(is_error(rows).sum()) == len(flagged) > 0
    assert '"SeverityNumber" >= 17' in ERROR_SQL and '"HttpStatus" >= 500' in ERROR_SQL
    probe = pd.DataFrame({"SeverityNumber": [9, 13, 17, 21, None, None],
                          "HttpStatus": [404, 200, None, 200, 500, None]})
    assert is_error(probe).tolist() == [False, False, True, True, True, False]


def test_bad_arguments(world: Workbench) -> None:
    with pytest.raises(ValidationError):
        world.logs.service_metrics(service="checkout", since="-1h", step="0m")
    with pytest.raises(ValidationError, match="quantiles"):
        world.logs.service_summary(since="-1h", quantiles=(1.5,))
    with pytest.raises(ValidationError):
        world.logs.service_metrics(since="-1h", until="-2h")
