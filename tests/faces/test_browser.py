"""The overview dashboard in a real browser: `opsnb up` serves it with Voila, Debian's chromium draws it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from opsnb.web.server import free_port
from tests.conftest import skip_missing

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SHOT = os.environ.get("OPSNB_SCREENSHOT_DIR")  # set it to keep the screenshot for a person to look at


@pytest.fixture
def server(demo_workspace: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opsnb", "-w", str(ws), "up", "--port", str(port), "--no-browser"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
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
    yield f"http://127.0.0.1:{port}", token
    proc.send_signal(signal.SIGTERM)  # as a service manager stops it
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("opsnb up did not stop on SIGTERM within 20 s")
    assert proc.returncode == 0 and "stopping (SIGTERM)" in out and "stopped" in out


@pytest.mark.browser
@pytest.mark.slow
def test_overview_dashboard_renders_in_chromium(server: tuple[str, str], tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        skip_missing("chromium (apt-get install chromium)")
    from playwright.sync_api import Route, sync_playwright

    base, token = server
    blocked: list[str] = []

    def only_local(route: Route) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # Voila's page links a CDN stylesheet; tests never reach the internet
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            page.route("**/*", only_local)
            # the short URL redirects to Voila's render URL
            page.goto(f"{base}/dashboards/overview?token={token}", timeout=180_000)
            assert "/voila/render/dashboards/overview.ipynb" in page.url
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=180_000)
            page.wait_for_selector("text=Recent deploys", timeout=60_000)
            text = page.inner_text("body")
            shot = tmp_path / "overview.png"
            page.screenshot(path=str(shot), full_page=True)
            if SHOT:
                shutil.copy(shot, Path(SHOT) / "overview.png")
        finally:
            browser.close()
    assert "Service overview" in text and "Service health" in text
    for svc in ("frontend", "checkout", "payments", "catalog", "search", "auth"):
        assert svc in text
    assert "errors (1h)" in text and "DEP-" in text
    assert "Traceback" not in text and "Error" not in text.replace("Error ratio", "")
    assert shot.stat().st_size > 20_000
