"""``confirm`` in a kernel a human drives: it pauses at a stdin prompt; yes continues, anything else stops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client import KernelManager


@pytest.fixture
def kernel() -> Iterator[Any]:
    env = {k: v for k, v in os.environ.items() if k != "OPSNB_RUN_CONTEXT"}
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def _confirm(kc: Any, answer: str) -> dict[str, Any]:
    msg_id = kc.execute("from opsnb.runbooks import confirm\nconfirm('restart nginx on web-1')", allow_stdin=True)
    req = kc.get_stdin_msg(timeout=30)  # the notebook is paused here, waiting for a human
    assert req["msg_type"] == "input_request" and "restart nginx on web-1" in req["content"]["prompt"]
    kc.input(answer)
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]  # type: ignore[no-any-return]


def test_interactive_confirm_pauses_and_respects_the_answer(kernel: Any) -> None:
    assert _confirm(kernel, "yes")["status"] == "ok"
    refused = _confirm(kernel, "no")
    assert refused["status"] == "error" and refused["ename"] == "ApprovalRequired"


def test_without_stdin_it_fails_closed(kernel: Any) -> None:
    reply = kernel.execute_interactive("from opsnb.runbooks import confirm\nconfirm('drop db')", allow_stdin=False,
                                       timeout=30, output_hook=lambda _m: None)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "ApprovalRequired"


GATED = ["import opsnb.runbooks as rb\nif not dry_run:\n    rb.confirm('flush the cache')\n    rb.record('done', True)"]


def _wait_pending(ops: Any, run_id: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        df = ops.runbooks.approvals(run_id)
        if (df["status"] == "pending").any():
            return
        time.sleep(0.1)
    raise AssertionError("no pending approval appeared")


def test_an_interactive_run_pauses_until_someone_decides(rops: Any, rb_dir: Any) -> None:
    from opsnb.errors import NotFound, PermissionDenied
    from tests.runbooks.conftest import write_runbook

    write_runbook(rb_dir, "gated", params="dry_run: bool = True  # d\n", cells=GATED, meta={"risk": "high"})
    run = rops.runbooks.run("gated", dry_run=False, reason="r", interactive=True, wait=False)
    _wait_pending(rops, run.id)
    assert run.refresh().status == "running"  # paused at the step
    rops.access.grant("rita", "responder")
    rops.user = "rita"
    with pytest.raises(PermissionDenied):
        rops.runbooks.decide(run.id, approve=True)
    rops.user = "tester"
    rops.runbooks.decide(run.id, approve=True, reason="looked fine")
    assert run.wait(60).ok and run.results == {"done": True}
    assert rops.audit.list(action="runbook.approve")["target"].tolist() == [run.id]
    with pytest.raises(NotFound):
        rops.runbooks.decide(run.id, approve=True)
    denied = rops.runbooks.run("gated", dry_run=False, reason="r", interactive=True, wait=False)
    _wait_pending(rops, denied.id)
    rops.runbooks.decide(denied.id, approve=False)
    assert denied.wait(60).status == "failed" and "not approved" in denied.error


def test_cli_prompts_at_the_step(tmp_path: Any, rb_dir: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from opsnb.cli import cli
    from tests.conftest import make_ops
    from tests.runbooks.conftest import write_runbook

    write_runbook(rb_dir, "gated", params="dry_run: bool = True  # d\n", cells=GATED, meta={"risk": "high"})
    monkeypatch.setenv("OPSNB_RUNBOOKS_DIR", str(rb_dir))
    make_ops(tmp_path / "ws").close()
    args = ["--workspace", str(tmp_path / "ws"), "runbook", "run", "gated", "--real", "--reason", "r",
            "--interactive", "-q", "--format", "json"]
    r = CliRunner().invoke(cli, args, input="y\n", catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "APPROVE step: flush the cache" in r.stderr
    assert json.loads(r.stdout)["results"] == {"done": True}
    r = CliRunner().invoke(cli, args[:-4] + ["--unattended", "-q"], catch_exceptions=False)
    assert r.exit_code == 1 and "ApprovalRequired" in r.stdout
