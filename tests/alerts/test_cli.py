"""``opsnb alerts`` and ``opsnb incident`` commands (thin: parse, call, print)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import ValidationError
from tests.alerts.factory import am_alert, am_body
from tests.conftest import make_ops


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    w = tmp_path / "ws"
    make_ops(w).close()
    return w


def run(ws: Path, *args: str, ok: bool = True):
    res = CliRunner().invoke(cli, ["--workspace", str(ws), *args])
    if ok:
        assert res.exit_code == 0, (res.output, res.exception)
    return res


def test_ingest_list_silence_replay(ws: Path, tmp_path: Path) -> None:
    f = tmp_path / "hook.json"
    f.write_text(json.dumps(am_body([am_alert({"alertname": "X", "service": "search", "instance": i})
                                     for i in ("a", "b")])))
    out = json.loads(run(ws, "alerts", "ingest", str(f), "--source", "alertmanager", "--format", "json").output)
    assert out[0]["new"] == 2
    rows = json.loads(run(ws, "alerts", "list", "--labels", 'instance="a"', "--format", "json").output)
    assert len(rows) == 1 and rows[0]["status"] == "firing"
    run(ws, "alerts", "silence", "-m", 'service="search"', "-d", "2h", "-c", "reindex")
    run(ws, "alerts", "silence", "-m", 'service="db"', "--every", "sun", "--at", "02:00", "-d", "1h",
        "--timezone", "Europe/Berlin", "-c", "backup")
    sil = json.loads(run(ws, "alerts", "silences", "--format", "json").output)
    assert sorted(s["kind"] for s in sil) == ["maintenance", "silence"]
    run(ws, "alerts", "expire", sil[0]["id"])
    assert "notifications" in run(ws, "alerts", "tick").output
    rep = json.loads(run(ws, "alerts", "replay", "--format", "json").output)[0]
    assert rep["received"] == 2
    assert "Example:" in run(ws, "alerts", "silence", "--help").output


def test_cli_bad_input(ws: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "3"}')
    res = run(ws, "alerts", "ingest", str(bad), "--source", "alertmanager", ok=False)
    assert isinstance(res.exception, ValidationError) and "version" in str(res.exception)
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * 1_100_000)
    assert run(ws, "alerts", "ingest", str(huge), "--source", "events", ok=False).exit_code == 2
    assert run(ws, "alerts", "list", "--since", "sometime", ok=False).exit_code == 2
    assert run(ws, "alerts", "silence", "-m", 'a="b"', "--every", "sun", "-c", "x", ok=False).exit_code == 2


def test_incident_commands(ws: Path) -> None:
    out = json.loads(run(ws, "incident", "create", "--title", "Checkout 5xx", "--service", "checkout",
                         "--severity", "SEV2", "--format", "json").output)
    iid = out[0]["id"]
    run(ws, "incident", "update", iid, "--status", "acknowledged", "--commander", "alice")
    run(ws, "incident", "note", iid, "rolled back")
    tl = json.loads(run(ws, "incident", "timeline", iid, "--format", "json").output)
    assert [e["kind"] for e in tl] == ["created", "role", "status", "note"]
    assert "acknowledged" in run(ws, "incident", "show", iid).output
    assert json.loads(run(ws, "incident", "list", "--status", "open", "--format", "json").output)[0]["id"] == iid
    run(ws, "incident", "metrics", "--by", "service")
    res = run(ws, "incident", "update", iid, "--status", "closed", ok=False)
    assert "cannot go from acknowledged to closed" in str(res.exception)
