"""The log window in JupyterLab: traces fold to their first line, everything is escaped, Java NPEs are typed."""

from __future__ import annotations

import re

import pandas as pd

from opsnb.logs.window import html_cell, html_table
from opsnb.workbench import Workbench

TRACE = ("boom <script>alert(1)</script>: java.lang.NullPointerException: x is null\n"
         "\tat com.shop.A.b(A.java:1)\n\tat com.shop.C.d(C.java:2)")


def test_a_trace_folds_to_its_first_line_and_is_escaped() -> None:
    cell = html_cell(TRACE)
    m = re.fullmatch(r"<details><summary>(.*?)</summary><pre[^>]*>(.*)</pre></details>", cell, re.S)
    assert m is not None
    assert m.group(1) == "boom &lt;script&gt;alert(1)&lt;/script&gt;: java.lang.NullPointerException: x is null"
    assert "\tat com.shop.C.d(C.java:2)" in m.group(2)
    assert "<script>" not in cell


def test_short_cells_stay_plain_and_long_lines_fold() -> None:
    assert html_cell("a < b") == "a &lt; b"
    assert html_cell(["checkout", "auth"]) == "checkout, auth"
    assert html_cell(None) == "" and html_cell(float("nan")) == "" and html_cell(float("inf")) == "∞"
    assert html_cell(pd.Timestamp("2026-12-05T20:17:03Z")) == "2026-12-05 20:17:03"
    long = html_cell("x" * 500)
    assert long.startswith("<details><summary>" + "x" * 160 + "…</summary>")


def test_table_keeps_known_columns_in_order() -> None:
    df = pd.DataFrame({"b": [1], "a": ["<i>"], "c": [2.5]})
    out = html_table(df, ["a", "b", "missing"])
    assert re.findall(r"<th[^>]*>(\w+)</th>", out) == ["a", "b"] and "&lt;i&gt;" in out


def test_window_summary_in_the_notebook(demo_ops: Workbench) -> None:
    inc = demo_ops.incidents.get("inc-1")
    w = demo_ops.logs.window(around=inc.started_at, service=inc.service)
    page = w._repr_html_()
    assert "<details><summary>" in page
    # no stack frame outside a folded <pre>: the table rows carry headlines only
    outside = re.sub(r"<pre[^>]*>.*?</pre>", "", page, flags=re.S)
    assert "\tat " not in outside and "\n" not in outside
    assert "java.lang.NullPointerException" in set(w.errors["exception_type"].dropna())
