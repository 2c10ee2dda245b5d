"""Every dashboard in Chromium through `opsnb up` on a small live demo world and its share link.

One server and one browser for the module: each dashboard is opened at 1440 px (its title and
panels drawn, no traceback, no failed panel, a screenshot written), then narrowed to a 390 px
phone (nothing wider than the viewport); filters from the URL and from a widget change what is
shown; the page redraws itself with new data from the live demo without a reload.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
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
    page.wait_for_selector(".opsnb-refresh:not(.opsnb-updating)" if name != "overview" else "text=Recent deploys",
                           timeout=180_000)
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
        # the header's stamp changes when a round starts, the round number when it ends: read both between rounds
        idle = ("(() => { const r = document.querySelector('.opsnb-refresh');"
                " return r && !r.classList.contains('opsnb-updating') ? [r.dataset.round,"
                " document.querySelector('.opsnb-updated').innerText] : null; })()")
        first, stamp = page.wait_for_function(idle, timeout=60_000).json_value()
        page.wait_for_function(f"(() => {{ const s = {idle}; return s && s[0] !== '{first}'; }})()", timeout=60_000)
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


# ---------------------------------------------------------------- tables, drill-downs, DORA
ROWS_JS = """(el) => {
    const grid = el.querySelector('.opsnb-grid');
    const kids = grid ? Array.from(grid.children) : [];
    const labels = kids.filter(k => k.classList.contains('opsnb-th')).map(k => k.innerText.trim());
    const heads = labels.map(h => h.replace(/ [▲▼]$/, ''));
    const cells = kids.filter(k => !k.classList.contains('opsnb-th')).map(k => k.innerText.trim());
    const rows = [];
    for (let i = 0; i + heads.length <= cells.length && heads.length; i += heads.length)
        rows.push(cells.slice(i, i + heads.length));
    const cap = el.querySelector('.opsnb-caption');
    return {heads, labels, rows, caption: cap ? cap.innerText : ''};
}"""


def _table(page: Any, title: str) -> Any:
    """The table widget of the panel headed ``title``."""
    return page.locator(f'xpath=//h3[normalize-space()="{title}"]/following::div'
                        '[contains(@class,"opsnb-table-widget")][1]')


def _rows(page: Any, title: str) -> dict[str, Any]:
    got: dict[str, Any] = _table(page, title).evaluate(ROWS_JS)
    return got


def _wait_table(page: Any, title: str, test: str, timeout: int = 60_000) -> dict[str, Any]:
    """Wait until ``test`` (JS over {heads, rows, caption} named t) holds for the table, then return it."""
    handle = _table(page, title).element_handle(timeout=timeout)
    page.wait_for_function(f"(el) => {{ const t = ({ROWS_JS})(el); return {test}; }}", arg=handle, timeout=timeout)
    return _rows(page, title)


def _after_redraw(page: Any, click: Any) -> None:
    """Do ``click`` and wait until the board has drawn every panel again."""
    before = page.get_attribute(".opsnb-refresh", "data-round")
    click()
    page.wait_for_function(f"(() => {{ const s = document.querySelector('.opsnb-refresh:not(.opsnb-updating)');"
                           f" return s && s.dataset.round !== '{before}'; }})()", timeout=60_000)


def test_a_header_click_sorts_and_the_pager_moves(up: Up, browser: Any) -> None:
    page = _open(browser, up, "changes", "hours=2160")
    try:
        first = _rows(page, "Recent deploys")
        col = first["heads"].index("service")
        assert "page 1 of" in first["caption"], first["caption"]  # more than one page of deploys
        _table(page, "Recent deploys").locator(".opsnb-th", has_text="service").click()
        asc = _wait_table(page, "Recent deploys", "t.labels.includes('service ▲')")
        services = [r[col] for r in asc["rows"]]
        assert services == sorted(services) and "page 1 of" in asc["caption"]
        _table(page, "Recent deploys").locator(".opsnb-th", has_text="service").click()
        desc = _wait_table(page, "Recent deploys", "t.labels.includes('service ▼')")
        assert [r[col] for r in desc["rows"]] == sorted((r[col] for r in desc["rows"]), reverse=True)
        assert desc["rows"][0][col] >= asc["rows"][-1][col]
        ids = [r[first["heads"].index("id")] for r in desc["rows"]]
        _table(page, "Recent deploys").locator(".opsnb-next").click()
        two = _wait_table(page, "Recent deploys", "t.caption.includes('page 2 of')")
        assert not set(ids) & {r[first["heads"].index("id")] for r in two["rows"]}  # other rows
        assert "rows 11-" in two["caption"]
        _table(page, "Recent deploys").locator(".opsnb-prev").click()
        _wait_table(page, "Recent deploys", "t.caption.includes('page 1 of')")
    finally:
        page.close()


def test_a_service_drills_down_to_its_log_window_and_a_failing_trace(up: Up, browser: Any) -> None:
    page = _open(browser, up, "service-health", "hours=24&refresh=0")
    try:
        assert "Click a service above" in page.inner_text("body")
        _after_redraw(page, _table(page, "Per service").locator(".opsnb-pick", has_text="checkout").first.click)
        page.wait_for_selector(".opsnb-logwindow[data-service='checkout']", timeout=60_000)
        text = page.inner_text("body")
        assert "Log window of checkout" in text and "log lines" in text
        page.wait_for_function("document.body.innerText.includes('failed spans')", timeout=60_000)
        trace = page.inner_text("body").split("A failing trace")[-1]
        assert "checkout" in trace and "Error" in trace  # the trace's failed span, by status
        picked = page.locator("select >> nth=1").evaluate("s => s.options[s.selectedIndex].text")
        assert picked == "checkout"  # the service filter followed the click
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(1200)
        assert overflow(page) == []
        assert "Traceback" not in page.inner_text("body")
    finally:
        page.close()


def test_an_incident_opens_its_readable_timeline_and_suspect_changes(up: Up, browser: Any) -> None:
    page = _open(browser, up, "incidents", "refresh=0")
    try:
        _after_redraw(page, _table(page, "Open and recent incidents").locator(".opsnb-pick", has_text="INC-2").click)
        assert page.inner_text(".opsnb-incident-title").startswith("INC-2")
        detail = page.inner_text("body").split("Incident detail and timeline")[1]
        assert "db-2 disk full" in detail and "acknowledged by" in detail and "{'" not in detail  # no raw data
        suspects = _rows(page, "Suspect changes (ops.deploys.suspects)")
        with connect(up.workspace) as ops:
            expected = ops.deploys.suspects("INC-2")
        top = dict(zip(suspects["heads"], suspects["rows"][0], strict=True))
        assert top["id"] == expected.iloc[0]["id"] and top["rank"] == "1"
        assert "MTTR" in page.inner_text("body")
    finally:
        page.close()


def test_the_dora_panel_shows_the_figures_of_ops_deploys_dora(up: Up, browser: Any) -> None:
    page = _open(browser, up, "changes", "hours=720&refresh=0")
    try:
        start = page.get_attribute(".opsnb-dora", "data-start")
        end = page.get_attribute(".opsnb-dora", "data-end")
        shown = _rows(page, "DORA per service and environment")
        kpis = page.inner_text(".opsnb-kpis")
    finally:
        page.close()
    with connect(up.workspace) as ops:
        dora = ops.deploys.dora(start=start, end=end)
    heads = shown["heads"]
    rows = {(r[0], r[1]): dict(zip(heads, r, strict=True)) for r in shown["rows"]}
    assert len(rows) == min(len(dora), 25) and len(dora) > 0
    for r in dora.itertuples():
        got = rows[(r.service, r.env)]
        assert got["deploys"] == str(r.deploys) and got["failures"] == str(r.failures)
        assert got["per day"] == f"{r.deploys_per_day:.3f}" and got["CFR"] == f"{r.change_failure_rate:.0%}"
        assert got["recover min"] == ("–" if r.recovery_median_min != r.recovery_median_min
                                      else f"{r.recovery_median_min:.0f}")
    n = int(dora["deploys"].sum())
    assert f"{int(dora['failures'].sum()) / n:.0%}" in kpis and "deployment frequency" in kpis


def test_on_call_lists_the_pages_and_acks_of_the_range_only(up: Up, browser: Any) -> None:
    def counts(esc: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
        return (int(((esc["started_at"] >= start) & (esc["started_at"] < end)).sum()),
                int(((esc["acked_at"] >= start) & (esc["acked_at"] < end)).sum()))

    kpi_js = ("els => Object.fromEntries(els.map(e => [e.querySelector('.l').innerText.trim(),"
              " e.querySelector('.v').innerText.trim()]))")
    for hours in (1, 168):
        with connect(up.workspace) as ops:  # the live demo may page someone while the page draws
            before = ops.oncall.escalations()
        page = _open(browser, up, "oncall", f"hours={hours}&refresh=0")
        try:
            start = pd.Timestamp(page.get_attribute(".opsnb-pages", "data-start"))
            end = pd.Timestamp(page.get_attribute(".opsnb-pages", "data-end"))
            cards = page.eval_on_selector_all(".opsnb-kpi", kpi_js)
            panel = page.inner_text("body").split("Pages and acknowledgements, newest first")[1]
            shown = {"rows": [], "caption": "rows 0-0 of 0", "heads": []} \
                if panel.lstrip().startswith("Nothing in this time range") \
                else _rows(page, "Pages and acknowledgements, newest first")
        finally:
            page.close()
        assert end - start == pd.Timedelta(hours=hours)
        with connect(up.workspace) as ops:
            after = ops.oncall.escalations()
        # what the page counts lies between the range's escalations before it opened and after it drew
        (paged_lo, acked_lo), (paged, acked) = counts(before, start, end), counts(after, start, end)
        shown_paged, shown_acked = int(cards[f"pages, last {hours} h"]), int(cards["acknowledgements"])
        assert paged_lo <= shown_paged <= paged, (hours, cards)
        assert acked_lo <= shown_acked <= acked, (hours, cards)
        # the table holds every page and acknowledgement of the range, ten a page, newest first
        total = int(re.search(r"of (\d+)", shown["caption"]).group(1))  # type: ignore[union-attr]
        assert paged_lo + acked_lo <= total <= paged + acked, (hours, shown["caption"])
        listed = [r[1] for r in shown["rows"]]
        assert len(listed) == min(total, 10) and set(listed) <= {"paged", "acknowledged"}
        if total <= 10:
            assert paged_lo <= listed.count("paged") <= paged and acked_lo <= listed.count("acknowledged") <= acked
        at = [pd.Timestamp(r[0]).tz_localize(start.tz) for r in shown["rows"]]  # shown to the minute, UTC
        assert at == sorted(at, reverse=True) and all(start - pd.Timedelta(minutes=1) <= t < end + pd.Timedelta(minutes=1) for t in at)
        if hours == 168:
            assert paged > 0 and acked > 0  # the demo's incidents paged someone, who acknowledged


def _titles(page: Any) -> list[str]:
    """The titles of the Plotly charts on the page (SVG text)."""
    got: list[str] = page.eval_on_selector_all(".gtitle", "els => els.map(e => e.textContent || '')")
    return got


def test_a_host_drills_down_to_its_history(up: Up, browser: Any) -> None:
    page = _open(browser, up, "fleet", "refresh=0&hours=6")
    try:
        assert "Click a host in the grid" in page.inner_text("body")
        _after_redraw(page, _table(page, "Health grid").locator(".opsnb-pick", has_text="db-2").click)
        assert "History of db-2, last 6 h" in page.inner_text(".opsnb-hosthistory")
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        titles = _titles(page)
    finally:
        page.close()
    assert "db-2: metrics" in titles


def test_the_slo_burn_downs_follow_the_url(up: Up, browser: Any) -> None:
    with connect(up.workspace) as ops:
        slos = ops.slos.list()
    page = _open(browser, up, "slos", "refresh=0")
    try:
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        every = [t for t in _titles(page) if "budget burn-down" in t]
    finally:
        page.close()
    assert sorted(t.split(":")[0] for t in every) == sorted(slos["name"])  # one per SLO, not only the worst
    page = _open(browser, up, "slos", "slo=checkout-availability-monthly&refresh=0")
    try:
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        one = [t for t in _titles(page) if "budget burn-down" in t]
    finally:
        page.close()
    assert len(one) == 1 and one[0].startswith("checkout-availability-monthly")
    assert "2026-" in one[0] and "→" in one[0]  # its own calendar window, named in the title
