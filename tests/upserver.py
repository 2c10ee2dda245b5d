"""One way for tests to run ``opsnb up`` for real and open its pages in Debian's chromium.

Used by the browser tests (tests/faces, tests/dashboards, tests/reliability): start the command as a
person does, read the URLs it prints, stop it with SIGTERM as a service manager would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@dataclass
class Up:
    """A running ``opsnb up``: its printed URLs and the process."""

    proc: subprocess.Popen[str]
    lines: list[str]
    workspace: Path
    output: str = ""
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def token(self) -> str:
        return self.urls["JupyterLab"].split("token=")[1]

    @property
    def base(self) -> str:
        return self.urls["JupyterLab"].split("/lab")[0]

    @property
    def share(self) -> str:
        return self.urls["Share"]

    @property
    def share_token(self) -> str:
        return self.share.split("token=")[1]

    @property
    def dash_base(self) -> str:
        return self.share.split("/dashboards")[0]

    def dashboard(self, name: str, query: str = "") -> str:
        """The share URL of one dashboard (``query`` without its ``?``)."""
        return f"{self.dash_base}/dashboards/{name}?token={self.share_token}" + (f"&{query}" if query else "")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """SIGTERM a server the test started, then SIGKILL it if it has not gone within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_up(workspace: Path, *args: str, timeout: float = 120) -> Up:
    """Run ``opsnb -w WS up --port <free> --no-browser ARGS`` and wait for "Press Ctrl-C"."""
    from opsnb.web.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opsnb", "-w", str(workspace), "up", "--port", str(port),
                             "--no-browser", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ))
    assert proc.stdout is not None
    up = Up(proc=proc, lines=[], workspace=workspace)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            proc.wait(10)
            pytest.fail(f"opsnb up exited ({proc.returncode}):\n" + "".join(up.lines))
        up.lines.append(line)
        parts = line.split()
        if len(parts) >= 2 and parts[-1].startswith("http"):
            up.urls[" ".join(parts[:-1])] = parts[-1]
        if line.startswith("Press Ctrl-C"):
            return up
    stop_up(up)
    pytest.fail("opsnb up did not come up:\n" + "".join(up.lines))
    raise AssertionError


def stop_up(up: Up, sig: int = signal.SIGTERM) -> str:
    """Stop it (SIGTERM by default); return everything it printed. Fails if it does not stop in 20 s."""
    up.proc.send_signal(sig)
    try:
        rest, _ = up.proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        up.proc.kill()
        up.proc.communicate()
        pytest.fail("opsnb up did not stop within 20 s")
    up.output = "".join(up.lines) + (rest or "")
    return up.output


@contextmanager
def running_up(workspace: Path, *args: str) -> Iterator[Up]:
    """``opsnb up`` for the block's duration."""
    up = start_up(workspace, *args)
    try:
        yield up
    finally:
        if up.proc.poll() is None:
            stop_up(up)


def need_chromium() -> None:
    """Skip (or fail under OPSNB_REQUIRE_ALL) when Debian's chromium is not installed."""
    from tests.conftest import skip_missing

    if not os.access(CHROMIUM, os.X_OK):
        skip_missing("chromium (apt-get install chromium)")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium (Playwright) that reaches only the loopback address."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def local_page(browser: Any, *, width: int = 1280, height: int = 1600) -> Any:
    """A page whose requests beyond 127.0.0.1 are aborted (Voila's pages link a CDN; tests never leave)."""
    page = browser.new_page(viewport={"width": width, "height": height})

    def only_local(route: Any) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_local)
    return page


def overflow(page: Any) -> list[str]:
    """Elements wider than the viewport (what makes a phone scroll sideways), as short descriptions."""
    found: list[str] = page.evaluate("""() => {
        const w = document.documentElement.clientWidth, out = [];
        if (document.documentElement.scrollWidth > w + 1) out.push('document ' + document.documentElement.scrollWidth);
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.right > w + 1 && getComputedStyle(el).position !== 'fixed') {
                let p = el.parentElement, clipped = false;
                while (p) { const o = getComputedStyle(p).overflowX;
                            if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
                            p = p.parentElement; }
                if (!clipped) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
            }
        }
        return out.slice(0, 10);
    }""")
    return found
