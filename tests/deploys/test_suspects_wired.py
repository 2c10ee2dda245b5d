"""Suspect changes where a responder looks: the incident timeline and show, the incident's log window, and the
triage runbooks. Each face gets them from ``ops.deploys.suspects(incident)``, ranked with their reasons."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.workbench import Workbench, connect
from tests.deploys.test_suspects import T, _world


def test_timeline_merges_the_top_suspects_by_time_marked_as_such(ops: Workbench) -> None:
    _world(ops)
    inc = ops.incidents.create(title="checkout 5xx", service="checkout", impact_start=T,
                               detected_at=T + timedelta(minutes=2))
    flag = ops.changes.record(kind="feature_flag", service="checkout", summary="new-cart on",
                              at=T - timedelta(minutes=1))
    plain = ops.incidents.timeline(inc.id)
    assert "suspect" not in set(plain["kind"])  # stored entries only unless asked: ranking reads the lake
    tl = ops.incidents.timeline(inc.id, suspects=3)
    sus = tl[tl["kind"] == "suspect"]
    ranked = ops.deploys.suspects(inc.id)
    assert len(sus) == 3 and len(tl) == len(plain) + 3
    assert sorted(d["rank"] for d in sus["data"]) == [1, 2, 3]
    assert {d["ref"] for d in sus["data"]} == set(ranked["id"].head(3)) and flag.id in set(ranked["id"].head(3))
    first = sus[[d["rank"] == 1 for d in sus["data"]]].iloc[0]
    assert first["what"].startswith(f"suspect #1: {ranked.iloc[0]['kind']} {ranked.iloc[0]['id']}")
    assert "same service" in first["what"] and first["data"]["reasons"] == list(ranked.iloc[0]["reasons"])
    assert first["id"] is None or first["id"] != first["id"]  # computed, not a stored entry
    assert tl["at"].is_monotonic_increasing and str(tl["at"].dt.tz) == "UTC"


def test_incident_cli_show_and_timeline_carry_the_suspects(ops_sqlite: Workbench) -> None:
    _world(ops_sqlite)
    inc = ops_sqlite.incidents.create(title="checkout 5xx", service="checkout", impact_start=T)
    ws, env, run = str(ops_sqlite.workspace), {"OPSNB_USER": "tester"}, CliRunner()
    out = run.invoke(cli, ["incident", "timeline", inc.id, "-w", ws], env=env)
    assert out.exit_code == 0, out.output
    assert "suspect #1: deploy bad-prod" in out.output
    out = run.invoke(cli, ["incident", "timeline", inc.id, "--format", "json", "-w", ws], env=env)
    rows = [r for r in json.loads(out.stdout) if r["kind"] == "suspect"]
    assert len(rows) == 3 and any("later rolled back" in r["what"] for r in rows)
    out = run.invoke(cli, ["incident", "timeline", inc.id, "--suspects", "0", "--format", "json", "-w", ws], env=env)
    assert "suspect" not in {r["kind"] for r in json.loads(out.stdout)}
    out = run.invoke(cli, ["incident", "show", inc.id, "--format", "json", "-w", ws], env=env)
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout)[0]["suspects"]
    assert [s["rank"] for s in shown] == [1, 2, 3] and shown[0]["id"] == "bad-prod"
    assert "same service" in shown[0]["reasons"] and "prod" in shown[0]["reasons"]
    out = run.invoke(cli, ["incident", "show", inc.id, "-w", ws], env=env)
    assert "suspects:" in out.output and "bad-prod" in out.output


def test_the_incidents_log_window_lists_its_suspects(demo_ops: Workbench) -> None:
    inc = demo_ops.incidents.get("INC-1")
    w = demo_ops.logs.window(incident="INC-1")
    assert w.around == inc.started_at and w.service == inc.service and w.incident == "INC-1"
    assert w.suspects.iloc[0]["id"] == inc.linked("deploy")[0] and w.summary()["prime_suspect"] == w.suspects.iloc[0]["id"]
    assert "same service" in w.suspects.iloc[0]["reasons"] and len(w.suspects) <= 5
    html = w._repr_html_()
    assert "Suspect changes" in html and "later rolled back" in html
    names = [a.text for a in w.figure().layout.annotations]
    assert any(t.startswith("suspect #1 ") for t in names)
    bare = demo_ops.logs.window(inc.started_at, service=inc.service)
    assert bare.suspects.empty and bare.incident is None  # a bare moment has no incident to rank for
    with pytest.raises(Exception, match="one of them"):
        demo_ops.logs.window(inc.started_at, incident="INC-1")


def test_logs_window_cli_of_an_incident(demo_workspace: Path) -> None:
    out = CliRunner().invoke(cli, ["logs", "window", "--incident", "INC-1", "--format", "json",
                                   "-w", str(demo_workspace)])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["suspects"][0]["rank"] == 1 and doc["summary"]["prime_suspect"] == doc["suspects"][0]["id"]


@pytest.fixture
def world(demo_workspace: Path, tmp_path: Path) -> Iterator[Any]:
    """A private copy of the demo world that runs the repository's runbooks."""
    from tests.runbooks.conftest import REPO_RUNBOOKS

    dest = tmp_path / "demo-ws"
    shutil.copytree(demo_workspace, dest)
    ops = connect(dest, runbooks_dir=str(REPO_RUNBOOKS))
    yield ops
    ops.runbooks.close()
    ops.close()


@pytest.mark.slow
def test_triage_runbooks_show_the_incidents_suspects(world: Any) -> None:
    inc = world.incidents.get("INC-1")
    bad = inc.linked("deploy")[0]
    run = world.runbooks.run("high-error-rate-triage", service="checkout", incident="INC-1",
                             at=(inc.started_at + timedelta(minutes=20)).isoformat())
    assert run.status == "succeeded", run.error
    assert run.results["incident"] == "INC-1" and run.results["prime_suspect"] == bad
    top = run.results["incident_suspects"]  # a DataFrame recorded as a list of records
    assert [r["rank"] for r in top] == list(range(1, len(top) + 1)) and top[0]["id"] == bad
    assert "same service" in top[0]["reasons"] and "later rolled back" in top[0]["reasons"]
    # a run linked to the incident finds it without the parameter
    down = world.runbooks.run("service-down-triage", service="checkout", incident_id="INC-1")
    assert down.status == "succeeded", down.error
    assert down.results["incident"] == "INC-1" and down.results["prime_suspect"] == bad
    plain = world.runbooks.run("service-down-triage", service="checkout")
    assert plain.status == "succeeded" and plain.results["prime_suspect"] is None


def test_the_api_timeline_merges_suspects_on_request(ops: Workbench) -> None:
    from tests.alerts.apiserver import ApiServer, call

    _world(ops)
    inc = ops.incidents.create(title="checkout 5xx", service="checkout", impact_start=T)
    ops.settings._values["api_token"] = "tok-for-suspects"
    srv = ApiServer(ops).start()
    try:
        url = f"{srv.base}/incidents/{inc.id}/timeline"
        status, plain = call(url, token="tok-for-suspects")
        assert status == 200 and "suspect" not in {e["kind"] for e in plain["timeline"]}
        status, got = call(f"{url}?suspects=2", token="tok-for-suspects")
        sus = [e for e in got["timeline"] if e["kind"] == "suspect"]
        assert status == 200 and sorted(e["data"]["rank"] for e in sus) == [1, 2]
        assert sus[0]["data"]["ref"] in set(ops.deploys.suspects(inc.id)["id"].head(2))
        status, bad = call(f"{url}?suspects=lots", token="tok-for-suspects")
        assert status == 400 and "suspects" in bad["error"]["message"]
    finally:
        srv.stop()
