"""The on-call and notify API endpoints (in-process tornado, real HTTP receiver for pages)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.web import Application

from opsnb.web import API_PREFIX
from opsnb.web import notify as notify_api
from opsnb.web import oncall as oncall_api
from opsnb.web.base import ApiState
from tests.conftest import make_ops
from tests.notify.servers import http_receiver

TOKEN = "oncall-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Any, Any, Any]]:
    ops = make_ops(tmp_path / "ws", api_token=TOKEN)
    routes = [(API_PREFIX + p, h) for p, h in oncall_api.routes() + notify_api.routes()]
    app = Application(routes, opsnb=ApiState(ops))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = app.listen(0, address="127.0.0.1")
    port = next(iter(srv._sockets.values())).getsockname()[1]
    with http_receiver() as rx:
        ops.notify.create_channel(name="hook", kind="slack", target=rx.url)
        ops.oncall.create_schedule(name="primary", timezone="America/New_York", members=["alice", "bob", "carol"],
                                   rotation="weekly", first_handoff="2025-03-03T09:00")
        ops.oncall.create_policy(name="default", channel="hook",
                                 levels=[{"targets": [{"schedule": "primary"}], "delay": "10m"}])
        yield f"http://127.0.0.1:{port}{API_PREFIX}", loop, ops, rx
    srv.stop()
    AsyncHTTPClient().close()
    loop.close()
    asyncio.set_event_loop(None)
    ops.close()


def call(api: tuple[str, Any, Any, Any], path: str, method: str = "GET", body: Any = None,
         headers: dict[str, str] | None = None) -> HTTPResponse:
    base, loop, _, _ = api
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    return loop.run_until_complete(AsyncHTTPClient().fetch(  # type: ignore[no-any-return]
        base + path, method=method, body=data, headers=AUTH if headers is None else headers, raise_error=False))


def test_questions(api: tuple[str, Any, Any, Any]) -> None:
    r = call(api, "/oncall/schedules/primary/who?at=2025-03-10T13:00:00Z")
    assert r.code == 200 and json.loads(r.body)["person"] == "bob"
    r = call(api, "/oncall/schedules/primary/shifts?start=2025-03-01&end=2025-03-20")
    assert [s["person"] for s in json.loads(r.body)["shifts"]] == ["alice", "bob", "carol"]
    r = call(api, "/oncall/schedules/primary/calendar.ics?start=2025-03-01&end=2025-03-20")
    assert r.code == 200 and r.headers["Content-Type"].startswith("text/calendar")
    assert r.body.count(b"BEGIN:VEVENT") == 3
    r = call(api, "/oncall/policies/default/plan?at=2025-03-10T12:55:00Z")
    assert [p["person"] for p in json.loads(r.body)["plan"] if p["action"] == "notify"] == ["alice"]
    assert json.loads(call(api, "/oncall/schedules").body)["count"] == 1


def test_escalate_and_ack(api: tuple[str, Any, Any, Any]) -> None:
    _, _, ops, rx = api
    r = call(api, "/oncall/escalations", "POST", {"policy": "default", "incident_id": "INC-3", "subject": "down"})
    assert r.code == 201, r.body
    assert len(rx.requests) == 1
    r = call(api, "/oncall/incidents/INC-3/ack", "POST", {"by": "alice"})
    assert r.code == 200 and json.loads(r.body)["cancelled"] == 1  # the exhaust timer
    d = json.loads(call(api, "/notify/deliveries?status=sent").body)
    assert d["count"] == 1
    one = json.loads(call(api, f"/notify/deliveries/{d['deliveries'][0]['id']}").body)
    assert one["attempt_log"][0]["status"] == "ok"
    assert json.loads(call(api, "/notify/channels").body)["channels"][0]["name"] == "hook"


@pytest.mark.parametrize("path,method,body,code", [
    ("/oncall/schedules/primary/who", "GET", None, 401),
    ("/oncall/schedules/nope/who", "GET", None, 404),
    ("/oncall/schedules/primary/who?at=later", "GET", None, 400),
    ("/oncall/schedules/primary/shifts?start=2025-03-01", "GET", None, 400),
    ("/oncall/escalations", "POST", b"{not json", 400),
    ("/oncall/escalations", "POST", {"policy": "default", "incident_id": "INC-1"}, 400),
    ("/oncall/escalations", "POST", {"policy": "default", "incident_id": "INC-1", "subject": "x", "evil": 1}, 400),
    ("/oncall/escalations", "POST", {"policy": "nope", "incident_id": "INC-1", "subject": "x"}, 404),
    ("/oncall/escalations", "POST", ["a", "list"], 400),
    ("/notify/deliveries?limit=-1", "GET", None, 400),
    ("/notify/deliveries?status=lost", "GET", None, 400),
    ("/notify/deliveries/999", "GET", None, 404),
])
def test_bad_requests(api: tuple[str, Any, Any, Any], path: str, method: str, body: Any, code: int) -> None:
    headers = {} if code == 401 else AUTH
    r = call(api, path, method, body, headers)
    assert r.code == code, r.body
    if code != 401:
        assert "error" in json.loads(r.body)
    _, _, ops, rx = api
    assert ops.oncall.escalations().empty and rx.requests == []
