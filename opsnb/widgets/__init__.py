"""Dashboard parts for Voila and notebooks: header, KPI card, status badge, table, panels that refresh.

Every string that comes from data is escaped here (HTML text, attributes, table cells), so a
service name ``<img src=x onerror=...>`` from ingested logs shows as text. The look (colours for
status and severity, widths that never overflow a phone) comes from the ``opsnb`` Voila template's
``opsnb.css``; outside Voila the parts still render, plainer.

A dashboard is a :class:`Board`: URL parameters (``?hours=6&service=checkout``) and widgets feed
its panels, each panel is drawn on its own (one failing panel shows its error, the others go on),
and the board redraws every panel at a visible interval without reloading the page::

    from opsnb import widgets as w
    board = w.Board("SLOs", ops, params={"hours": 24, "service": ""}, refresh=60)
    board.panel("Budget", lambda p: ops.slos.status())
    board.show()
"""

from __future__ import annotations

import asyncio
import html
import math
import os
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

TONES = ("ok", "warn", "bad", "muted")
STATUS_TONES: dict[str, str] = {
    "ok": "ok", "healthy": "ok", "resolved": "ok", "succeeded": "ok", "success": "ok", "closed": "ok",
    "passed": "ok", "up": "ok", "active": "ok", "done": "ok",
    "warning": "warn", "warn": "warn", "degraded": "warn", "mitigated": "warn", "monitoring": "warn",
    "running": "warn", "pending": "warn", "acknowledged": "warn", "investigating": "warn", "identified": "warn",
    "at risk": "warn", "at_risk": "warn", "burning": "warn", "breached": "bad",
    "firing": "bad", "failed": "bad", "error": "bad", "critical": "bad", "down": "bad", "open": "bad",
    "triggered": "bad", "exhausted": "bad", "rolled_back": "bad", "interrupted": "bad", "timeout": "bad",
}
"""One colour per status word, everywhere (unknown words are muted)."""


def esc(value: Any) -> str:
    """``value`` as HTML text (quotes too, so it is safe in an attribute)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return html.escape(str(value), quote=True)


def tone_of(status: Any) -> str:
    """The colour class of a status or severity word (``SEV1``..``SEV4`` have their own)."""
    word = str(status or "").strip().lower()
    if word.startswith("sev") and word[3:].isdigit():
        return word
    return STATUS_TONES.get(word, "muted")


def badge(text: Any, tone: str | None = None) -> str:
    """A coloured status badge (HTML)."""
    return f'<span class="opsnb-badge {esc(tone or tone_of(text))}">{esc(text)}</span>'


def kpi(label: str, value: Any, *, tone: str = "", hint: str = "") -> str:
    """A KPI card (HTML): a big value, its label, and a hover hint saying what it means."""
    title = f' title="{esc(hint)}"' if hint else ""
    return (f'<div class="opsnb-kpi {esc(tone)}"{title}><div class="v">{esc(value)}</div>'
            f'<div class="l">{esc(label)}</div></div>')


def kpis(cards: Sequence[str]) -> Any:
    """Cards side by side, wrapping on a narrow screen."""
    from IPython.display import HTML

    return HTML('<div class="opsnb-kpis">' + "".join(cards) + "</div>")


def empty(text: str = "Nothing in this time range.") -> Any:
    """The empty state of a panel."""
    from IPython.display import HTML

    return HTML(f'<p class="opsnb-empty">{esc(text)}</p>')


def error(title: str, exc: BaseException) -> Any:
    """The error state of a panel: what failed, in one line, never a traceback."""
    from IPython.display import HTML

    return HTML(f'<div class="opsnb-error"><b>{esc(title)}</b> is unavailable: '
                f"{esc(type(exc).__name__)}: {esc(str(exc)[:300])}</div>")


def banner(text: str) -> Any:
    """A red banner (open incidents, firing alerts)."""
    from IPython.display import HTML

    return HTML(f'<div class="opsnb-banner">{esc(text)}</div>')


def table(df: Any, *, columns: Sequence[str] | None = None, badges: Sequence[str] = (), page: int = 1,
          page_size: int = 25, sort: str | None = None, descending: bool = False,
          formats: Mapping[str, str] | None = None) -> Any:
    """A table that never overflows (it scrolls inside its box), escaped cell by cell, sorted and paged.

    Args:
        df: A DataFrame.
        columns: Which columns, in order (default all).
        badges: Columns shown as status badges.
        page, page_size: Which slice of rows is shown (the caption says "rows 1-25 of 80").
        sort, descending: Sort by this column first.
        formats: ``{column: "{:.1%}"}`` format strings.
    """
    from IPython.display import HTML

    if df is None or len(df) == 0:
        return empty("No rows.")
    frame = df[list(columns)] if columns else df
    if sort and sort in frame.columns:
        frame = frame.sort_values(sort, ascending=not descending, kind="stable")
    total = len(frame)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    part = frame.iloc[(page - 1) * page_size: page * page_size]
    fmt = dict(formats or {})
    head = "".join(f'<th data-col="{i}">{esc(c)}</th>' for i, c in enumerate(part.columns))
    rows = []
    for rec in part.itertuples(index=False):
        cells = []
        for col, v in zip(part.columns, rec, strict=True):
            if col in badges:
                cells.append(f"<td>{badge(v)}</td>")
            elif col in fmt and v is not None and not (isinstance(v, float) and math.isnan(v)):
                try:
                    cells.append(f"<td>{esc(fmt[col].format(v))}</td>")
                except (ValueError, TypeError):
                    cells.append(f"<td>{esc(v)}</td>")
            else:
                cells.append(f"<td>{esc(_short_time(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    first, last = (page - 1) * page_size + 1, min(page * page_size, total)
    caption = f"rows {first}-{last} of {total}" + (f", page {page} of {pages}" if pages > 1 else "")
    return HTML(f'<div class="opsnb-table"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
                f'</table><div class="opsnb-empty">{esc(caption)}</div></div>')


def _short_time(v: Any) -> Any:
    if v is None or v != v:  # None, NaN and NaT (which is a datetime, and cannot format itself)
        return None
    if isinstance(v, datetime):
        return f"{v:%Y-%m-%d %H:%M}"
    return v


def params(defaults: Mapping[str, Any], query: str | None = None) -> dict[str, Any]:
    """Dashboard parameters from the URL (``?hours=6&service=checkout``), typed like their defaults.

    A value that does not convert (``hours=abc``) keeps the default; unknown names are ignored, so
    a link cannot set anything a dashboard did not declare.
    """
    if query is None and os.environ.get("VOILA_PREHEAT", "False") != "False":
        # a preheated kernel rendered up to here before any page asked for it: wait for the request
        # (Voila then puts its query string in the environment)
        from voila.utils import wait_for_request

        wait_for_request()
    raw = parse_qs(os.environ.get("QUERY_STRING", "") if query is None else query)
    out = dict(defaults)
    for name, default in defaults.items():
        if name not in raw or not raw[name]:
            continue
        value = raw[name][-1]
        try:
            if isinstance(default, bool):
                out[name] = value.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                out[name] = int(value)
            elif isinstance(default, float):
                out[name] = float(value)
            else:
                out[name] = value[:200]
        except ValueError:
            continue
    if "hours" in out and isinstance(out["hours"], int | float):
        out["hours"] = min(max(out["hours"], 1), 24 * 90)
    return out


def header(title: str, *, workspace: str = "", hours: float | None = None, updated: datetime | None = None) -> str:
    """The dashboard header (HTML): title, workspace name, time range, updated at."""
    meta = []
    if workspace:
        meta.append(f"workspace <b>{esc(workspace)}</b>")
    if hours is not None:
        meta.append(f"last <b>{esc(_hours(hours))}</b>")
    meta.append(f'updated <b class="opsnb-updated">{(updated or datetime.now(UTC)):%H:%M:%S} UTC</b>')
    return (f'<div class="opsnb-header"><h1>{esc(title)}</h1>'
            + "".join(f'<span class="opsnb-meta">{m}</span>' for m in meta) + "</div>")


def _hours(h: float) -> str:
    return f"{int(h // 24)} d" if h >= 48 and h % 24 == 0 else f"{h:g} h"


HOUR_CHOICES: tuple[tuple[str, int], ...] = (("1 h", 1), ("6 h", 6), ("24 h", 24), ("3 d", 72), ("7 d", 168))


class Panel:
    """One part of a board: a title, a function drawing it from the parameters, and its output area."""

    def __init__(self, title: str, draw: Callable[[dict[str, Any]], Any]) -> None:
        import ipywidgets

        self.title, self.draw = title, draw
        self.output = ipywidgets.Output(layout=ipywidgets.Layout(width="100%", max_width="100%"))
        self.error: BaseException | None = None

    def render(self, values: dict[str, Any]) -> None:
        """Draw again; an exception becomes this panel's error state (the board goes on)."""
        try:
            result = self.draw(values)
            self.error = None
        except Exception as exc:  # one failing panel never takes the page down
            self.error = exc
            if exc.__traceback__ is not None:
                traceback.clear_frames(exc.__traceback__)  # a refresh loop must not keep old frames alive
            result = error(self.title, exc)
        if result is None or (hasattr(result, "__len__") and not isinstance(result, str | bytes) and
                              hasattr(result, "columns") and len(result) == 0):
            result = empty()
        elif hasattr(result, "columns") and hasattr(result, "itertuples"):
            result = table(result)
        items = list(result) if isinstance(result, list | tuple) else [result]
        self.output.outputs = tuple(_output(x) for x in items)


def _output(obj: Any) -> dict[str, Any]:
    """``obj`` as an Output widget's display_data (how the kernel would show it)."""
    from IPython import get_ipython

    ip = get_ipython()
    if isinstance(obj, str):
        from IPython.display import HTML

        obj = HTML(obj)
    if hasattr(obj, "to_plotly_json"):  # a Plotly figure displays itself (_ipython_display_): build its bundle
        import plotly.io as pio

        bundle = pio.renderers["plotly_mimetype"].to_mimebundle(obj.to_dict())
        return {"output_type": "display_data", "data": {**bundle, "text/plain": "<figure>"}, "metadata": {}}
    if ip is None:  # outside a kernel (tests, scripts): the HTML and text forms
        data = {"text/plain": repr(obj)}
        if hasattr(obj, "_repr_html_"):
            data["text/html"] = str(obj._repr_html_())
        return {"output_type": "display_data", "data": data, "metadata": {}}
    data, meta = ip.display_formatter.format(obj)
    return {"output_type": "display_data", "data": data, "metadata": meta}


class Board:
    """A dashboard: header, controls (time range, filters), panels, and a refresh every ``refresh`` s.

    Args:
        title: Shown in the header.
        ops: The workbench (its workspace name goes in the header).
        params: Parameter defaults; the URL overrides them (:func:`params`).
        refresh: Seconds between redraws (0: never); shown on the page.
        choices: Extra dropdown filters, ``{"service": ["", "checkout", ...]}`` ("" is "all").
    """

    def __init__(self, title: str, ops: Any = None, *, params: Mapping[str, Any] | None = None,
                 refresh: float = 60, choices: Mapping[str, Sequence[Any]] | None = None) -> None:
        import ipywidgets

        self.title, self.ops = title, ops
        self.values = globals()["params"]({**(params or {}), "refresh": float(refresh)})
        given = float(self.values.pop("refresh"))
        self.refresh = 0.0 if given <= 0 else max(5.0, given)  # ?refresh=5 from the URL; never a busy loop
        self.panels: list[Panel] = []
        self.rounds = 0
        self.head = ipywidgets.HTML()
        self.status = ipywidgets.HTML()
        controls: list[Any] = []
        self.controls: dict[str, Any] = {}
        if "hours" in self.values:
            opts = list(HOUR_CHOICES)
            if self.values["hours"] not in [v for _, v in opts]:
                opts.append((_hours(self.values["hours"]), self.values["hours"]))
            dd = ipywidgets.Dropdown(options=opts, value=self.values["hours"], description="range",
                                     layout=ipywidgets.Layout(width="160px"))
            self.controls["hours"] = dd
        for name, options in (choices or {}).items():
            opts2 = [("all" if o == "" else str(o), o) for o in options]
            cur = self.values.get(name, "")
            if cur not in [v for _, v in opts2]:
                opts2.append((str(cur), cur))
            self.controls[name] = ipywidgets.Dropdown(options=opts2, value=cur, description=name,
                                                      layout=ipywidgets.Layout(width="220px"))
        for name, widget in self.controls.items():
            widget.observe(lambda change, n=name: self._changed(n, change["new"]), names="value")
            controls.append(widget)
        self.button = ipywidgets.Button(description="refresh", layout=ipywidgets.Layout(width="90px"))
        self.button.on_click(lambda _b: self.redraw())
        controls.append(self.button)
        self.bar = ipywidgets.HBox(controls, layout=ipywidgets.Layout(flex_flow="row wrap", width="100%"))
        self._task: Any = None

    def panel(self, title: str, draw: Callable[[dict[str, Any]], Any], *, heading: bool = True) -> Panel:
        """Add a panel drawn by ``draw(values)`` (a DataFrame, figure, HTML, or a list of them)."""
        p = Panel(title, draw)
        p.heading = heading  # type: ignore[attr-defined]
        self.panels.append(p)
        return p

    def _changed(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.redraw()

    def redraw(self) -> None:
        """Draw the header and every panel again (each on its own)."""
        self.rounds += 1
        workspace = os.path.basename(str(getattr(self.ops, "workspace", "") or "")) if self.ops is not None else ""
        self.head.value = header(self.title, workspace=workspace, hours=self.values.get("hours"))
        for p in self.panels:
            p.render(self.values)
        failed = sum(1 for p in self.panels if p.error is not None)
        every = f"refreshes every {self.refresh:g} s" if self.refresh else "no auto-refresh"
        self.status.value = (f'<span class="opsnb-meta opsnb-refresh" data-round="{self.rounds}">{every} · '
                             f"update {self.rounds}" + (f" · {failed} panel(s) failed" if failed else "")
                             + "</span>")

    def show(self) -> None:
        """Display the board and start its refresh loop (in the kernel: the page is not reloaded)."""
        import ipywidgets
        from IPython.display import display

        self.redraw()
        items: list[Any] = [self.head, self.bar, self.status]
        for p in self.panels:
            if getattr(p, "heading", True):
                items.append(ipywidgets.HTML(f"<h3>{esc(p.title)}</h3>"))
            items.append(p.output)
        display(ipywidgets.VBox(items, layout=ipywidgets.Layout(width="100%", max_width="100%")))
        if self.refresh > 0:
            self._start()

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                return
        self._task = loop.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            self.redraw()

    def stop(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()


__all__ = ["Board", "Panel", "badge", "banner", "empty", "error", "esc", "header", "kpi", "kpis", "params", "table",
           "tone_of"]
