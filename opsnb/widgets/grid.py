"""A live table for dashboards: click a header to sort, buttons to page, a key column to drill down.

Built from plain ipywidgets (a grid of header buttons and cells), so it works in Voila without
JupyterLab and without any page script of its own: the kernel sorts and pages, the page only
shows the widgets. Every cell is escaped HTML and every button label is text, so a service
name ``<img src=x onerror=...>`` stays text. The grid sits in a box that scrolls sideways, so a
wide table never makes a 390 px phone scroll the page.

The widgets are made once and reused: a refresh every minute changes cell values (only the
changed ones travel to the page), it does not create new widgets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def cell_html(value: Any, *, column: str = "", badges: Sequence[str] = (), formats: Mapping[str, str] | None = None,
              wrap: int = 60) -> str:
    """One cell as escaped HTML: a badge, a formatted number, a short time, or text (long text wraps)."""
    from opsnb.widgets import _short_time, badge, esc

    if column in badges and value is not None and value == value:
        return badge(value)
    fmt = (formats or {}).get(column)
    if fmt and value is not None and not (isinstance(value, float) and math.isnan(value)):
        try:
            return esc(fmt.format(value))
        except (ValueError, TypeError):
            pass
    if isinstance(value, list | tuple | set):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, float) and math.isfinite(value) and not fmt:
        # 299.67999999 from a quantile reads as 299.7; big counts get thousands separators
        value = f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    text = esc(_short_time(value))
    if len(text) > wrap:  # long messages wrap inside their column instead of widening the table
        return f'<span style="display:inline-block;max-width:{wrap}ch;white-space:normal;overflow-wrap:anywhere">' \
               f"{text}</span>"
    return text


def sort_frame(df: Any, column: str | None, descending: bool) -> Any:
    """``df`` sorted by ``column`` (missing values last, ties keep their order); unchanged without one."""
    if not column or column not in df.columns:
        return df
    try:
        return df.sort_values(column, ascending=not descending, kind="stable", na_position="last")
    except TypeError:  # mixed types in one column (text and numbers): compare as text
        return df.sort_values(column, ascending=not descending, kind="stable", na_position="last", key=lambda s:
                              s.astype(str))


class Table:
    """A sortable, paged table widget (``.widget``), fed new rows with :meth:`update`.

    Args:
        columns: Which columns, in order (default all of the first frame).
        badges: Columns shown as status badges.
        formats: ``{column: "{:.1%}"}`` format strings.
        page_size: Rows per page.
        sort, descending: The initial sort (a header click changes it).
        pick: A column whose cells are buttons; clicking one calls ``on_pick(row)`` (a drill-down).
        on_pick: Called with the clicked row as a dict.
        labels: Header text per column (default the column name).
        hints: Hover text per column header (what the column means).
    """

    def __init__(self, *, columns: Sequence[str] | None = None, badges: Sequence[str] = (),
                 formats: Mapping[str, str] | None = None, page_size: int = 10, sort: str | None = None,
                 descending: bool = False, pick: str | None = None,
                 on_pick: Callable[[dict[str, Any]], None] | None = None, labels: Mapping[str, str] | None = None,
                 hints: Mapping[str, str] | None = None) -> None:
        import ipywidgets
        from ipywidgets.widgets.widget_string import HTMLStyle

        self.columns = list(columns) if columns else None
        self.badges, self.formats = tuple(badges), dict(formats or {})
        self.page_size = max(1, int(page_size))
        self.sort, self.descending = sort, descending
        self.pick, self.on_pick = pick, on_pick
        self.labels, self.hints = dict(labels or {}), dict(hints or {})
        self.page = 1
        self.frame: Any = None
        self.shown: list[dict[str, Any]] = []  # the rows on the current page, in order
        self._heads: dict[str, Any] = {}
        # one layout and one style shared by all cells of a kind: a cell costs one widget model, not three
        self._cell_layout = ipywidgets.Layout(margin="0", padding="2px 8px", border_bottom="1px solid #e5e8e8")
        self._cell_style = HTMLStyle()
        self._head_layout = ipywidgets.Layout(width="auto", margin="0", padding="0 8px", justify_content="flex-start")
        self._head_style = ipywidgets.ButtonStyle(button_color="#f4f6f6", font_weight="bold")
        self._pick_layout = ipywidgets.Layout(width="auto", margin="1px 4px", justify_content="flex-start")
        self._pick_style = ipywidgets.ButtonStyle(button_color="#eaf2f8")
        self._cells: list[Any] = []
        self._picks: list[Any] = []
        # its own width (never squeezed by the box around it, which scrolls instead)
        self.grid = ipywidgets.GridBox(layout=ipywidgets.Layout(width="max-content", min_width="100%", max_width="none",
                                                                flex="0 0 auto"))
        self.grid.add_class("opsnb-grid")
        self.scroller = ipywidgets.Box([self.grid], layout=ipywidgets.Layout(width="100%", max_width="100%",
                                                                              overflow="auto"))
        self.prev = ipywidgets.Button(description="‹ prev", layout=ipywidgets.Layout(width="80px"))
        self.next = ipywidgets.Button(description="next ›", layout=ipywidgets.Layout(width="80px"))
        self.prev.add_class("opsnb-prev")
        self.next.add_class("opsnb-next")
        self.prev.on_click(lambda _b: self.go(self.page - 1))
        self.next.on_click(lambda _b: self.go(self.page + 1))
        self.caption = ipywidgets.HTML()
        self.caption.add_class("opsnb-caption")
        self.pager = ipywidgets.HBox([self.prev, self.caption, self.next],
                                     layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"))
        self.widget = ipywidgets.VBox([self.scroller, self.pager], layout=ipywidgets.Layout(width="100%",
                                                                                             max_width="100%"))
        self.widget.add_class("opsnb-table-widget")

    # ------------------------------------------------------------------ data
    def update(self, df: Any) -> Any:
        """Show new rows (the sort column, direction and page are kept); returns :attr:`widget`."""
        import pandas as pd

        frame = df if df is not None else pd.DataFrame()
        if self.columns:
            frame = frame[[c for c in self.columns if c in frame.columns]]
        self.frame = frame.reset_index(drop=True)
        self._draw()
        return self.widget

    @property
    def pages(self) -> int:
        total = 0 if self.frame is None else len(self.frame)
        return max(1, math.ceil(total / self.page_size))

    def go(self, page: int) -> None:
        """Show page ``page`` (clamped to the pages there are)."""
        self.page = min(max(1, int(page)), self.pages)
        self._draw()

    def sort_by(self, column: str) -> None:
        """What a header click does: sort by ``column``; a second click on it reverses; back to page 1."""
        if self.sort == column:
            self.descending = not self.descending
        else:
            self.sort, self.descending = column, False
        self.page = 1
        self._draw()

    def pick_row(self, index: int) -> None:
        """What a click on the pick cell of the ``index``-th shown row does."""
        if self.on_pick is not None and 0 <= index < len(self.shown):
            self.on_pick(dict(self.shown[index]))

    # ------------------------------------------------------------------ drawing
    def _head(self, column: str) -> Any:
        import ipywidgets

        if column not in self._heads:
            b = ipywidgets.Button(layout=self._head_layout, style=self._head_style)
            b.add_class("opsnb-th")
            b.on_click(lambda _b, c=column: self.sort_by(c))
            self._heads[column] = b
        return self._heads[column]

    def _label(self, column: str) -> None:
        b = self._heads[column]
        arrow = (" ▼" if self.descending else " ▲") if self.sort == column else ""
        b.description = f"{self.labels.get(column, column)}{arrow}"
        b.tooltip = self.hints.get(column, f"sort by {column}")

    def _cell(self, i: int) -> Any:
        import ipywidgets

        while len(self._cells) <= i:
            c = ipywidgets.HTML(layout=self._cell_layout, style=self._cell_style)
            c.add_class("opsnb-td")
            self._cells.append(c)
        return self._cells[i]

    def _pick(self, i: int) -> Any:
        import ipywidgets

        while len(self._picks) <= i:
            b = ipywidgets.Button(layout=self._pick_layout, style=self._pick_style)
            b.add_class("opsnb-pick")
            n = len(self._picks)
            b.on_click(lambda _b, n=n: self.pick_row(n))
            self._picks.append(b)
        return self._picks[i]

    def _draw(self) -> None:
        frame = self.frame
        if frame is None or len(frame) == 0:
            self.shown = []
            self.grid.children = ()
            self.grid.layout.grid_template_columns = "auto"
            self.caption.value = '<span class="opsnb-empty">No rows.</span>'
            self.prev.disabled = self.next.disabled = True
            self.prev.layout.display = self.next.layout.display = "none"
            return
        ordered = sort_frame(frame, self.sort, self.descending)
        total, pages = len(ordered), self.pages
        self.page = min(max(1, self.page), pages)
        part = ordered.iloc[(self.page - 1) * self.page_size: self.page * self.page_size]
        self.shown = part.to_dict("records")
        cols = list(part.columns)
        children: list[Any] = [self._head(c) for c in cols]
        n = 0
        for r, rec in enumerate(self.shown):
            for c in cols:
                if c == self.pick:
                    b = self._pick(r)
                    b.description = str(rec[c])[:80]
                    b.tooltip = f"open {rec[c]}"
                    children.append(b)
                else:
                    cell = self._cell(n)
                    cell.value = cell_html(rec[c], column=c, badges=self.badges, formats=self.formats)
                    children.append(cell)
                    n += 1
        self.grid.layout.grid_template_columns = f"repeat({len(cols)}, auto)"
        self.grid.children = tuple(children)
        for c in cols:  # the arrows change last: a page that sees the new arrow sees the new rows
            self._label(c)
        first, last = (self.page - 1) * self.page_size + 1, min(self.page * self.page_size, total)
        self.caption.value = (f'<span class="opsnb-meta" data-page="{self.page}">rows {first}-{last} of {total}'
                              + (f", page {self.page} of {pages}" if pages > 1 else "") + "</span>")
        self.prev.disabled = self.page <= 1
        self.next.disabled = self.page >= pages
        self.prev.layout.display = self.next.layout.display = "flex" if pages > 1 else "none"
