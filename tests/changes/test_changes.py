"""``ops.changes``: config changes, flag flips and maintenance toggles as records; CLI; POST /changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import PermissionDenied, ValidationError
from opsnb.workbench import Workbench
from tests.alerts.apiserver import ApiServer, call

T = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_record_list_and_audit(ops: Workbench) -> None:
    a = ops.changes.record(kind="feature_flag", service="checkout", summary="new-cart on for 100%", at=T,
                           source="launchdarkly", details={"flag": "new-cart", "from": 10, "to": 100},
                           links=[{"href": "https://flags.example.com/new-cart", "text": "flag"}])
    b = ops.changes.record(kind="maintenance", service="search", summary="maintenance mode on", env="staging",
                           at="2026-03-02T16:00:00Z")
    assert a.id.startswith("CHG-") and b.id != a.id
    df = ops.changes.list()
    assert df["id"].tolist() == [b.id, a.id] and str(df["at"].dt.tz) == "UTC"
    assert ops.changes.list(kind="feature_flag")["id"].tolist() == [a.id]
    assert ops.changes.list(since=T, until="2026-03-02T15:30:00Z")["id"].tolist() == [a.id]
    assert ops.changes.get(a.id).details == {"flag": "new-cart", "from": 10, "to": 100}
    assert ops.audit.list(action="change.record")["target"].tolist().count(a.id) == 1


def test_bad_changes_are_refused_whole(ops: Workbench) -> None:
    with pytest.raises(ValidationError) as e:
        ops.changes.record(kind="haircut", service="check out", summary="", at=T)
    text = str(e.value)
    assert "kind" in text and "service" in text and "summary" in text
    with pytest.raises(ValidationError, match="at"):
        ops.changes.record(kind="config", service="checkout", summary="x", at="the other day")
    assert ops.changes.list().empty
    ops.access.grant("vic", "viewer", reason="test")
    ops.user = "vic"
    with pytest.raises(PermissionDenied):
        ops.changes.record(kind="config", service="checkout", summary="pool 20 -> 5")


def test_pagerduty_shaped_event_over_http(ops: Workbench) -> None:
    ops.settings._values["api_token"] = "tok-changes"
    srv = ApiServer(ops).start()
    try:
        event = {"routing_key": "R0UTINGKEY", "links": [{"href": "https://ci.example.com/1", "text": "job"}],
                 "payload": {"summary": "db.pool 20 -> 5", "timestamp": "2026-03-02T14:55:00Z", "source": "consul",
                             "custom_details": {"service": "checkout", "kind": "config", "key": "db.pool"}}}
        status, out = call(f"{srv.base}/changes", event, token="tok-changes")
        assert status == 202, out
        ch = ops.changes.get(out["id"])
        assert (ch.kind, ch.service, ch.source, ch.details) == ("config", "checkout", "consul", {"key": "db.pool"})
        assert "R0UTINGKEY" not in json.dumps(ch.as_dict(), default=str)  # a credential, never stored
        status, out = call(f"{srv.base}/changes", {"payload": {"timestamp": "now"}, "service": "checkout"},
                           token="tok-changes")
        assert status == 400 and "payload.summary" in json.dumps(out)
        assert call(f"{srv.base}/changes", event)[0] == 401
        status, listed = call(f"{srv.base}/changes?service=checkout", token="tok-changes")
        assert status == 200 and listed["count"] == 1
    finally:
        srv.stop()


def test_cli_record_and_list(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    env = {"OPSNB_USER": "tester"}
    run = CliRunner()
    assert run.invoke(cli, ["user", "grant", "tester", "admin", "-w", ws], env=env).exit_code == 0
    res = run.invoke(cli, ["change", "record", "--kind", "config", "--service", "checkout", "--summary",
                           "pool 20 -> 5", "--detail", "key=db.pool", "--format", "json", "-w", ws], env=env)
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    res = run.invoke(cli, ["change", "list", "--format", "json", "-w", ws], env=env)
    rows = json.loads(res.stdout)
    assert rows[0]["id"] == rec["id"] and rows[0]["details"] == {"key": "db.pool"}
    res = run.invoke(cli, ["change", "record", "--kind", "config", "--service", "checkout", "--summary", "x",
                           "--detail", "novalue", "-w", ws], env=env)
    assert res.exit_code == 2 and "KEY=VALUE" in res.output
