"""A runbook run whose process is killed with SIGKILL ends honestly at the next start.

Issue: after ``kill -9`` of the process running a runbook and a restart, the ledger still said
``running``, kernel processes were orphaned and the (runbook, host) lock refused new runs until it
expired minutes later. Here a real run is started in a subprocess, killed, and the owner restarted
(the first run of a fresh workbench, or a scheduler start): the run is ``interrupted`` with a
reason, no process of its kernel's group is left, the lock is free at once and the partial output
is kept, read-only. On SQLite and PostgreSQL, in seconds.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from opsnb.runbooks.models import RunRecord
from opsnb.runbooks.recovery import _group
from opsnb.store.processes import stat as _stat
from opsnb.store.types import utcnow
from opsnb.workbench import connect
from tests.conftest import make_ops
from tests.runbooks.conftest import write_runbook

FIGURES: dict[str, int] = {"killed": 0, "unresolved": 0}  # printed by -s runs, for the README

SLEEPY_CELLS = [
    # A child of the kernel, in its process group: what a killed owner used to orphan.
    'import subprocess, time\nchild = subprocess.Popen(["sleep", "300"])\nprint("started", flush=True)\n',
    'time.sleep(1.5)\nprint("partial-output-marker", flush=True)\n',
    "time.sleep(secs)\nprint('finished')\n",
]

OWNER = """
import sys
from opsnb.workbench import connect
ops = connect({ws!r}, database_url={db!r} or None, runbooks_dir={rb!r})
ops.user = "tester"
ops.runbooks.run("sleepy", host="web-1", wait=True)
"""


def _wait_for(pred: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _live_group(kernel: str) -> list[int]:
    _host, pid, pgid, ticks = kernel.rsplit(":", 3)
    st = _stat(int(pid))
    leader = [int(pid)] if st and st[0] not in ("Z", "X") and str(st[2]) == ticks else []
    return sorted(set(leader) | set(_group(int(pgid), ticks)))


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Any:
    rb_dir = tmp_path / "runbooks"
    write_runbook(rb_dir, "sleepy", 'host: str = "web-1"  # target\nsecs: float = 300.0  # how long\n',
                  SLEEPY_CELLS, {"target": "host", "timeout": 600})
    db = db_url if "postgres" in db_url else ""
    ops = make_ops(tmp_path / "ws", db, runbooks_dir=str(rb_dir))
    ops.fleet.create(name="web-1", address="127.0.0.1", reason="test host")
    yield ops, db, rb_dir
    ops.close()


@pytest.mark.parametrize("restart", ["first-run", "scheduler"])
def test_killed_owner_leaves_an_interrupted_run_and_nothing_running(world: Any, tmp_path: Path,
                                                                    restart: str) -> None:
    ops, db, rb_dir = world
    code = OWNER.format(ws=str(ops.workspace), db=db, rb=str(rb_dir))
    log = (tmp_path / "owner.log").open("wb")
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT,
                             env={**os.environ, "OPSNB_KERNEL_POOL": "0"})
    try:
        run = _wait_for(lambda: next(iter(ops.runbooks.history("sleepy", status="running")["id"]), None), 90,
                        "the run to start")
        rec = _wait_for(lambda: r if (r := ops.runbooks.record(run))["kernel"] else None, 60, "its kernel")
        out = Path(rec["output_path"])
        _wait_for(lambda: out.is_file() and "partial-output-marker" in out.read_text(), 60, "partial output")
        assert rec["owner"].split(":")[1] == str(owner.pid) and rec["heartbeat_at"] is not None
        kernel = rec["kernel"]
        assert _live_group(kernel), "the kernel and its child run"
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        FIGURES["killed"] += 1
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        log.close()
    assert ops.runbooks.record(run)["status"] == "running"  # nothing has resolved it yet

    t0 = time.monotonic()
    fresh = connect(ops.workspace, database_url=db or None, runbooks_dir=str(rb_dir))
    fresh.user = "tester"
    try:
        if restart == "scheduler":
            from opsnb.runbooks.scheduler import Scheduler

            sched = Scheduler(fresh, interval=60).start()
            sched.stop()
        # The same runbook on the same host starts at once: the dead run's lock is gone.
        again = fresh.runbooks.run("sleepy", host="web-1", secs=0.0, wait=True)
        assert again.status == "succeeded", again.error
    finally:
        fresh.close()
    row = ops.runbooks.record(run)
    if row["status"] != "interrupted":
        FIGURES["unresolved"] += 1
    assert row["status"] == "interrupted"
    assert f"its owner (pid {owner.pid}" in row["error"] and "killed" in row["error"], row["error"]
    assert row["finished_at"] is not None
    assert _live_group(kernel) == [], "no process of the kernel's group is left"
    assert out.is_file() and not out.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert "partial-output-marker" in out.read_text() and row["sha256"]
    assert ops.audit.list(action="runbook.interrupted")["target"].tolist() == [run]
    assert time.monotonic() - t0 < 30


def test_a_run_of_another_host_is_interrupted_once_its_heartbeat_is_stale(world: Any) -> None:
    ops, _db, _rb = world
    from opsnb.runbooks.models import RunLock

    now = utcnow()
    rows = {"fresh": now - timedelta(seconds=5), "stale": now - timedelta(minutes=5)}
    with ops.db.session() as s:
        for name, beat in rows.items():
            s.add(RunRecord(id=f"R-{name}", runbook="sleepy", status="running", trigger="manual", actor="tester",
                            dry_run=False, risk="read-only", params={}, targets=["web-1"], approve=[],
                            created_at=beat, started_at=beat, results={}, owner="elsewhere:4242:99",
                            heartbeat_at=beat, kernel="elsewhere:4243:4243:100"))
            s.add(RunLock(key=f"sleepy|{name}", run_id=f"R-{name}", acquired_at=beat,
                          expires_at=now + timedelta(hours=1)))
    done = ops.runbooks.recover()
    assert [d["run_id"] for d in done] == ["R-stale"]
    stale, fresh = ops.runbooks.record("R-stale"), ops.runbooks.record("R-fresh")
    assert stale["status"] == "interrupted" and "no heartbeat from its owner on elsewhere" in stale["error"]
    assert "stop it there" in stale["error"]  # a kernel on another host is not ours to kill
    assert fresh["status"] == "running"
    assert ops.runbooks.recover() == []  # nothing twice
    with ops.db.session() as s:
        assert s.get(RunLock, "sleepy|stale") is None and s.get(RunLock, "sleepy|fresh") is not None
        s.execute(update(RunRecord).where(RunRecord.id == "R-fresh").values(status="succeeded"))

