"""Drafting through the HTTP API of a real Jupyter server (as under ``opsnb up``).

The API runs a handler in a worker thread with a copy of the server's context, where jupyter_core's
event loop is the server's own: every kernel start or drive from there failed with "This event loop
is already running" until drafts ran in threads of their own. A server keeps a warm kernel for the
next draft, which must then be kept from competing with the running one.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.alerts.apiserver import free_port
from tests.conftest import need_program
from tests.upserver import stop_process

TOKEN = "pm-api-test-token-0123456789"


def _call(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 240) -> tuple[int, dict]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, f"/opsnb/api/v1{path}", body=body,
                  headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        c.close()


def test_the_api_drafts_and_redrafts_in_a_real_server(demo_workspace: Path, tmp_path: Path) -> None:
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        need_program("jupyter")
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)
    port = free_port()
    env = {**os.environ, "OPSNB_WORKSPACE": str(ws), "OPSNB_API_TOKEN": TOKEN, "OPSNB_USER": "carol",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jc"), "JUPYTER_DATA_DIR": str(tmp_path / "jd"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jr"), "OPSNB_API_REQUEST_TIMEOUT_SECONDS": "240"}
    proc = subprocess.Popen(
        [str(jupyter), "server", "--ServerApp.jpserver_extensions=opsnb.web=True", f"--port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--ServerApp.token=jupyter-token",
         "--ServerApp.open_browser=False", "--allow-root", f"--ServerApp.root_dir={tmp_path}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"server exited with {proc.returncode}"
            try:
                if _call(port, "GET", "/health", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the API did not come up"
            time.sleep(0.3)
        status, first = _call(port, "POST", "/incidents/INC-1/postmortem", b"{}")
        assert status == 201, first
        status, again = _call(port, "POST", "/incidents/INC-1/postmortem", b"{}")
        assert status == 201, again
        assert [v["version"] for v in again["versions"]] == [1, 2]
        status, got = _call(port, "GET", "/incidents/INC-1/postmortem")
        assert status == 200 and got["status"] == "draft" and Path(got["path"]).is_file()
    finally:
        stop_process(proc, 20)
