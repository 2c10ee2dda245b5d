"""Runs through ``ops.runbooks``: real kernels, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from opsnb.errors import Conflict, NotFound, PermissionDenied, RunFailed, ValidationError
from tests.runbooks.conftest import write_runbook


def test_trivial_run_records_results_cells_output_and_audit(rops: Any) -> None:
    events: list[dict[str, Any]] = []
    run = rops.runbooks.run("trivial", x=21, name="ops", on_event=events.append)
    assert run.status == "succeeded", run.error
    assert run.results == {"double": 42}
    assert run.params == {"x": 21, "name": "ops"} and run.trigger == "manual" and run.actor == "tester"
    out = Path(run.output_path)
    assert out.is_file() and not os.stat(out).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    nb = nbformat.read(out, as_version=4)
    assert any("hello ops" in str(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("cell_started") == kinds.count("cell_finished") == 3  # parameters, injected, body
    cells = run.cells
    assert len(cells) == 3 and (cells["duration"] >= 0).all() and set(cells["status"]) == {"succeeded"}
    audit = rops.audit.list(action="runbook.run")
    assert len(audit) == 1 and audit["params"].iloc[0]["run_id"] == run.id
    hist = rops.runbooks.history("trivial")
    assert list(hist["id"]) == [run.id] and str(hist["created_at"].dtype).endswith("UTC]")


def test_validation_happens_before_any_kernel(rops: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        rops.runbooks.run("trivial", x="not-an-int", nope=1)
    assert len(exc.value.problems) == 2
    with pytest.raises(NotFound):
        rops.runbooks.run("no-such-runbook")
    assert rops.runbooks.history().empty


def test_risky_runbooks_run_dry_unless_told_and_real_needs_role_and_reason(rops: Any) -> None:
    run = rops.runbooks.run("fix-thing")
    assert run.dry_run and run.results["mode"] == "dry"
    with pytest.raises(ValidationError, match="needs a reason"):
        rops.runbooks.run("fix-thing", dry_run=False)
    rops.access.grant("rita", "responder")
    rops.user = "rita"
    with pytest.raises(PermissionDenied, match="needs operator"):
        rops.runbooks.run("fix-thing", dry_run=False, reason="fix it")
    assert rops.runbooks.run("fix-thing").ok  # a dry run is fine for a responder
    rops.user = "tester"
    real = rops.runbooks.run("fix-thing", dry_run=False, reason="INC-1: fix it")
    assert not real.dry_run and real.results["mode"] == "real" and real.reason == "INC-1: fix it"
    rec = rops.audit.list(action="runbook.run")
    assert "INC-1: fix it" in set(rec["reason"])


def test_failures_timeouts_and_cancel_each_map_to_one_status(rops_sqlite: Any, rb_dir: Path) -> None:
    ops = rops_sqlite
    write_runbook(rb_dir, "boom", cells=['raise ValueError("boom " + str(x))', "print('never')"])
    write_runbook(rb_dir, "slow", params="secs: float = 30.0  # how long\n", cells=["import time\ntime.sleep(secs)"])
    write_runbook(rb_dir, "slow-cell", params="secs: float = 30.0  # how long\n", cells=["import time\ntime.sleep(secs)"],
                  meta={"cell_timeout": 1})
    write_runbook(rb_dir, "suicide", cells=["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"])
    failed = ops.runbooks.run("boom", x=3)
    assert failed.status == "failed" and "ValueError: boom 3" in failed.error and failed.failed_cell
    with pytest.raises(RunFailed):
        failed.raise_for_status()
    t0 = time.monotonic()
    assert ops.runbooks.run("slow", timeout=1.5).status == "timed_out"
    assert time.monotonic() - t0 < 10
    assert ops.runbooks.run("slow-cell").status == "cell_timeout"
    assert ops.runbooks.run("suicide").status == "dead_kernel"
    run = ops.runbooks.run("slow", wait=False)
    deadline = time.monotonic() + 30
    while run.refresh().status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    run.cancel(reason="changed my mind")
    assert run.wait(30).status == "cancelled"
    assert ops.audit.list(action="runbook.cancel")["target"].iloc[0] == run.id
    with pytest.raises(Conflict):
        ops.runbooks.cancel(run.id)


def test_one_run_per_runbook_and_target_at_a_time(rops: Any, rb_dir: Path) -> None:
    write_runbook(rb_dir, "slow-fix", params='host: str = "web-1"  # target\nsecs: float = 20.0  # s\n'
                  'dry_run: bool = True  # d\n', cells=["import time\nif dry_run: time.sleep(secs)"],
                  meta={"risk": "high", "target": "host"})
    for n in ("web-1", "web-2"):
        rops.fleet.create(name=n, address="127.0.0.1", labels={"role": "web"})
    with pytest.raises(ValidationError, match="host:"):
        rops.runbooks.run("slow-fix", host="db-9")
    first = rops.runbooks.run("slow-fix", host="web-1", wait=False)
    with pytest.raises(Conflict, match="already running on web-1"):
        rops.runbooks.run("slow-fix", host="web-1", wait=False)
    other = rops.runbooks.run("slow-fix", host="web-2", secs=0.0)  # another target is fine
    assert other.ok and other.targets == ["web-2"]
    with pytest.raises(Conflict, match="already running on web-1"):  # a selector resolving to web-1 too
        rops.runbooks.run("slow-fix", host="role=web", wait=False)
    first.cancel()
    assert first.wait(30).status == "cancelled"
    assert rops.runbooks.run("slow-fix", host="role=web", secs=0.0).targets == ["web-1", "web-2"]
    assert rops.runbooks.run("slow-fix", host="web-1", secs=0.0).ok  # the lock was released


def test_secrets_are_resolved_in_the_kernel_and_redacted_everywhere(rops_sqlite: Any, rb_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RB_TEST_TOKEN", "s3cr3t-value-XYZ")
    write_runbook(rb_dir, "uses-secret", params='token_ref: str = "env:RB_TEST_TOKEN"  # where the token is\n',
                  cells=["import opsnb.runbooks as rb\ntok = rb.secret(token_ref)\nprint('token is', tok)\n"
                         "rb.record('token', tok)\nprint('Authorization: Bearer ' + 'abcdefgh' * 2)"],
                  meta={"parameters": {"token_ref": {"secret": True}}})
    with pytest.raises(ValidationError, match="secret reference"):
        rops_sqlite.runbooks.run("uses-secret", token_ref="s3cr3t-value-XYZ")
    run = rops_sqlite.runbooks.run("uses-secret")
    assert run.ok, run.error
    text = Path(run.output_path).read_text()
    assert [line for line in text.splitlines() if "s3cr3t" in line] == []
    assert "s3cr3t-value-XYZ" not in text and "abcdefghijklmnop" not in text and "token is ***" in text
    assert run.results["token"] == "***"
    assert run.params["token_ref"] == "env:RB_TEST_TOKEN"
    assert "s3cr3t" not in str(rops_sqlite.audit.list().to_dict())


def test_confirm_fails_closed_unless_pre_approved(rops_sqlite: Any, rb_dir: Path) -> None:
    write_runbook(rb_dir, "gated", params="dry_run: bool = True  # d\n",
                  cells=["import opsnb.runbooks as rb\nif not dry_run:\n    rb.confirm('delete everything')\n"
                         "    rb.record('done', True)"], meta={"risk": "high"})
    denied = rops_sqlite.runbooks.run("gated", dry_run=False, reason="r")
    assert denied.status == "failed" and "ApprovalRequired" in denied.error
    ok = rops_sqlite.runbooks.run("gated", dry_run=False, reason="r", approve=["delete everything"])
    assert ok.ok and ok.results == {"done": True}


def test_rerun_and_diff(rops: Any) -> None:
    a = rops.runbooks.run("trivial", x=1)
    b = rops.runbooks.run("trivial", x=2)
    again = rops.runbooks.rerun(a.id)
    assert again.params == a.params and again.results == a.results and again.trigger == "rerun"
    assert again.rerun_of == a.id
    d = rops.runbooks.diff(a.id, b.id)
    whats = set(d["what"])
    assert {"param:x", "result:double"} <= whats and any(w.startswith("cell:") for w in whats)
    assert rops.runbooks.diff(a.id, again.id).empty
    assert Path(a.output_path).read_bytes() != Path(again.output_path).read_bytes() or a.output_path != again.output_path


def _settled_descriptors() -> int:
    """Open descriptors once the kernel pool is full and every queued kernel stop has run."""
    from opsnb.runbooks.runner import pool

    kp = pool()
    kp.warm(wait=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with kp._cond:
            if len(kp._ready.get("python3", [])) >= kp.size and not kp._starting.get("python3"):
                break
        time.sleep(0.05)
    kp._stopper.submit(lambda: None).result(60)  # one stopper thread: the stops queued before are done
    return len(os.listdir("/proc/self/fd"))


def test_runs_leave_no_descriptors_behind(rops_sqlite: Any) -> None:
    # Each run once left a ZMQ context with its sockets (nbclient does not stop the channels of a
    # client made from a kernel manager it was handed) and an event loop per kernel start and stop
    # thread: about 20 descriptors a run, past 1,024 in one test worker.
    rops_sqlite.runbooks.run("trivial", x=0)
    before = _settled_descriptors()
    for i in range(5):
        assert rops_sqlite.runbooks.run("trivial", x=i).ok
    assert _settled_descriptors() - before < 20  # was about 100 for five runs


def test_parallel_runs_in_the_worker_pool(rops_sqlite: Any) -> None:
    runs = [rops_sqlite.runbooks.run("trivial", x=i, wait=False) for i in range(4)]
    done = [r.wait(60) for r in runs]
    assert [r.results["double"] for r in done] == [0, 2, 4, 6]
    assert all(r.ok for r in done)


def test_list_get_and_lint(rops_sqlite: Any) -> None:
    df = rops_sqlite.runbooks.list()
    assert set(df["name"]) == {"trivial", "fix-thing"}
    assert rops_sqlite.runbooks.get("fix-thing").required_role == "operator"
    assert rops_sqlite.runbooks.lint().empty
    html = rops_sqlite.runbooks.get("trivial")._repr_html_()
    assert "x" in html and "<table>" in html


def test_events_survive_in_the_ledger_for_other_processes(rops_sqlite: Any) -> None:
    run = rops_sqlite.runbooks.run("trivial")
    rops_sqlite.runbooks._live.clear()  # as seen from another process
    evs = rops_sqlite.runbooks.events(run.id)
    assert [e["event"] for e in evs] == ["cell_finished"] * 3
    assert "succeeded" in run._repr_html_()
    done = threading.Event()
    assert not done.is_set()
