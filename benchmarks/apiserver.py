"""A real Jupyter server with the opsnb extension on a free port, for the HTTP benchmarks (alerts, deploys, API)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api_server(ws: Path, env: dict[str, str], timeout: float = 90.0) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``jupyter server`` on workspace ``ws`` with extra ``env``; return it and its port once /health answers."""
    port = free_port()
    full = {**os.environ, "OPSNB_WORKSPACE": str(ws), "OPSNB_USER": "bench",
            "JUPYTER_CONFIG_DIR": str(ws.parent / "jcfg"), "JUPYTER_DATA_DIR": str(ws.parent / "jdata"),
            "JUPYTER_RUNTIME_DIR": str(ws.parent / "jrun"), **env}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "server", "--ServerApp.jpserver_extensions=opsnb.web=True",
         f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--ServerApp.token=j",
         "--ServerApp.open_browser=False", "--allow-root", f"--ServerApp.root_dir={ws.parent}",
         "--ServerApp.log_level=WARN"],
        env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/opsnb/api/v1/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("jupyter server did not start")
