"""``opsnb runbook ...`` and ``opsnb scheduler --once`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from tests.conftest import make_ops


@pytest.fixture
def ws(tmp_path: Path, rb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSNB_RUNBOOKS_DIR", str(rb_dir))
    make_ops(tmp_path / "ws").close()
    return tmp_path / "ws"


def _run(ws: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["--workspace", str(ws), *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_list_show_lint(ws: Path) -> None:
    code, out, _ = _run(ws, "runbook", "list", "--format", "json")
    assert code == 0 and {r["name"] for r in json.loads(out)} == {"trivial", "fix-thing"}
    code, out, _ = _run(ws, "runbook", "show", "fix-thing")
    assert code == 0 and "risk high" in out and "dry_run" in out
    code, out, _ = _run(ws, "runbook", "lint")
    assert code == 0 and "(none)" in out


def test_run_streams_progress_and_converts_parameters(ws: Path) -> None:
    code, out, err = _run(ws, "runbook", "run", "trivial", "-p", "x", "5", "-p", "name", "cli", "--format", "json")
    assert code == 0, err
    row = json.loads(out)
    assert row["status"] == "succeeded" and row["results"] == {"double": 10} and row["params"]["x"] == 5
    assert "started" in err and "succeeded" in err  # per-cell progress on stderr
    code, out, _ = _run(ws, "runbook", "history", "trivial", "--format", "json")
    assert [r["id"] for r in json.loads(out)] == [row["id"]]
    code, out, _ = _run(ws, "runbook", "rerun", row["id"], "-q", "--format", "json")
    assert code == 0 and json.loads(out)["results"] == {"double": 10}


def test_bad_input_is_one_clear_error(ws: Path) -> None:
    r = CliRunner().invoke(cli, ["--workspace", str(ws), "runbook", "run", "trivial", "-p", "x", "five", "-p", "y", "1"])
    assert r.exit_code != 0
    msg = str(r.exception) + r.output
    assert "x: cannot read 'five' as int" in msg and "y: unknown parameter" in msg


def test_real_run_flags_and_failed_exit_status(ws: Path, rb_dir: Path) -> None:
    code, out, _ = _run(ws, "runbook", "run", "fix-thing", "-q")
    assert code == 0 and "(dry run)" in out and "mode = \"dry\"" in out
    code, out, _ = _run(ws, "runbook", "run", "fix-thing", "-q", "--real", "--reason", "cli test")
    assert code == 0 and "mode = \"real\"" in out and "(dry run)" not in out
    from tests.runbooks.conftest import write_runbook

    write_runbook(rb_dir, "boom", cells=["raise RuntimeError('no')"])
    code, out, _ = _run(ws, "runbook", "run", "boom", "-q")
    assert code == 1 and "failed" in out and "RuntimeError: no" in out


def test_scheduler_once(ws: Path) -> None:
    code, out, _ = _run(ws, "runbook", "schedule", "often", "trivial", "--every", "1s", "-p", "x", "2")
    assert code == 0
    import time

    time.sleep(1.1)
    code, out, _ = _run(ws, "scheduler", "--once", "--format", "json")
    fired = json.loads(out)
    assert code == 0 and len(fired) == 1 and fired[0]["status"] == "succeeded"
