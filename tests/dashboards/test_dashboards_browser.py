"""Every dashboard in Chromium through `opsnb up` on a small live demo world and its share link.

One server and one browser for the module: each dashboard is opened at 1440 px (its title and
panels drawn, no traceback, no failed panel, a screenshot written), then narrowed to a 390 px
phone (nothing wider than the viewport); filters from the URL and from a widget change what is
shown; the page redraws itself with new data from the live demo without a reload.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsnb.workbench import connect
from tests.upserver import Up, chromium, local_page, need_chromium, overflow, running_up

DASHBOARDS = {"overview": "Service overview", "slos": "SLOs", "service-health": "Service health",
              "incidents": "Incidents", "oncall": "On-call", "fleet": "Fleet", "runbook-runs": "Runbook runs",
              "changes": "Changes"}
SHOTS = Path(os.environ.get("OPSNB_SCREENSHOT_DIR", "")) if os.environ.get("OPSNB_SCREENSHOT_DIR") else None

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def up(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    need_chromium()
    ws = tmp_path_factory.mktemp("dashboards") / "ws"
    shutil.copytree(demo_workspace, ws)
    os.environ["OPSNB_DEMO_LIVE_TICK"] = "3"  # the live demo ticks every 3 s here (60 s by default)
    try:
        with running_up(ws) as server:
            yield server
    finally:
        os.environ.pop("OPSNB_DEMO_LIVE_TICK", None)


@pytest.fixture(scope="module")
def browser(up: Up) -> Iterator[Any]:
    with chromium() as b:
        yield b


def _open(browser: Any, up: Up, name: str, query: str = "", width: int = 1440) -> Any:
    page = local_page(browser, width=width, height=1200)
    page.goto(up.dashboard(name, query), timeout=180_000)
    # a board shows its refresh line once drawn; the overview (plain cells) its last section
    page.wait_for_selector(".opsnb-refresh" if name != "overview" else "text=Recent deploys", timeout=180_000)
    page.wait_for_timeout(800)
    return page


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_dashboard_draws_and_fits_a_phone(up: Up, browser: Any, name: str, tmp_path: Path) -> None:
    page = _open(browser, up, name)
    try:
        text = page.inner_text("body")
        page.screenshot(path=str(tmp_path / f"{name}-1440.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(1200)  # Plotly and the widgets re-lay themselves out
        wide = overflow(page)
        page.screenshot(path=str(tmp_path / f"{name}-390.png"), full_page=True)
    finally:
        page.close()
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for f in tmp_path.glob("*.png"):
            shutil.copy(f, SHOTS / f.name)
    assert DASHBOARDS[name] in text
    assert "Traceback" not in text and "is unavailable:" not in text, text[:2000]
    assert wide == [], f"{name}: wider than a 390 px phone: {wide}"
    assert (tmp_path / f"{name}-1440.png").stat().st_size > 10_000


def test_url_parameters_and_widgets_filter(up: Up, browser: Any) -> None:
    page = _open(browser, up, "changes", "service=checkout&hours=168")
    try:
        running = page.inner_text("body").split("Running now")[1].split("Deploys per service")[0]
        assert "checkout" in running and "frontend" not in running
        assert "last 7 d" in page.inner_text(".opsnb-header")
        # the service dropdown: pick "all" and the other services come back without a reload
        page.select_option("select >> nth=1", label="all")
        page.wait_for_function("document.body.innerText.split('Running now')[1].includes('frontend')",
                               timeout=60_000)
        assert "/voila/render/changes.ipynb" in page.url
    finally:
        page.close()
    page = _open(browser, up, "incidents", "incident=INC-2")
    try:
        assert "db-2 disk full" in page.inner_text("body")
    finally:
        page.close()


def test_the_page_refreshes_itself_with_new_data_from_the_live_demo(up: Up, browser: Any) -> None:
    with connect(up.workspace) as ops:
        before = ops.logs.last_seen()
    page = _open(browser, up, "service-health", "refresh=5&hours=1")
    try:
        page.evaluate("window.__opsnb_marker = 1")  # gone if the page reloads
        first = page.get_attribute(".opsnb-refresh", "data-round")
        stamp = page.inner_text(".opsnb-updated")
        page.wait_for_function(f"document.querySelector('.opsnb-refresh').dataset.round !== '{first}'",
                               timeout=60_000)
        assert page.evaluate("window.__opsnb_marker") == 1
        assert page.inner_text(".opsnb-updated") != stamp
        assert "refreshes every 5 s" in page.inner_text(".opsnb-refresh")
    finally:
        page.close()
    deadline = time.monotonic() + 60  # a small world logs a few lines a minute: wait for the next one
    with connect(up.workspace) as ops:
        after = ops.logs.last_seen()
        while after == before and time.monotonic() < deadline:
            time.sleep(2)
            after = ops.logs.last_seen()
    assert before is not None and after is not None and after > before  # the demo world moved
