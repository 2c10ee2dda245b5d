"""Dashboard kernels: warmed at start, capped, and culled when idle, in a real dashboards server.

Timings are the benchmark's (benchmarks/bench_dashboards.py); these tests check the mechanisms:
a kernel's warm-up does the first-use imports before a page asks, the server refuses a page
beyond its cap of live kernels with 503 and makes room from a closed tab's kernel, and an idle
kernel whose page went away without saying so is culled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.upserver import REPO, chromium, local_page, stop_process

pytestmark = [pytest.mark.slow]

ONE_CELL = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                       "source": "import sys, threading\nfrom IPython.display import HTML\n"
                                 "for t in threading.enumerate():\n"
                                 "    if t.name == 'opsnb-warm':\n        t.join(120)\n"
                                 "HTML(f'<p class=\"ready\" data-warm=\"{int(\"opsnb.slo.service\" in sys.modules)}\">ready</p>')"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_a_warmed_kernel_has_done_the_first_use_imports(demo_workspace: Path) -> None:
    code = ("import sys, json\nfrom opsnb.web.share import warm_kernel\nsteps = warm_kernel()\n"
            "print(json.dumps({'steps': steps, 'mods': [m for m in ('pandas', 'opsnb.slo.service', "
            "'opsnb.incidents.models', 'nbformat', 'duckdb') if m in sys.modules]}))")
    env = {**os.environ, "VOILA_PREHEAT": "True", "OPSNB_WORKSPACE": str(demo_workspace)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(got["steps"]) == {"imports", "opsnb"}
    assert got["mods"] == ["pandas", "opsnb.slo.service", "opsnb.incidents.models", "nbformat", "duckdb"]


def _kernels(proc: subprocess.Popen[bytes]) -> int:
    import psutil

    out = 0
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            out += "ipykernel" in " ".join(child.cmdline())
        except psutil.Error:
            continue
    return out


@contextmanager
def dashboards_server(ws: Path, root: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The dashboards server alone (as opsnb up starts it), with a share token; yields (link base, process)."""
    from opsnb.web import share
    from opsnb.web.server import free_port
    from opsnb.workbench import connect

    with connect(ws) as ops:
        token = share.create(ops, expires="1h", reason="test", _session_link=True).token
    port = free_port()
    env = share.kernel_env(dict(os.environ), ws)
    env["JUPYTER_PATH"] = str(share.template_dir())
    proc = subprocess.Popen([sys.executable, "-m", "opsnb.web.share", "--port", str(port), "--root", str(root),
                             "--workspace", str(ws), *args], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/voila/static/opsnb.js", timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        yield f"{base}/voila/render/%s?token={token}", proc
    finally:
        stop_process(proc, 20)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _until(pred: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.5)
    return bool(pred())


def test_the_kernel_cap_refuses_a_page_and_a_closed_tab_makes_room(demo_workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for name in ("a", "b"):
        (root / f"{name}.ipynb").write_text(json.dumps(ONE_CELL))
    with dashboards_server(demo_workspace, root, "--max-kernels", "1", "--cull-idle", "600") as (link, proc), \
            chromium() as browser:
        first = local_page(browser)
        first.goto(link % "a.ipynb", timeout=120_000)
        first.wait_for_selector(".ready", timeout=120_000)
        assert first.get_attribute(".ready", "data-warm") == "1"  # the kernel's startup file warmed it
        assert _kernels(proc) == 1
        # the one kernel has a page connected to it: one more page is refused, not an OOM later
        assert _status(link % "b.ipynb") == 503
        assert _kernels(proc) == 1
        first.close(run_before_unload=False)  # a tab gone without Voila's shutdown beacon: the kernel lingers
        assert _until(lambda: _status(link % "b.ipynb") == 200, 30)  # the lingering one made room
        assert _until(lambda: _kernels(proc) <= 1, 20)


def test_an_idle_kernel_is_culled(demo_workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.ipynb").write_text(json.dumps(ONE_CELL))
    with dashboards_server(demo_workspace, root, "--cull-idle", "4") as (link, proc):
        assert _status(link % "a.ipynb") == 200  # rendered, and nobody connects to its kernel
        assert _kernels(proc) == 1
        assert _until(lambda: _kernels(proc) == 0, 30)


BUSY = {**ONE_CELL, "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                               "source": "import asyncio, ipywidgets\nfrom IPython.display import display\n"
                                         "w = ipywidgets.HTML('<p class=\"ready\" data-n=\"0\">ready</p>')\n"
                                         "display(w)\n"
                                         "async def tick():\n    n = 0\n    while True:\n"
                                         "        await asyncio.sleep(0.5)\n        n += 1\n"
                                         "        w.value = f'<p class=\"ready\" data-n=\"{n}\">ready</p>'\n"
                                         "asyncio.get_event_loop().create_task(tick())\n"}]}


def test_a_redrawing_kernel_whose_page_went_away_is_shut_down(demo_workspace: Path, tmp_path: Path) -> None:
    """A board redraws every round, so its kernel is never idle: idle culling alone kept it forever."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.ipynb").write_text(json.dumps(BUSY))
    with dashboards_server(demo_workspace, root, "--cull-idle", "600", "--orphan-after", "3") as (link, proc), \
            chromium() as browser:
        page = local_page(browser)
        page.goto(link % "a.ipynb", timeout=120_000)
        page.wait_for_function("Number(document.querySelector('.ready')?.dataset.n) > 0", timeout=120_000)
        time.sleep(6)  # past the grace: a page still connected keeps its kernel
        assert _kernels(proc) == 1
        page.close(run_before_unload=False)  # gone without Voila's shutdown beacon
        assert _until(lambda: _kernels(proc) == 0, 30)


def _board_nb(source: str) -> dict[str, Any]:
    return {**ONE_CELL, "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                                   "outputs": [], "source": source}]}


SLOW_BOARD = ("import time\nimport pandas as pd\nimport opsnb.widgets as w\n"
              "board = w.Board('Slow', None, refresh=0)\n"
              "board.panel('first', lambda p: (time.sleep(6), '<p>slept</p>')[1])\n"
              "board.table('rows', lambda p: pd.DataFrame({f'c{j}': [f'r{i}c{j}' for i in range(30)] for j in range(6)}),"
              " page_size=30)\n"
              "board.show()\n")


def test_a_board_busy_when_its_page_connects_still_draws(demo_workspace: Path, tmp_path: Path) -> None:
    """The page's widget manager gives the kernel 4 s to send every widget's state, then falls back to a
    path that lost the widgets made meanwhile: a board whose first panel took longer stayed "Loading
    widget..." for good (the changes dashboard on a busy machine), and updates sent while the page was
    building its widgets were dropped (an empty header). The board now draws once the page says it is
    ready."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "slow.ipynb").write_text(json.dumps(_board_nb(SLOW_BOARD)))
    with dashboards_server(demo_workspace, root, "--no-warm") as (link, _proc), chromium() as browser:
        page = local_page(browser)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if "model not found" in m.text else None)
        page.goto(link % "slow.ipynb", timeout=120_000)
        page.wait_for_selector(".opsnb-refresh:not(.opsnb-updating)", timeout=90_000)
        body = page.inner_text("body")
        header = page.inner_text(".opsnb-header", timeout=5_000)  # an update sent too early was dropped
        page.close()
    assert "slept" in body and "r29c5" in body and "Slow" in header
    assert errors == []
