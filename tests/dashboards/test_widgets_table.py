"""opsnb.widgets.Table (sort by header, pages, drill-down), the dashboard charts and the output notebook view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

import opsnb.widgets as w
from opsnb.widgets import charts
from opsnb.widgets.notebook import notebook_html

PAYLOAD = '<img src=x onerror="alert(1)">'


def _column(t: w.Table, name: str) -> list[Any]:
    return [r[name] for r in t.shown]


def test_a_header_click_sorts_and_a_second_click_reverses() -> None:
    t = w.Table(page_size=5)
    t.update(pd.DataFrame({"n": [3, 1, 2, None, 5], "name": ["c", "a", "b", "x", "e"]}))
    assert _column(t, "name") == ["c", "a", "b", "x", "e"]  # unsorted until asked
    t._heads["n"].click()
    assert _column(t, "name") == ["a", "b", "c", "e", "x"]  # missing values last
    assert t._heads["n"].description == "n ▲" and t._heads["name"].description == "name"
    t._heads["n"].click()
    assert _column(t, "name") == ["e", "c", "b", "a", "x"] and t._heads["n"].description == "n ▼"
    t._heads["name"].click()
    assert _column(t, "name") == ["a", "b", "c", "e", "x"] and t._heads["n"].description == "n"


def test_pages_move_and_survive_a_refresh() -> None:
    df = pd.DataFrame({"n": range(23)})
    t = w.Table(page_size=10, sort="n")
    t.update(df)
    assert t.prev.disabled and not t.next.disabled and "rows 1-10 of 23, page 1 of 3" in t.caption.value
    t.next.click()
    assert _column(t, "n") == list(range(10, 20)) and "page 2 of 3" in t.caption.value
    t.next.click()
    assert _column(t, "n") == [20, 21, 22] and t.next.disabled
    t.update(df.assign(n=df["n"] + 100))  # a refresh keeps the page and the sort
    assert _column(t, "n") == [120, 121, 122]
    t.update(df.iloc[:12])  # fewer rows: the page is clamped
    assert t.page == 2 and _column(t, "n") == [10, 11]
    t._heads["n"].click()  # a new sort goes back to page 1
    assert t.page == 1
    t.update(df.iloc[:3])
    assert t.prev.layout.display == "none" and "rows 1-3 of 3" in t.caption.value


def test_cells_are_escaped_and_reused() -> None:
    t = w.Table(badges=["status"], formats={"ratio": "{:.1%}"})
    t.update(pd.DataFrame({"service": [PAYLOAD], "status": [PAYLOAD], "ratio": [0.25], "at": [pd.NaT]}))
    values = [c.value for c in t.grid.children if hasattr(c, "value")]
    assert all("<img" not in v for v in values) and any("&lt;img" in v for v in values)
    assert "25.0%" in values and "–" in values
    first = t._cells[0]
    t.update(pd.DataFrame({"service": ["a"], "status": ["ok"], "ratio": [0.5], "at": [pd.NaT]}))
    assert t._cells[0] is first and len(t._cells) == 4  # a refresh changes values, it makes no new widgets


def test_a_pick_cell_drills_the_board_down() -> None:
    board = w.Board("T", None, params={"hours": 6, "service": ""}, refresh=0, choices={"service": ["", "a", "b"]})
    seen: list[str] = []
    t = board.table("Services", lambda p: pd.DataFrame({"service": ["a", "b"], "n": [1, 2]}), pick="service",
                    on_pick=board.drill("service"))
    board.panel("Drill", lambda p: seen.append(p["service"]) or p["service"] or "none")
    board.redraw()
    buttons = [c for c in t.grid.children if "opsnb-pick" in c._dom_classes]
    assert [b.description for b in buttons] == ["a", "b"]
    buttons[1].click()
    assert board.values["service"] == "b" and board.controls["service"].value == "b" and seen[-1] == "b"
    board.set("service", "c")  # a value the dropdown did not offer is added to it
    assert board.controls["service"].value == "c" and seen[-1] == "c"


def test_board_tables_show_empty_loading_and_error_states() -> None:
    board = w.Board("T", None, params={}, refresh=0)
    board.table("Nothing", lambda p: pd.DataFrame())

    def boom(_p: dict[str, Any]) -> Any:
        raise RuntimeError("lake is gone")

    board.table("Broken", boom)
    ok = board.table("Fine", lambda p: pd.DataFrame({"x": [1]}))
    assert "Loading" in str(board.panels[0].outputs)  # before the first draw
    board.redraw()
    texts = [str(p.outputs) for p in board.panels]
    assert "Nothing in this time range" in texts[0] and "lake is gone" in texts[1] and "Traceback" not in texts[1]
    assert ok.shown == [{"x": 1}] and "1 panel(s) failed" in board.status.value


def test_burndown_spans_the_slo_window_and_ends_at_its_budget(demo_ops: Any) -> None:
    end = demo_ops.logs.last_seen().to_pydatetime()
    seen_windows = set()
    for name in demo_ops.slos.list()["name"]:
        slo = demo_ops.slos.get(name)
        frame, lo, hi = charts.burndown_frame(slo, end)
        assert (lo, hi) == slo.spec.window.bounds(end)  # its own window, not a fixed 30 days
        seen_windows.add(round((hi - lo).total_seconds() / 86400))
        last = frame["time"].iloc[-1].to_pydatetime()
        assert frame["remaining"].iloc[-1] == pytest.approx(slo.report(last).budget_remaining, abs=1e-6), name
        assert frame["ideal"].iloc[0] == pytest.approx(1 - (frame["time"].iloc[0] - lo) / (hi - lo), abs=1e-9)
        assert frame["below"].equals(frame["total"].gt(0) & frame["sli"].lt(slo.spec.target))
        fig = charts.burndown_figure(name, frame, lo, hi, slo.spec.target)
        assert {t.name for t in fig.data} >= {"budget remaining", "ideal constant burn"}
        assert len(fig.layout.shapes) == len(charts.below_spans(frame, frame["time"].iloc[1] - frame["time"].iloc[0]))
    assert {28, 30} <= seen_windows  # the demo has 28-day, 30-day and calendar-month SLOs


def test_below_spans_merge_consecutive_buckets() -> None:
    t = pd.date_range("2026-01-01", periods=6, freq="1h", tz="UTC")
    f = pd.DataFrame({"time": t, "below": [False, True, True, False, True, False]})
    assert charts.below_spans(f, timedelta(hours=1)) == [(t[0], t[2]), (t[3], t[4])]


def test_mttx_by_month_matches_the_incident_metrics(demo_ops: Any) -> None:
    end = demo_ops.logs.last_seen().to_pydatetime()
    df = charts.mttx_by_month(demo_ops.incidents, end, months=3)
    month = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    direct = demo_ops.incidents.metrics(start=month, end=(month + timedelta(days=32)).replace(day=1), by=())
    mine = df[df["month"] == f"{month:%Y-%m}"].drop(columns="month").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, direct.reset_index(drop=True), check_dtype=False)
    assert set(mine["metric"]) == {"MTTD", "MTTA", "MTTM", "MTTR"}
    assert charts.month_starts(end.replace(month=1, day=15), 2)[0].month == 12  # across a year boundary
    assert len(charts.mttx_figure(df).data) == 4
    one = charts.mttx_by_month(demo_ops.incidents, end, months=1, service="catalog")
    by = demo_ops.incidents.metrics(start=month, by=("service",))
    assert one["n"].tolist() == by[by["service"] == "catalog"]["n"].tolist() and one["n"].max() < df["n"].max()


def test_an_output_notebook_is_shown_as_inert_text() -> None:
    nb = {"cells": [
        {"cell_type": "markdown", "source": "# Check <b>disk</b>"},
        {"cell_type": "code", "source": ["df = check()\n", "df"], "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "ok " + PAYLOAD},
            {"output_type": "display_data", "data": {"text/html": "<script>alert(1)</script>"}},
            {"output_type": "execute_result", "data": {"text/plain": "  host  used\n0 db-2  93"}},
            {"output_type": "error", "ename": "RuntimeError", "evalue": "disk full", "traceback": ["..."]}]}]}
    html = notebook_html(nb, title="run-1.ipynb")
    assert "<script" not in html and "<img" not in html and "&lt;img" in html
    assert "df = check()" in html and "db-2  93" in html and "RuntimeError: disk full" in html
    assert "text/html output, not shown here" in html and "# Check &lt;b&gt;disk&lt;/b&gt;" in html


def test_a_panel_error_names_no_server_path() -> None:
    exc = OSError("No magic bytes found at end of file '/srv/ops/ws/lake/metrics/date=2026-12-06/a-1.parquet'\n\n"
                  "LINE 1: SELECT * FROM read_parquet(['/srv/ops/ws/lake/metrics/...'])")
    shown = w.error("Host history", exc).data
    assert "/srv/ops" not in shown and "a-1.parquet" in shown and "LINE 1" not in shown
    assert w.error_text(ValueError("see http://example.com/a/b, ratio 1/2")) == "see http://example.com/a/b, ratio 1/2"


def test_plain_floats_read_short() -> None:
    from opsnb.widgets.grid import cell_html

    assert [cell_html(v) for v in (299.67999999, 0.00345, 12345.6, 2.0)] == ["299.7", "0.00345", "12,346", "2"]
    assert cell_html(0.25, column="r", formats={"r": "{:.0%}"}) == "25%"


def test_filter_options_survive_a_broken_source() -> None:
    assert w.options(lambda: ["b", "a", None, "b", ""]) == ["", "a", "b"]
    assert w.options(lambda: pd.Series(["INC-3", "INC-1"]), keep_order=True) == ["", "INC-3", "INC-1"]

    def broken() -> list[str]:
        raise OSError("lake unreadable")

    assert w.options(broken) == [""]  # the page comes up; its panels show the error
