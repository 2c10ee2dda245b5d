"""The API acts as the token's user: role and scope per route, audit naming user and token, rate limits,
and /metrics scraped by the real Prometheus."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.alerts.apiserver import ApiServer, call, free_port
from tests.conftest import make_ops, need_program


@pytest.fixture
def api(ops) -> Iterator[ApiServer]:
    srv = ApiServer(ops).start()
    yield srv
    srv.stop()


def test_request_acts_as_the_token_user_capped_by_scopes(api: ApiServer) -> None:
    ops = api.ops
    ops.access.grant("rita", "responder")
    ops.access.grant("vic", "viewer")
    rita = ops.access.tokens.create(user="rita", scopes="read,incidents:write").token
    vic = ops.access.tokens.create(user="vic", scopes="*").token
    rita_ro = ops.access.tokens.create(user="rita", scopes="read").token
    url = f"{api.base}/incidents"
    status, inc = call(url, {"title": "db slow", "service": "db"}, token=rita)
    assert status == 201
    rec = ops.audit.list(action="incident.create").iloc[0]
    assert rec["actor"] == "rita" and rec["params"]["via"].startswith("token:")
    status, out = call(url, {"title": "x", "service": "y"}, token=vic)  # scope yes, role no
    assert status == 403 and out["error"]["code"] == "role" and out["error"]["fields"]["required"] == "responder"
    status, out = call(url, {"title": "x", "service": "y"}, token=rita_ro)  # role yes, scope no
    assert status == 403 and out["error"]["code"] == "scope"
    assert call(url, token=vic)[0] == 200
    status, out = call(f"{api.base}/audit", token=rita)  # the audit trail needs audit:read and operator
    assert status == 403
    assert ops.user == "tester"  # the server's own identity is untouched by requests


def test_bootstrap_token_retires_once_a_token_exists(api: ApiServer) -> None:
    api.ops.settings._values["api_token"] = "boot-strap"
    status, made = call(f"{api.base}/incidents", token="boot-strap")
    assert status == 200
    api.ops.access.tokens.create(user="tester", scopes="*")
    time.sleep(1.1)  # the server asks again whether a token exists at most once a second
    status, out = call(f"{api.base}/incidents", token="boot-strap")
    assert status == 401 and "bootstraps" in out["error"]["message"]


def test_revoked_token_stops_at_once(api: ApiServer) -> None:
    made = api.ops.access.tokens.create(user="tester", scopes="read")
    assert call(f"{api.base}/slos", token=made.token)[0] == 200
    api.ops.access.tokens.revoke(made.id)
    assert call(f"{api.base}/slos", token=made.token)[0] == 401


def test_rate_limit_429_with_headers(ops_sqlite) -> None:
    ops_sqlite.settings._values["api_rate_limit"] = 3
    srv = ApiServer(ops_sqlite).start()
    try:
        token = ops_sqlite.access.tokens.create(user="tester", scopes="read").token
        other = ops_sqlite.access.tokens.create(user="tester", scopes="read").token
        heads = []
        for _ in range(4):
            req = urllib.request.Request(f"{srv.base}/incidents", headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req) as r:
                    heads.append((r.status, {k.lower(): v for k, v in r.headers.items()}))
            except urllib.error.HTTPError as e:
                heads.append((e.code, {k.lower(): v for k, v in e.headers.items()}))
                body = json.loads(e.read())
        assert [h[0] for h in heads] == [200, 200, 200, 429]
        assert heads[0][1]["ratelimit-limit"] == "3" and heads[0][1]["ratelimit-remaining"] == "2"
        assert int(heads[3][1]["retry-after"]) >= 1 and body["error"]["code"] == "rate_limited"
        assert call(f"{srv.base}/incidents", token=other)[0] == 200  # per token
    finally:
        srv.stop()


def test_metrics_scraped_by_prometheus(tmp_path: Path) -> None:
    binary = need_program("/usr/bin/prometheus")
    ops = make_ops(tmp_path / "ws")
    srv = ApiServer(ops).start()
    token = ops.access.tokens.create(user="tester", scopes="read").token
    for _ in range(3):
        call(f"{srv.base}/incidents", token=token)
    call(f"{srv.base}/incidents/INC-404", token=token)
    base = tmp_path / "prom"
    base.mkdir()
    cfg = base / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "opsnb", "metrics_path": "/opsnb/api/v1/metrics",
                            "authorization": {"credentials": token},
                            "static_configs": [{"targets": [f"127.0.0.1:{srv.port}"]}]}],
    }))
    port = free_port()
    proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.tsdb.path={base / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=(base / "prom.log").open("w"))
    try:
        def query(q: str) -> list[dict[str, object]]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={q}", timeout=2) as r:
                return json.loads(r.read())["data"]["result"]  # type: ignore[no-any-return]

        deadline = time.time() + 60
        while True:
            try:
                got = query('opsnb_api_requests_total{route="/incidents",status="200"}')
                if got:
                    break
            except OSError:
                pass
            assert time.time() < deadline and proc.poll() is None, (base / "prom.log").read_text()[-2000:]
            time.sleep(0.5)
        assert float(got[0]["value"][1]) >= 3  # type: ignore[index]
        assert query('opsnb_api_requests_total{route="/incidents/{incident_id}",status="404"}')
        assert query("opsnb_api_request_duration_seconds_bucket")
        assert query("up")[0]["value"][1] == "1"  # type: ignore[index]
        for name in ("opsnb_alerts_ingested_total", "opsnb_runbook_runs", "opsnb_scheduler_lag_seconds",
                     "opsnb_notify_queue"):
            assert query(name), name
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        srv.stop()
        ops.close()
