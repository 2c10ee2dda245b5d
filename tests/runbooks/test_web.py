"""The runbook API, served by tornado in-process: list, start a run, follow its progress, cancel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.web import Application

from opsnb.web import API_PREFIX
from opsnb.web.base import ApiState
from opsnb.web.runbooks import routes
from tests.conftest import make_ops
from tests.runbooks.conftest import write_runbook

TOKEN = "rb-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server(tmp_path: Path, rb_dir: Path) -> Iterator[tuple[str, Any, Any]]:
    write_runbook(rb_dir, "slow", params="secs: float = 30.0  # s\n", cells=["import time\ntime.sleep(secs)"])
    ops = make_ops(tmp_path / "ws", api_token=TOKEN, runbooks_dir=str(rb_dir))
    app = Application([(API_PREFIX + p, h) for p, h in routes()], opsnb=ApiState(ops))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = app.listen(0, address="127.0.0.1")
    port = next(iter(srv._sockets.values())).getsockname()[1]
    yield f"http://127.0.0.1:{port}{API_PREFIX}", loop, ops
    srv.stop()
    AsyncHTTPClient().close()
    loop.close()
    asyncio.set_event_loop(None)
    ops.close()


def call(server: tuple[str, Any, Any], path: str, method: str = "GET", body: Any = None,
         headers: dict[str, str] | None = None) -> HTTPResponse:
    base, loop, _ = server
    data = body if isinstance(body, bytes | type(None)) else json.dumps(body).encode()
    if method == "POST" and data is None:
        data = b""
    return loop.run_until_complete(AsyncHTTPClient().fetch(  # type: ignore[no-any-return]
        base + path, method=method, body=data, headers={**AUTH, **(headers or {})}, raise_error=False))


def _wait(server: tuple[str, Any, Any], run_id: str, until: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        row = json.loads(call(server, f"/runs/{run_id}").body)
        if row["status"] in until or time.monotonic() > deadline:
            return row
        time.sleep(0.1)


def test_list_show_run_and_progress(server: tuple[str, Any, Any]) -> None:
    assert call(server, "/runbooks", headers={"Authorization": "Bearer wrong"}).code == 401
    r = call(server, "/runbooks")
    assert r.code == 200 and {x["name"] for x in json.loads(r.body)["runbooks"]} >= {"trivial", "fix-thing"}
    assert json.loads(call(server, "/runbooks/fix-thing").body)["risk"] == "high"
    assert call(server, "/runbooks/nope").code == 404
    r = call(server, "/runbooks/trivial/runs", "POST", {"params": {"x": 8}})
    assert r.code == 202
    run = json.loads(r.body)
    assert run["trigger"] == "api" and run["status"] in ("queued", "running", "succeeded")
    row = _wait(server, run["id"], {"succeeded", "failed"})
    assert row["status"] == "succeeded" and row["results"] == {"double": 16}
    kinds = [e["event"] for e in row["events"]]
    assert kinds.count("cell_finished") == 3 and kinds[-1] == "run_finished"
    since = json.loads(call(server, f"/runs/{run['id']}?since=3").body)["events"]
    assert len(since) == len(row["events"]) - 3


def test_bad_requests_are_4xx_and_change_nothing(server: tuple[str, Any, Any]) -> None:
    ops = server[2]
    cases = [(b"{not json", 400), ({"params": {"x": "eight"}}, 400), ({"params": {"zz": 1}}, 400),
             ({"params": [1]}, 400), ({"dry_run": "yes"}, 400), ({"bogus": 1}, 400), ([1, 2], 400),
             ({"dry_run": False}, 400)]  # a real run of a risky runbook needs a reason
    for body, status in cases:
        r = call(server, "/runbooks/fix-thing/runs", "POST", body)
        assert r.code == status, (body, r.body)
        assert "error" in json.loads(r.body)
    assert call(server, "/runs/R-nope").code == 404
    assert call(server, "/runs/R-1/../../etc").code == 404
    assert ops.runbooks.history().empty


def test_cancel_through_the_api(server: tuple[str, Any, Any]) -> None:
    r = call(server, "/runbooks/slow/runs", "POST", {"params": {"secs": 30}})
    run_id = json.loads(r.body)["id"]
    _wait(server, run_id, {"running"})
    r = call(server, f"/runs/{run_id}/cancel", "POST", {"reason": "api test"})
    assert r.code == 200
    assert _wait(server, run_id, {"cancelled", "failed", "succeeded"})["status"] == "cancelled"
    assert call(server, f"/runs/{run_id}/cancel", "POST").code == 409


def test_answer_an_approval_through_the_api(server: tuple[str, Any, Any], rb_dir: Path) -> None:
    write_runbook(rb_dir, "gated", params="dry_run: bool = True  # d\n", meta={"risk": "high"},
                  cells=["import opsnb.runbooks as rb\nif not dry_run:\n    rb.confirm('flush')\n    rb.record('ok', 1)"])
    r = call(server, "/runbooks/gated/runs", "POST", {"dry_run": False, "reason": "r", "interactive": True})
    run_id = json.loads(r.body)["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pending = json.loads(call(server, f"/runs/{run_id}/approvals").body)["approvals"]
        if pending:
            break
        time.sleep(0.1)
    assert pending[0]["step"] == "flush" and pending[0]["status"] == "pending"
    assert call(server, f"/runs/{run_id}/approvals", "POST", {"approve": "yes"}).code == 400
    assert call(server, f"/runs/{run_id}/approvals", "POST", {"approve": True}).code == 200
    assert _wait(server, run_id, {"succeeded", "failed"})["results"] == {"ok": 1}
