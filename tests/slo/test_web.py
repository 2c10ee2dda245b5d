"""GET /slos and GET /slos/<name>/report through the real tornado handlers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.web import Application

from opsnb.web import API_PREFIX, all_routes
from opsnb.web.base import ApiState
from tests.conftest import make_ops

from .conftest import T0, write_traffic

TOKEN = "slo-token"


@pytest.fixture
def api(tmp_path: Path, slo_file: Any) -> Iterator[Any]:
    ops = make_ops(tmp_path / "ws", api_token=TOKEN)
    slo_file(ops.slos.directory)
    write_traffic(ops, minutes=120, errors=[("checkout", T0, T0.replace(minute=30), 0.5)])
    app = Application(all_routes(), opsnb=ApiState(ops))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = app.listen(0, address="127.0.0.1")
    port = next(iter(srv._sockets.values())).getsockname()[1]

    def get(path: str, token: str | None = TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = loop.run_until_complete(AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}{API_PREFIX}{path}",
                                                            headers=headers, raise_error=False))
        is_json = r.headers.get("Content-Type", "").startswith("application/json")
        return r.code, json.loads(r.body) if is_json else r.body

    yield get
    srv.stop()
    AsyncHTTPClient().close()
    loop.close()
    asyncio.set_event_loop(None)
    ops.close()


def test_status_and_report(api: Any) -> None:
    code, body = api("/slos?at=2026-11-01T02:00Z")
    assert code == 200 and body["count"] == 1 and body["slos"][0]["name"] == "checkout-availability"
    code, body = api("/slos/checkout-availability/report?at=2026-11-01T02:00Z")
    assert code == 200 and body["events_bad"] == 150 and body["events_total"] == 1200


def test_errors(api: Any) -> None:
    assert api("/slos", token=None)[0] == 401
    code, body = api("/slos/nope/report")
    assert code == 404 and body["error"]["fields"]["kind"] == "slo"
    code, body = api("/slos/checkout-availability/report?at=soon")
    assert code == 400 and "is not a time" in body["error"]["message"]
    assert api("/slos/Bad..Name/report")[0] == 404
