"""The API base: health, token and HMAC auth, payload limit, JSON errors (in-process tornado)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.web import Application

from opsnb.errors import NotFound, ValidationError
from opsnb.web import API_PREFIX, all_routes
from opsnb.web.base import ApiHandler, ApiState
from tests.conftest import make_ops

TOKEN = "t0ken-for-tests"


class EchoHandler(ApiHandler):
    def post(self) -> None:
        body = self.json_body()
        if body.get("missing"):
            raise NotFound("no such thing", kind="thing", key=body["missing"])
        if body.get("bad"):
            raise ValidationError("bad things:", problems=["a is wrong", "b is wrong"])
        self.reply({"got": body}, status=202)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    ops = make_ops(tmp_path / "ws", api_token=TOKEN, api_max_payload_bytes=1000)
    app = Application([(API_PREFIX + "/echo", EchoHandler), *all_routes()], opsnb=ApiState(ops))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = app.listen(0, address="127.0.0.1")
    port = next(iter(srv._sockets.values())).getsockname()[1]
    yield f"http://127.0.0.1:{port}{API_PREFIX}", loop
    srv.stop()
    AsyncHTTPClient().close()
    loop.close()
    asyncio.set_event_loop(None)
    ops.close()


def call(server: tuple[str, Any], path: str, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> HTTPResponse:
    base, loop = server
    client = AsyncHTTPClient()
    return loop.run_until_complete(client.fetch(base + path, method=method, body=body, headers=headers or {},
                                                raise_error=False))  # type: ignore[no-any-return]


def test_health_needs_no_token(server: tuple[str, Any]) -> None:
    r = call(server, "/health")
    assert r.code == 200 and json.loads(r.body)["status"] == "ok"


def test_bootstrap_token_and_no_signature_login(server: tuple[str, Any]) -> None:
    body = b'{"x": 1}'
    assert call(server, "/echo", "POST", body).code == 401
    assert call(server, "/echo", "POST", body, {"Authorization": "Bearer wrong"}).code == 401
    ok = call(server, "/echo", "POST", body, {"Authorization": f"Bearer {TOKEN}"})
    assert ok.code == 202 and json.loads(ok.body) == {"got": {"x": 1}}
    # The old body-only HMAC keyed with the token is no login at all (an empty body's signature
    # authorised everything, forever); signatures are for ingest routes and their senders.
    sig = hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    r = call(server, "/echo", "POST", body, {"X-Opsnb-Signature": f"sha256={sig}"})
    assert r.code == 401 and "ingest" in json.loads(r.body)["error"]["message"]
    empty = hmac.new(TOKEN.encode(), b"", hashlib.sha256).hexdigest()
    assert call(server, "/incidents", "GET", None, {"X-Opsnb-Signature": f"sha256={empty}"}).code == 401


def test_errors_are_json_4xx(server: tuple[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = call(server, "/echo", "POST", b"{not json", auth)
    err = json.loads(r.body)["error"]
    assert r.code == 400 and "request body is not JSON" in err["message"] and err["code"] == "parse_error"
    r = call(server, "/echo", "POST", b'{"missing": "k"}', auth)
    assert r.code == 404 and json.loads(r.body) == {"error": {"code": "not_found", "message": "no such thing",
                                                              "fields": {"kind": "thing", "key": "k"}}}
    r = call(server, "/echo", "POST", b'{"bad": 1}', auth)
    assert r.code == 400 and json.loads(r.body)["error"]["fields"]["problems"] == ["a is wrong", "b is wrong"]
    r = call(server, "/echo", "POST", b'{"pad": "' + b"x" * 2000 + b'"}', auth)
    assert r.code == 413 and json.loads(r.body)["error"]["code"] == "too_large"


def test_only_refusals_and_errors_reach_the_request_log(server: tuple[str, Any],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Successes are recorded elsewhere (receipts, audit); the request log keeps what went wrong."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with caplog.at_level("DEBUG", logger="tornado.access"):
        assert call(server, "/echo", "POST", b'{"x": 1}', auth).code == 202
        assert call(server, "/health").code == 200
        assert call(server, "/echo", "POST", b'{"x": 1}').code == 401
        assert call(server, "/echo", "POST", b'{"missing": "k"}', auth).code == 404
    logged = [r.getMessage() for r in caplog.records if r.name == "tornado.access"]
    assert len(logged) == 2, logged
    assert logged[0].startswith("401 POST") and logged[1].startswith("404 POST")


def test_hostile_json_bodies_get_a_400_not_a_500(server: tuple[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for body in (b"[" * 400 + b"]" * 400, b'{"a":' * 100 + b"1" + b"}" * 100, b"\xff"):
        r = call(server, "/echo", "POST", body, auth)
        assert r.code == 400, (body[:20], r.code, r.body)
        assert "request body" in json.loads(r.body)["error"]["message"]
