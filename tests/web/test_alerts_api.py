"""The alerts and incidents API over HTTP: in-process tornado (both DBs), the real Jupyter server,
and the real Alertmanager posting webhooks to it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsnb.alerts.payloads import fingerprint
from tests.alerts.apiserver import ApiServer, call, free_port
from tests.alerts.factory import am_alert, am_body, event
from tests.conftest import need_program
from tests.upserver import stop_process

TOKEN = "s3cret-token-for-tests"
LAT = {"alertname": "HighLatency", "service": "checkout"}


@pytest.fixture
def api(ops) -> Iterator[ApiServer]:
    ops.settings._values["api_token"] = TOKEN
    srv = ApiServer(ops).start()
    yield srv
    srv.stop()


def test_alertmanager_webhook_is_stored_before_202(api) -> None:
    body = am_body([am_alert({**LAT, "instance": i}) for i in ("a", "b")])
    status, out = call(f"{api.base}/alerts/alertmanager", body, token=TOKEN)
    assert status == 202 and out["received"] == 2 and out["new"] == 2
    assert api.ops.alerts.counts()["alerts"] == 2  # already there when the 202 came back
    status, out = call(f"{api.base}/alerts/alertmanager", body, token=TOKEN)
    assert out["deduped"] == 2
    status, listed = call(f"{api.base}/alerts?status=firing&labels=instance%3D%22a%22", token=TOKEN)
    assert status == 200 and listed["count"] == 1 and listed["alerts"][0]["labels"]["instance"] == "a"
    assert listed["alerts"][0]["starts_at"].endswith("Z")


def test_auth_size_and_bad_payloads_change_nothing(api) -> None:
    url = f"{api.base}/alerts/alertmanager"
    good = am_body([am_alert(LAT)])
    before = api.ops.alerts.counts()
    assert call(url, good)[0] == 401
    assert call(url, good, token="wrong")[0] == 401
    assert call(url, good, headers={"X-Opsnb-Signature": "sha256=00"})[0] == 401
    status, out = call(url, raw=b"{not json", token=TOKEN)
    assert status == 400 and "not JSON" in out["error"]["message"]
    status, out = call(url, {**good, "version": "3"}, token=TOKEN)
    assert status == 400 and "version" in out["error"]["message"] and out["error"]["code"] == "invalid"
    status, out = call(url, am_body([am_alert({"alertname": "x", "bad-label": "v"})]), token=TOKEN)
    assert status == 400 and "alerts[0].labels" in out["error"]["message"]
    status, out = call(url, am_body([am_alert({"alertname": "x\u0000y"})]), token=TOKEN)
    assert status == 400 and "NUL" in out["error"]["message"]
    from tests.alerts.apiserver import headers_only

    # refused on the headers, before a byte of the body is read (no buffering of what will be refused)
    assert headers_only(url, content_length=90 * 1024 * 1024, token=TOKEN) == 413
    assert headers_only(url, content_length=500) == 401  # no token: refused before the body too
    assert headers_only(url, content_length=10, token="wrong") == 401
    assert call(f"{api.base}/alerts/events", {"event_action": "trigger"}, token=TOKEN)[0] == 400
    assert call(f"{api.base}/alerts/slo", {"slo": "x"}, token=TOKEN)[0] == 400
    assert call(f"{api.base}/alerts?since=the-day-before", token=TOKEN)[0] == 400
    assert call(f"{api.base}/alerts?status=angry", token=TOKEN)[0] == 400
    assert api.ops.alerts.counts() == before


def test_sender_signature_is_accepted_once(api, tmp_path: Path) -> None:
    secret = tmp_path / "am.secret"
    secret.write_text("am-shared-secret\n")
    api.ops.access.tokens.add_sender("alertmanager", secret_ref=f"file:{secret}")
    raw = json.dumps(am_body([am_alert(LAT)])).encode()
    ts = str(int(time.time()))
    sig = hmac.new(b"am-shared-secret", ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    headers = {"X-Opsnb-Sender": "alertmanager", "X-Opsnb-Timestamp": ts, "X-Opsnb-Delivery": "d-1",
               "X-Opsnb-Signature": f"sha256={sig}"}
    status, _ = call(f"{api.base}/alerts/alertmanager", raw=raw, headers=headers)
    assert status == 202
    status, out = call(f"{api.base}/alerts/alertmanager", raw=raw, headers=headers)
    assert status == 401 and "seen before" in out["error"]["message"]


def test_events_api_answers_like_events_v2(api) -> None:
    url = f"{api.base}/alerts/events"
    status, out = call(url, event("trigger", dedup_key=None), token=TOKEN)
    assert status == 202 and out["status"] == "success" and len(out["dedup_key"]) == 32
    status, out = call(url, event("resolve", dedup_key="unknown"), token=TOKEN)
    assert status == 202 and "nothing changed" in out["message"]
    status, out = call(url, [event("trigger", dedup_key="k1"), event("acknowledge", dedup_key="k1")], token=TOKEN)
    assert status == 202 and out["dedup_keys"] == ["k1", "k1"]
    assert api.ops.alerts.get("k1").status == "acknowledged"
    status, out = call(f"{api.base}/alerts/slo", {"slo": "checkout-availability", "tier": "page",
                                                  "burn_rate": 14.4, "window": "1h/5m", "firing": True}, token=TOKEN)
    assert status == 202 and api.ops.alerts.get(out["fingerprint"]).labels["tier"] == "page"


def test_incidents_api(api) -> None:
    base = f"{api.base}/incidents"
    status, inc = call(base, {"title": "Checkout 5xx", "service": "checkout", "severity": "SEV2",
                              "impact_start": "2025-03-03T12:00:00Z"}, token=TOKEN)
    assert status == 201 and inc["id"] == "INC-1" and inc["status"] == "triggered"
    assert call(f"{base}/INC-1/notes", {"text": "looking at deploy d-9"}, token=TOKEN)[0] == 201
    status, inc = call(f"{base}/INC-1", {"status": "acknowledged", "commander": "alice"}, token=TOKEN,
                       method="PATCH")
    assert status == 200 and inc["status"] == "acknowledged"
    status, got = call(f"{base}/INC-1", token=TOKEN)
    assert [e["kind"] for e in got["timeline"]][:1] == ["created"] and "note" in [e["kind"] for e in got["timeline"]]
    status, listed = call(f"{base}?status=open", token=TOKEN)
    assert listed["count"] == 1
    assert call(f"{base}/INC-9", token=TOKEN)[0] == 404
    assert call(f"{base}/INC-1", {"status": "closed"}, token=TOKEN, method="PATCH")[0] == 409
    assert call(base, {"title": "x", "service": "y", "evil": 1}, token=TOKEN)[0] == 400
    assert call(base, {"title": "x", "service": "y", "impact_start": "2025-03-03 at noon"}, token=TOKEN)[0] == 400
    assert call(f"{base}/INC-1/notes", {"text": ""}, token=TOKEN)[0] == 400
    assert call(base, {"title": "x", "service": "y"})[0] == 401
    assert len(api.ops.incidents.list()) == 1


def test_incident_api_needs_the_role(api) -> None:
    api.ops.access.grant("vic", "viewer")
    api.ops.user = "vic"
    status, out = call(f"{api.base}/incidents", {"title": "x", "service": "y"}, token=TOKEN)
    assert status == 403 and out["error"]["code"] == "role"


def test_server_ticker_flushes_groups(api) -> None:
    api.ops.alerts.policy = type(api.ops.alerts.policy)(group_by=("alertname",),
                                                        group_wait=timedelta(seconds=0.5))
    call(f"{api.base}/alerts/alertmanager", am_body([am_alert(LAT)]), token=TOKEN)
    deadline = time.time() + 10
    while time.time() < deadline and api.ops.alerts.counts()["notifications"] == 0:
        time.sleep(0.2)
    assert api.ops.alerts.counts()["notifications"] == 1


# ------------------------------------------------------------------ the real Jupyter server


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            if call(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def jupyter_api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        need_program("jupyter")
    port = free_port()
    ws = tmp_path / "ws"
    env = {**os.environ, "OPSNB_WORKSPACE": str(ws), "OPSNB_API_TOKEN": TOKEN, "OPSNB_USER": "tester"}
    proc = subprocess.Popen(
        [str(jupyter), "server", "--ServerApp.jpserver_extensions=opsnb.web=True", f"--port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--ServerApp.token=jupyter-token",
         "--ServerApp.open_browser=False", "--allow-root", f"--ServerApp.root_dir={tmp_path}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/opsnb/api/v1"
    try:
        _wait_http(f"{base}/health", proc)
        yield base, ws
    finally:
        stop_process(proc, 15)
        if proc.stderr:
            proc.stderr.close()


def test_through_the_real_jupyter_server(jupyter_api) -> None:
    base, ws = jupyter_api
    body = am_body([am_alert({**LAT, "instance": "web-1"})])
    status, out = call(f"{base}/alerts/alertmanager", body, token=TOKEN)
    assert status == 202 and out["new"] == 1
    assert call(f"{base}/alerts/alertmanager", body, token="nope")[0] == 401
    assert call(f"{base}/alerts/alertmanager", raw=b"[1,", token=TOKEN)[0] == 400
    status, listed = call(f"{base}/alerts", token=TOKEN)
    assert listed["count"] == 1 and listed["alerts"][0]["labels"]["instance"] == "web-1"
    from opsnb.workbench import connect

    with connect(ws) as ops:
        assert ops.alerts.counts()["receipts"] == 1


# ------------------------------------------------------------------ the real Alertmanager


@pytest.mark.alertmanager
def test_real_alertmanager_posts_to_opsnb(ops, tmp_path: Path) -> None:
    am = need_program("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
    ops.settings._values["api_token"] = TOKEN
    srv = ApiServer(ops).start()
    am_port = free_port()
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(json.dumps({  # YAML is a superset of JSON
        "route": {"receiver": "opsnb", "group_by": ["service", "alertname"], "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "opsnb", "webhook_configs": [{
            "url": f"{srv.base}/alerts/alertmanager", "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}}}]}],
    }))
    proc = subprocess.Popen([am, f"--config.file={cfg}", f"--storage.path={tmp_path / 'am-data'}",
                             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    am_url = f"http://127.0.0.1:{am_port}"
    try:
        _wait_http(f"{am_url}/-/ready", proc, timeout=30)
        now = datetime.now(UTC)
        alerts = [{"labels": {**LAT, "instance": i}, "annotations": {"summary": f"slow {i}"},
                   "startsAt": now.isoformat().replace("+00:00", "Z"), "generatorURL": "http://prom/graph"}
                  for i in ("web-1", "web-2")]
        for _ in range(3):  # Prometheus re-sends every evaluation; opsnb must keep one record each
            assert call(f"{am_url}/api/v2/alerts", alerts)[0] == 200
        _until(lambda: ops.alerts.counts()["alerts"] == 2, "both alerts stored")
        df = ops.alerts.list()
        assert sorted(df["fingerprint"]) == sorted(fingerprint(a["labels"]) for a in alerts)  # AM's fingerprint
        assert set(df["group_key"]) == {'{alertname="HighLatency", service="checkout"}'}
        raw = json.loads(ops.alerts.receipts()["body"].iloc[-1])
        assert raw["version"] == "4" and raw["receiver"] == "opsnb"
        from opsnb.alerts.grouping import group_key

        # the same label set written the same way as Alertmanager's own key (after its route prefix)
        assert raw["groupKey"].split(":", 1)[1] == group_key(alerts[0]["labels"], ["service", "alertname"])
        ended = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        assert call(f"{am_url}/api/v2/alerts", [{**a, "endsAt": ended} for a in alerts])[0] == 200
        _until(lambda: set(ops.alerts.list()["status"]) == {"resolved"}, "resolution delivered")
        assert ops.alerts.counts()["alerts"] == 2
    finally:
        proc.terminate()
        proc.wait(10)
        srv.stop()


def _until(cond, what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
