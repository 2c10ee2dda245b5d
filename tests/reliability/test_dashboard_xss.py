"""Data is text: script payloads in ingested log fields and incident titles never run in a stakeholder's
browser. (Issue: a service name ``<img src=x onerror=...>`` from the logs ran as script in the overview
dashboard, on the same origin as Jupyter's contents and kernels APIs.)"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsnb.workbench import connect
from tests.upserver import chromium, local_page, need_chromium, running_up

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
    need_chromium()
    ws = tmp_path / "ws"
    hostile_workspace(demo_workspace, ws)
    with running_up(ws, "--no-live") as up, chromium() as browser:
        page = local_page(browser)
        page.goto(up.dashboard("overview"), timeout=180_000)
        page.wait_for_selector("text=Recent deploys", timeout=180_000)
        page.wait_for_timeout(1500)  # let any onerror/onload fire
        fired = page.evaluate("window.__opsnb_xss || 0")
        text = page.inner_text("body")
    assert fired == 0, f"{fired} injected payload(s) ran as script"
    assert "<img src=x" in text or "onerror" in text  # shown as text, not dropped
    assert str(ws) not in text  # the page names no server path


@pytest.mark.browser
@pytest.mark.slow
def test_no_payload_runs_in_the_board_dashboards(demo_workspace: Path, tmp_path: Path) -> None:
    """The dashboards built on opsnb.widgets, with payloads as service names, hosts, messages and titles."""
    need_chromium()
    ws = tmp_path / "ws"
    hostile_workspace(demo_workspace, ws)
    fired: dict[str, int] = {}
    shown: dict[str, bool] = {}
    with running_up(ws, "--no-live") as up, chromium() as browser:
        for name, query in (("service-health", "hours=1"), ("incidents", ""), ("changes", ""), ("slos", "")):
            page = local_page(browser)
            page.goto(up.dashboard(name, query), timeout=180_000)
            page.wait_for_selector(".opsnb-refresh", timeout=180_000)
            page.wait_for_timeout(1000)
            fired[name] = page.evaluate("window.__opsnb_xss || 0")
            shown[name] = "onerror" in page.inner_text("body")
            page.close()
    assert fired == dict.fromkeys(fired, 0), f"payloads ran as script: {fired}"
    assert shown["service-health"] and shown["incidents"]  # the payloads are on the page, as text
