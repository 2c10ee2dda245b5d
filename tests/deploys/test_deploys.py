"""The deploys domain on SQLite and PostgreSQL: records, current versions, rollbacks, markers, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from opsnb.workbench import Workbench

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ship(ops: Workbench, service: str, version: str, minutes: int, **kw: object) -> str:
    return ops.deploys.create(service=service, version=version, started_at=T0 + timedelta(minutes=minutes),
                              **kw).id  # type: ignore[arg-type]


def test_create_get_list_and_previous_version(ops: Workbench) -> None:
    a = ops.deploys.create(service="checkout", version="1.0.0", commit="abc1234", actor="ci-bot",
                           started_at=T0, finished_at=T0 + timedelta(minutes=3))
    assert a.id.startswith("DEP-") and a.previous_version is None and a.status == "succeeded"
    b = ops.deploys.create(service="checkout", version="1.1.0", started_at=T0 + timedelta(hours=1))
    assert b.previous_version == "1.0.0"  # taken from what was current
    assert b.actor == "tester" and b.finished_at == b.started_at
    got = ops.deploys.get(a.id)
    assert got == a and got.started_at.tzinfo is not None and "checkout" in got._repr_html_()
    _ship(ops, "search", "3.0.0", 30, env="staging")
    df = ops.deploys.list()
    assert list(df["version"]) == ["1.1.0", "3.0.0", "1.0.0"]  # newest first
    assert str(df["started_at"].dtype) .endswith("UTC]")
    assert list(ops.deploys.list(service="search")["env"]) == ["staging"]
    assert list(ops.deploys.list(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=59))["version"]) == ["3.0.0"]
    assert ops.deploys.list(service="nope").empty
    audit = ops.audit.list(action="deploy.create")
    assert set(audit["target"]) == set(df["id"]) and (audit["actor"] == "tester").all()


def test_current_follows_rollbacks(ops: Workbench) -> None:
    _ship(ops, "checkout", "1.0.0", 0)
    bad = _ship(ops, "checkout", "1.1.0", 60)
    _ship(ops, "checkout", "1.0.9", 10, env="staging")
    cur = ops.deploys.current().set_index(["service", "env"])
    assert cur.loc[("checkout", "prod"), "version"] == "1.1.0"
    rb = ops.deploys.record_rollback(bad, at=T0 + timedelta(minutes=90), reason="5xx after release")
    assert rb.version == "1.0.0" and rb.previous_version == "1.1.0" and rb.rollback_of == bad and rb.is_rollback
    assert ops.deploys.get(bad).status == "rolled_back"
    cur = ops.deploys.current(env="prod")
    assert list(cur["version"]) == ["1.0.0"] and list(cur["deploy_id"]) == [rb.id]
    with pytest.raises(Conflict, match="rolled_back"):
        ops.deploys.record_rollback(bad)
    first = ops.deploys.list(service="checkout", env="prod")["id"].iloc[-1]
    with pytest.raises(ValidationError, match="no previous version"):
        ops.deploys.record_rollback(first)
    marks = ops.deploys.markers(T0, T0 + timedelta(hours=3), service="checkout")
    assert list(marks["kind"]) == ["deploy", "deploy", "rollback"]
    assert list(marks["label"]) == ["checkout 1.0.0", "checkout 1.1.0", "checkout 1.0.0"]
    assert ops.deploys.markers(T0 + timedelta(hours=5), T0 + timedelta(hours=6)).empty


def test_update_transitions(ops: Workbench) -> None:
    d = ops.deploys.create(service="auth", version="2.0.0", status="running", started_at=T0)
    assert d.finished_at is None
    done = ops.deploys.update(d.id, status="succeeded", finished_at=T0 + timedelta(minutes=4))
    assert done.status == "succeeded" and done.finished_at == T0 + timedelta(minutes=4)
    with pytest.raises(Conflict, match="succeeded; it cannot become failed"):
        ops.deploys.update(d.id, status="failed")
    with pytest.raises(ValidationError, match="before the start"):
        ops.deploys.update(d.id, finished_at=T0 - timedelta(minutes=1))
    with pytest.raises(NotFound, match="no deploy DEP-999"):
        ops.deploys.update("DEP-999", status="failed")
    with pytest.raises(NotFound):
        ops.deploys.get("DEP-999")
    assert ops.audit.list(action="deploy.update")["target"].tolist() == [d.id]


def test_bad_input_lists_every_problem_and_writes_nothing(ops: Workbench) -> None:
    with pytest.raises(ValidationError) as info:
        ops.deploys.create(service="check out; rm -rf /", version="", env="", commit="xyz",
                           status="exploded", started_at=datetime(2026, 1, 1))  # naive
    probs = "\n".join(info.value.problems)
    for word in ("service", "version", "env", "commit", "status", "started_at"):
        assert word in probs
    with pytest.raises(ValidationError, match="finished_at .* is before started_at"):
        ops.deploys.create(service="a", version="1", started_at=T0, finished_at=T0 - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="version"):
        ops.deploys.create(service="a", version="1.0\n2.0")
    with pytest.raises(ValidationError, match="version"):
        ops.deploys.create(service="a", version="v" * 101)
    with pytest.raises(ValidationError, match="since"):
        ops.deploys.list(since="yesterday")  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="no deploy DEP-404 to roll back"):
        ops.deploys.create(service="a", version="1", rollback_of="DEP-404")
    assert ops.deploys.list().empty
    assert ops.audit.list(action="deploy.*").empty


def test_ids_are_unique_and_roles_are_checked(ops: Workbench) -> None:
    ops.deploys.create(id="gh-123", service="frontend", version="5.0.0")
    with pytest.raises(Conflict, match="gh-123 already exists"):
        ops.deploys.create(id="gh-123", service="frontend", version="5.0.1")
    with pytest.raises(ValidationError, match="id must be"):
        ops.deploys.create(id="../etc/passwd", service="frontend", version="5.0.1")
    ops.access.grant("vic", "viewer")
    ops.access.grant("rita", "responder")
    for who in ("vic", "rita"):
        ops.user = who
        with pytest.raises(PermissionDenied, match="deploy.create needs operator"):
            ops.deploys.create(service="frontend", version="6.0.0")
        with pytest.raises(PermissionDenied):
            ops.deploys.record_rollback("gh-123")
        assert len(ops.deploys.list()) == 1  # reading needs no role
    ops.user = "tester"
    assert ops.deploys.create(service="frontend", version="6.0.0").id.startswith("DEP-")


def test_cli_list_current_record_and_rollback(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    env = {"OPSNB_USER": "tester"}
    run = CliRunner()
    assert run.invoke(cli, ["user", "grant", "tester", "admin", "-w", ws], env=env).exit_code == 0
    res = run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", "1.0.0", "--commit", "abcdef1",
                           "--started-at", "2026-03-01T12:00:00", "--format", "json", "-w", ws], env=env)
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)[0]  # stderr says, once, that the naive time was read as UTC
    assert first["started_at"] == "2026-03-01T12:00:00+00:00"
    run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", "1.1.0", "-w", ws], env=env)
    res = run.invoke(cli, ["deploys", "list", "--service", "checkout", "--format", "json", "-w", ws], env=env)
    rows = json.loads(res.output)
    assert [r["version"] for r in rows] == ["1.1.0", "1.0.0"] and rows[0]["previous_version"] == "1.0.0"
    res = run.invoke(cli, ["deploys", "record-rollback", rows[0]["id"], "--reason", "bad", "-w", ws], env=env)
    assert res.exit_code == 0 and "1.0.0" in res.output
    res = run.invoke(cli, ["deploys", "current", "-w", ws], env=env)
    assert "checkout" in res.output and "1.0.0" in res.output
    res = run.invoke(cli, ["deploys", "list", "--since", "not-a-time", "-w", ws], env=env)
    assert res.exit_code == 2 and "'not-a-time' is not a time" in res.output
    res = run.invoke(cli, ["deploys", "list", "--service", "nope", "-w", ws], env=env)
    assert res.exit_code == 1 and "no service 'nope'" in str(res.exception)  # not a silent "(none)" (issue 13)


def test_generated_id_steps_around_a_hand_chosen_one(ops: Workbench) -> None:
    first = ops.deploys.create(service="a", version="1")
    n = int(first.id.split("-")[1])
    ops.deploys.create(id=f"DEP-{n + 2}", service="a", version="2")  # takes seq n+1, keeps its own id
    third = ops.deploys.create(service="a", version="3")  # seq n+2: its natural id is taken
    assert third.id.startswith(f"DEP-{n + 2}-") and ops.deploys.get(third.id).version == "3"
    assert len(set(ops.deploys.list()["id"])) == 3
