"""Data is text: script payloads in ingested log fields and incident titles never run in a stakeholder's
browser. (Issue: a service name ``<img src=x onerror=...>`` from the logs ran as script in the overview
dashboard, on the same origin as Jupyter's contents and kernels APIs.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest

from opsnb.web.server import free_port
from opsnb.workbench import connect
from tests.conftest import skip_missing

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
PAYLOADS = ['<img src=x onerror="window.__opsnb_xss=(window.__opsnb_xss||0)+1">',
            "<script>window.__opsnb_xss=(window.__opsnb_xss||0)+1</script>",
            '"><svg onload="window.__opsnb_xss=(window.__opsnb_xss||0)+1">']


def hostile_workspace(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest)
    now = datetime.now(UTC)
    lines = []
    for i in range(300):
        p = PAYLOADS[i % len(PAYLOADS)]
        lines.append(json.dumps({"timestamp": (now - timedelta(seconds=300 - i)).isoformat(), "service": p,
                                 "host": p, "level": "error" if i % 3 == 0 else "info", "status": 500 if i % 3 == 0
                                 else 200, "message": f"request failed {p}", "duration_ms": 12.5}))
    f = dest / "hostile.jsonl"
    f.write_text("\n".join(lines) + "\n")
    with connect(dest) as ops:
        ops.logs.ingest(f, format="jsonl")
        for p in PAYLOADS:
            ops.incidents.create(title=f"checkout down {p}", service=p, severity="SEV2")


@pytest.mark.browser
@pytest.mark.slow
def test_no_payload_runs_in_the_overview(demo_workspace: Path, tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        skip_missing("chromium (apt-get install chromium)")
    from playwright.sync_api import Route, sync_playwright

    ws = tmp_path / "ws"
    hostile_workspace(demo_workspace, ws)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opsnb", "-w", str(ws), "up", "--port", str(port), "--no-browser"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                pytest.fail("opsnb up exited:\n" + "".join(lines))
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        token = next(ln.split("token=")[1].strip() for ln in lines if "JupyterLab" in ln)

        def only_local(route: Route) -> None:
            if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                route.abort()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1800})
                page.route("**/*", only_local)
                page.goto(f"http://127.0.0.1:{port}/dashboards/overview?token={token}", timeout=180_000)
                page.wait_for_selector("text=Recent deploys", timeout=180_000)
                page.wait_for_timeout(1500)  # let any onerror/onload fire
                fired = page.evaluate("window.__opsnb_xss || 0")
                text = page.inner_text("body")
            finally:
                browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert fired == 0, f"{fired} injected payload(s) ran as script"
    assert "<img src=x" in text or "onerror" in text  # shown as text, not dropped
    assert str(ws) not in text  # the page names no server path
