"""Dashboards: navigation to the first chart drawn, cold and preheated, beside a one-cell notebook.

``opsnb up`` runs on a small demo world with a copy of ``dashboards/`` plus a one-cell notebook
drawing one Plotly figure (Voila's floor on this server: kernel start, the page, Plotly). Each
figure is the time from ``page.goto`` to the first ``.js-plotly-plot .main-svg`` in headless
Chromium, the median of a few navigations (in rounds over all pages), each with a fresh page; ``/ one-cell`` is the ratio to
the one-cell notebook in the same mode on the same server. "Cold" has no preheat pool (a kernel
starts per page); "preheated" runs ``opsnb up --preheat 1`` and waits for the pool first.

Also: the memory of one dashboard kernel with its page open (PSS, so shared libraries count once
per machine, not per kernel; RSS beside it), the whole preheat pool's, the seconds a kernel's
warm-up takes (:func:`opsnb.web.share.warm_kernel`, which preheated kernels do before their page
asks), and one live-demo tick (:meth:`opsnb.demo.live.Live.step` over one minute). The load
average (``uptime``) before and after is part of the output: the machine is shared.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ONE_CELL = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                       "source": "import plotly.graph_objects as go, plotly.io as pio\n"
                                 "pio.renderers.default = 'plotly_mimetype'\ngo.Figure(go.Scatter(y=[1, 3, 2]))"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}
NAMES = ("one-cell", "slos", "service-health", "overview", "incidents", "changes")
"""Every dashboard that draws a chart on the benchmark's demo (on-call, runbook runs and postmortems show
tables and text; fleet draws its charts from gathered facts, which the demo world has none of)."""
CHART = ".js-plotly-plot .main-svg"


def _load() -> float:
    return os.getloadavg()[0]


def _open(browser: Any, url: str) -> tuple[Any, float]:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
    t0 = time.perf_counter()
    page.goto(url, timeout=180_000)
    page.wait_for_selector(CHART, timeout=90_000)
    return page, time.perf_counter() - t0


FAILED: list[str] = []
"""Navigations that showed no chart in time: counted and described on stderr, not hidden in a median."""


def _first_chart(browser: Any, url: str) -> float | None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page, took = _open(browser, url)
    except PlaywrightTimeout:
        FAILED.append(url.split("?")[0])
        pages = browser.contexts[-1].pages if browser.contexts else []
        for page in pages:
            print(f"no chart on {page.url.split('?')[0]}: {page.inner_text('body')[:500]!r}", file=sys.stderr)
            page.close(run_before_unload=True)
        return None
    page.close(run_before_unload=True)  # as a tab closes: Voila's beacon shuts its kernel down
    time.sleep(1)
    return took


def _kernel_mb(up: Any) -> list[tuple[float, float]]:
    """(PSS, RSS) in MB of every dashboard kernel of the server."""
    import psutil

    out = []
    for child in psutil.Process(up.proc.pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                info = child.memory_full_info()
                out.append((getattr(info, "pss", info.rss) / 2**20, info.rss / 2**20))
        except (psutil.Error, OSError):
            continue
    return out


def _warm_seconds(ws: Path) -> dict[str, float]:
    code = "import json\nfrom opsnb.web.share import warm_kernel\nprint(json.dumps(warm_kernel()))"
    env = {**os.environ, "VOILA_PREHEAT": "True", "OPSNB_WORKSPACE": str(ws)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    return dict(json.loads(done.stdout.strip().splitlines()[-1])) if done.returncode == 0 else {}


def _tick_seconds(ws: Path, n: int) -> tuple[float, float]:
    """Median seconds and rows of one live tick over one minute of the demo world."""
    from opsnb.demo.live import for_workspace
    from opsnb.workbench import connect

    with connect(ws) as ops:
        live = for_workspace(ops, tick=60)
        assert live is not None
        took, rows = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            wrote = live.step(live.last + timedelta(minutes=1))
            took.append(time.perf_counter() - t0)
            rows.append(sum(v for k, v in wrote.items() if k != "happenings"))
        live.stop()
    return statistics.median(took), statistics.median(rows)


def run(quick: bool) -> list[tuple[str, float, str]]:
    from opsnb.demo.generate import build
    from tests.upserver import chromium, start_up, stop_up

    n = 2 if quick else 3
    out: list[tuple[str, float, str]] = [("load average (1 min) at start", _load(), "")]
    with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
        ws, root = Path(tmp) / "ws", Path(tmp) / "root"
        build(ws, days=2, seed=7, scale=0.2)
        shutil.copytree(REPO / "dashboards", root / "dashboards")
        (root / "dashboards" / "one-cell.ipynb").write_text(json.dumps(ONE_CELL))
        for step, secs in _warm_seconds(ws).items():
            out.append((f"kernel warm-up: {step}", secs, "s"))
        with chromium() as browser:
            for mode, args in (("cold", ()), ("preheated", ("--preheat", "1"))):
                up = start_up(ws, "--no-live", "--root-dir", str(root), *args)
                try:
                    if args:  # the pool renders every dashboard once first
                        deadline = time.monotonic() + (90 if quick else 150)
                        pools = sum(1 for _ in (root / "dashboards").glob("*.ipynb"))
                        while len(_kernel_mb(up)) < pools and time.monotonic() < deadline:
                            time.sleep(2)
                        time.sleep(10)  # and has run each one's first cells
                        sizes = _kernel_mb(up)
                        out.append(("preheat pool: kernels", len(sizes), ""))
                        out.append(("preheat pool: memory, all kernels (PSS)", sum(p for p, _ in sizes), "MB"))
                    times: dict[str, list[float]] = {name: [] for name in NAMES}
                    for _ in range(n):  # round after round, so a change in the machine's load hits every page
                        for name in NAMES:
                            took = _first_chart(browser, up.dashboard(name))
                            if took is not None:
                                times[name].append(took)
                            if args:
                                time.sleep(3)  # Voila refills the pool a moment after a kernel is taken
                    for name in NAMES:
                        if times[name]:
                            out.append((f"first chart, {name}, {mode}", statistics.median(times[name]), "s"))
                    out.append((f"navigations without a chart in time, {mode}", len(FAILED), ""))
                    FAILED.clear()
                    if not args:  # one dashboard open: its kernel's memory
                        before = {round(p, 3) for p, _ in _kernel_mb(up)}
                        page, _took = _open(browser, up.dashboard("slos"))
                        time.sleep(2)
                        mine = [s for s in _kernel_mb(up) if round(s[0], 3) not in before] or _kernel_mb(up)
                        out.append(("memory per open dashboard kernel (slos, PSS)", mine[-1][0], "MB"))
                        out.append(("memory per open dashboard kernel (slos, RSS)", mine[-1][1], "MB"))
                        page.close(run_before_unload=True)
                finally:
                    stop_up(up)
        secs, rows = _tick_seconds(ws, 3 if quick else 5)
        out.append(("live demo tick (one minute)", secs, "s"))
        out.append(("live demo tick rows (one minute)", rows, "rows"))
    base = {mode: v for f, v, _ in out for mode in ("cold", "preheated") if f == f"first chart, one-cell, {mode}"}
    for f, v, _ in list(out):
        for mode in ("cold", "preheated"):
            if f.startswith("first chart") and f.endswith(mode) and "one-cell" not in f and mode in base:
                out.append((f"{f} / one-cell", v / base[mode], "x"))
    out.append(("load average (1 min) at end", _load(), ""))
    return out


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(*row)
