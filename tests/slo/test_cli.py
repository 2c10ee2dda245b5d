"""``opsnb slo ...`` end to end through click, on a workspace with lake data and demo SLO files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.slo import demo
from tests.conftest import make_ops

from .conftest import T0, write_traffic


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ops = make_ops(tmp_path / "ws")
    demo.write(ops.slos.directory, ("checkout", "search"))
    write_traffic(ops, minutes=2 * 1440, services=("checkout", "search"),
                  errors=[("checkout", T0.replace(hour=10), T0.replace(hour=11), 0.5)])
    ops.close()
    return tmp_path / "ws"


def run(ws: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["--workspace", str(ws), "slo", *args], catch_exceptions=True)
    return r.exit_code, r.output + (str(r.exception) if r.exception and r.exit_code else "")


def test_list_report_status(ws: Path) -> None:
    code, out = run(ws, "list", "--format", "json")
    assert code == 0
    names = {r["name"] for r in json.loads(out)}
    assert {"checkout-availability", "search-latency", "checkout-availability-monthly"} <= names
    code, out = run(ws, "report", "checkout-availability", "--at", "2026-11-03T00:00Z", "--format", "json")
    assert code == 0, out
    rep = json.loads(out)
    assert rep["events_bad"] == 300 and rep["sli"] == pytest.approx(1 - 300 / 28800)
    assert rep["burn_rates"]["1h"] == 0.0 and rep["window"] == "30d rolling"
    code, out = run(ws, "report", "checkout-availability", "--at", "2026-11-03T00:00Z")
    assert code == 0 and "budget_remaining" in out and "burn 1h" in out
    code, out = run(ws, "status", "--at", "2026-11-03T00:00Z", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 5


def test_export_rules_backtest(ws: Path, tmp_path: Path) -> None:
    code, out = run(ws, "export", "search-latency")
    assert code == 0 and [d["kind"] for d in yaml.safe_load_all(out)] == ["Service", "AlertPolicy", "SLO"]
    code, out = run(ws, "rules", "search-latency")
    assert code != 0 and "Prometheus rules need" in out
    inc = tmp_path / "inc.json"
    inc.write_text(json.dumps([{"id": "I1", "start": "2026-11-01T10:00Z", "end": "2026-11-01T11:00Z",
                                "service": "checkout"}]))
    code, out = run(ws, "backtest", "--incidents", str(inc), "--slo", "checkout-availability",
                    "--start", "2026-11-01T00:00Z", "--end", "2026-11-03T00:00Z", "--format", "json")
    assert code == 0, out
    rows = {r["policy"]: r for r in json.loads(out)}
    assert rows["workbook"]["recall"] == 1.0 and rows["single-1h"]["detected"] == 1


def test_bad_input_exits_with_a_clear_error(ws: Path, tmp_path: Path) -> None:
    code, out = run(ws, "report", "nope")
    assert code != 0 and "no SLO 'nope'" in out
    code, out = run(ws, "report", "checkout-availability", "--at", "yesterday-ish")
    assert code != 0 and "is not a time" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n  timeWindow: [{duration: 1M}]\n")
    code, out = run(ws, "load", str(bad))
    assert code != 0 and "bad.yaml" in out and "required field missing" in out
    code, out = run(ws, "exclude", "checkout-availability", "--start", "2026-11-01T10:00Z", "--end",
                    "2026-11-01T09:00Z")
    assert code != 0 and "after start" in out
    code, out = run(ws, "exclude", "checkout-availability", "--start", "2026-11-01T10:00Z", "--end",
                    "2026-11-01T11:00Z", "--reason", "db upgrade")
    assert code == 0 and out.strip().isdigit()
    code, out = run(ws, "budget", "--dry-run", "--at", "2026-11-03T00:00Z", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4 and not any(r["taken"] for r in rows)
    # the excluded hour held every error: checkout's budget is whole again
    assert {r["step"]: r["value"] for r in rows if r["slo"] == "checkout-availability"}["freeze-deploys"] == 1.0


def test_status_says_exhausted_when_the_budget_is_spent(tmp_path: Path) -> None:
    ops = make_ops(tmp_path / "ws")
    demo.write(ops.slos.directory, ("checkout",))
    write_traffic(ops, minutes=1440, services=("checkout",),
                  errors=[("checkout", T0.replace(hour=1), T0.replace(hour=20), 0.5)])
    ops.close()
    code, out = run(tmp_path / "ws", "status", "--at", "2026-11-02T00:00Z", "--format", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["checkout-availability"]["budget_remaining"] < 0
    code, out = run(tmp_path / "ws", "status", "--at", "2026-11-02T00:00Z",
                    "--columns", "name,budget_remaining,exhaustion_s")
    line = next(ln for ln in out.splitlines() if ln.startswith("checkout-availability "))
    assert code == 0 and "exhausted" in line and " 0s" not in line
