"""Dashboards: navigation to the first chart drawn, cold and preheated, beside a one-cell notebook.

``opsnb up`` runs on a small demo world with a copy of ``dashboards/`` plus a one-cell notebook
drawing one Plotly figure (Voila's floor on this server: kernel start, the page, Plotly). Each
figure is the time from ``page.goto`` to the first ``.js-plotly-plot .main-svg`` in headless
Chromium, the median of a few navigations, each with a fresh page. "Cold" has no preheat pool
(a kernel starts per page); "preheated" runs ``opsnb up --preheat 1`` and waits for the pool first.
Memory is the resident set of one dashboard kernel (PSS where the kernel reports it).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ONE_CELL = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                       "source": "import plotly.graph_objects as go, plotly.io as pio\n"
                                 "pio.renderers.default = 'plotly_mimetype'\ngo.Figure(go.Scatter(y=[1, 3, 2]))"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _first_chart(browser: Any, url: str) -> float:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
    t0 = time.perf_counter()
    page.goto(url, timeout=180_000)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=180_000)
    took = time.perf_counter() - t0
    page.close(run_before_unload=True)  # as a tab closes: Voila's beacon shuts its kernel down
    time.sleep(1)
    return took


def _kernel_mb(up: Any) -> float:
    import psutil

    root = psutil.Process(up.proc.pid)
    sizes = []
    for child in root.children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                info = child.memory_full_info()
                sizes.append(getattr(info, "pss", info.rss) / 2**20)
        except (psutil.Error, OSError):
            continue
    return statistics.median(sizes) if sizes else float("nan")


def run(quick: bool) -> list[tuple[str, float, str]]:
    import json

    from opsnb.demo.generate import build
    from tests.upserver import chromium, start_up, stop_up

    n = 2 if quick else 3
    out: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
        ws, root = Path(tmp) / "ws", Path(tmp) / "root"
        build(ws, days=2, seed=7, scale=0.2)
        shutil.copytree(REPO / "dashboards", root / "dashboards")
        (root / "dashboards" / "one-cell.ipynb").write_text(json.dumps(ONE_CELL))
        with chromium() as browser:
            for mode, args in (("cold", ()), ("preheated", ("--preheat", "1"))):
                up = start_up(ws, "--no-live", "--root-dir", str(root), *args)
                try:
                    if args:
                        time.sleep(25 if quick else 45)  # the pool renders every dashboard once first
                    for name in ("one-cell", "slos", "service-health"):
                        times = []
                        for _ in range(n):
                            times.append(_first_chart(browser, up.dashboard(name)))
                            if args:
                                time.sleep(3)  # Voila refills the pool a moment after a kernel is taken
                        out.append((f"first chart, {name}, {mode}", statistics.median(times), "s"))
                    if not args:
                        out.append(("memory per dashboard kernel", _kernel_mb(up), "MB"))
                finally:
                    stop_up(up)
    base = {mode: next(v for f, v, _ in out if f == f"first chart, one-cell, {mode}") for mode in ("cold", "preheated")}
    for f, v, _ in list(out):
        for mode in ("cold", "preheated"):
            if f.endswith(mode) and "one-cell" not in f:
                out.append((f"{f} / one-cell", v / base[mode], "x"))
    return out


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(*row)
