"""A dashboard whose data source breaks, and script payloads in the new table and drill-down parts.

One ``opsnb up --no-live`` on a private copy of the small demo world, into which log lines whose
service name is a script payload were ingested and whose lake ``metrics`` files were overwritten
with garbage (a disk error, a half-written copy): the panel that reads them shows its error, in
one line naming no server path, while every other panel of the page draws; payloads in table
cells, drill-down buttons and the drilled panels stay text. A runbook run's output notebook is
readable on the page of a share-link viewer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsnb.workbench import connect
from tests.upserver import Up, chromium, local_page, need_chromium, running_up

PAYLOAD = '<img src=x onerror="window.__opsnb_xss=(window.__opsnb_xss||0)+1">'

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def up(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    need_chromium()
    ws = tmp_path_factory.mktemp("failing") / "ws"
    shutil.copytree(demo_workspace, ws)
    now = datetime.now(UTC)
    lines = [json.dumps({"timestamp": (now - timedelta(seconds=200 - i)).isoformat(), "service": PAYLOAD,
                         "host": "web-1", "level": "error" if i % 2 else "info", "status": 500 if i % 2 else 200,
                         "message": f"request failed {PAYLOAD}", "duration_ms": 10.0 + i}) for i in range(200)]
    (ws / "hostile.jsonl").write_text("\n".join(lines) + "\n")
    with connect(ws) as ops:
        ops.logs.ingest(ws / "hostile.jsonl", format="jsonl")
        # a real run with an output notebook (it fails: the demo's hosts are not reachable)
        ops.runbooks.run("tls-cert-expiry", dry_run=True, reason="dashboard test", wait=True)
    for f in (ws / "lake" / "metrics").rglob("*.parquet"):
        f.write_bytes(b"not a parquet file")
    with running_up(ws, "--no-live") as server:
        yield server


@pytest.fixture(scope="module")
def browser(up: Up) -> Iterator[Any]:
    with chromium() as b:
        yield b


def _open(browser: Any, up: Up, name: str, query: str) -> Any:
    page = local_page(browser, width=1440, height=1200)
    page.goto(up.dashboard(name, query), timeout=180_000)
    page.wait_for_selector(".opsnb-refresh:not(.opsnb-updating)", timeout=180_000)
    page.wait_for_timeout(800)
    return page


def test_a_failing_panel_shows_its_error_while_the_others_draw(up: Up, browser: Any) -> None:
    page = _open(browser, up, "fleet", "host=db-2&refresh=0")
    try:
        text = page.inner_text("body")
        status = page.inner_text(".opsnb-refresh")
        grid = page.locator(".opsnb-pick").all_inner_texts()
    finally:
        page.close()
    assert "Host history is unavailable:" in text and ".parquet" in text.split("Host history is unavailable:")[1]
    assert "1 panel(s) failed" in status
    assert "db-2" in grid and len(grid) == 13  # the health grid drew every server
    assert "servers" in text  # the summary cards drew too
    assert str(up.workspace) not in text and "Traceback" not in text


def test_payloads_in_tables_and_drill_downs_stay_text(up: Up, browser: Any) -> None:
    page = _open(browser, up, "service-health", "hours=1&refresh=0")
    try:
        picks = page.locator(".opsnb-pick", has_text="onerror")
        assert picks.count() >= 1
        picks.first.click()
        page.wait_for_selector(".opsnb-logwindow", timeout=60_000)
        page.wait_for_timeout(1500)  # let any onerror fire
        fired = page.evaluate("window.__opsnb_xss || 0")
        shown = page.inner_text(".opsnb-logwindow")
        body = page.inner_text("body")
    finally:
        page.close()
    assert fired == 0, f"{fired} payload(s) ran as script"
    assert "onerror" in shown and "<img" in shown  # the drilled service's name, as text
    assert "Traceback" not in body and "is unavailable" not in body


def test_a_runs_output_notebook_is_readable_on_the_page(up: Up, browser: Any) -> None:
    with connect(up.workspace) as ops:
        run = ops.runbooks.history().iloc[0]
        nb = ops.runbooks.get_run(str(run["id"])).notebook()
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    page = _open(browser, up, "runbook-runs", "refresh=0")
    try:
        runs = page.locator(".opsnb-pick").all_inner_texts()
        page.locator(".opsnb-pick", has_text=str(run["id"])).click()
        page.wait_for_selector(".opsnb-notebook", timeout=60_000)
        shown = page.inner_text(".opsnb-notebook")
        body = page.inner_text("body")
    finally:
        page.close()
    assert str(run["id"]) in runs and run["status"] in body
    assert f"output notebook {Path(run['output_path']).name}" in shown
    assert code[-1].source.strip().splitlines()[0] in shown  # the cells' sources, as text
    assert str(up.workspace) not in body  # by file name only
