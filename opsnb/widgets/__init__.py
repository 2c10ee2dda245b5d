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
    board.table("Every SLO", lambda p: ops.slos.status(), sort="budget_remaining",
                pick="service", on_pick=board.drill("service"))  # click a header sorts; a service drills in
    board.show()

Every panel starts in its loading state, shows an empty state when there is nothing, and an error
line (never a traceback) when its draw fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import math
import os
import re
import traceback
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
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
                f"{esc(type(exc).__name__)}: {esc(error_text(exc))}</div>")


_PATH = re.compile(r"(?<![\w:/])(?:/[\w.@+=-]+){2,}/?")


def error_text(exc: BaseException, limit: int = 300) -> str:
    """An exception's message for a page: its first line, server paths cut to their last part, bounded."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    text = _PATH.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], lines[0] if lines else "")
    return text[:limit]


def loading(title: str = "") -> Any:
    """The loading state of a panel (before its first draw)."""
    from IPython.display import HTML

    return HTML(f'<p class="opsnb-empty opsnb-loading">Loading {esc(title)}…</p>')


def banner(text: str) -> Any:
    """A red banner (open incidents, firing alerts)."""
    from IPython.display import HTML

    return HTML(f'<div class="opsnb-banner">{esc(text)}</div>')


TD = '<td style="text-align:left">'


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
    # left-aligned in the cell itself: the notebook's own table style (right-aligned cells) wins over a class
    head = "".join(f'<th data-col="{i}" style="text-align:left">{esc(c)}</th>' for i, c in enumerate(part.columns))
    rows = []
    for rec in part.itertuples(index=False):
        cells = []
        for col, v in zip(part.columns, rec, strict=True):
            if col in badges:
                cells.append(f"{TD}{badge(v)}</td>")
            elif col in fmt and v is not None and not (isinstance(v, float) and math.isnan(v)):
                try:
                    cells.append(f"{TD}{esc(fmt[col].format(v))}</td>")
                except (ValueError, TypeError):
                    cells.append(f"{TD}{esc(v)}</td>")
            else:
                cells.append(f"{TD}{esc(_short_time(v))}</td>")
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


def options(fetch: Callable[[], Any], *, keep_order: bool = False) -> list[Any]:
    """A filter's choices: ``""`` (all), then the distinct values ``fetch()`` returns (sorted unless told).

    When ``fetch`` fails (the lake or database unreadable), the filter offers "all" only and the
    page still comes up: the panels that read the same data show the error themselves.
    """
    try:
        values = [v for v in dict.fromkeys(fetch()) if v is not None and v == v and v != ""]
    except Exception:  # the page must come up; its panels say what is wrong
        return [""]
    return ["", *(values if keep_order else sorted(values, key=str))]


HOUR_CHOICES: tuple[tuple[str, int], ...] = (("1 h", 1), ("6 h", 6), ("24 h", 24), ("3 d", 72), ("7 d", 168))


PLOTLY = "application/vnd.plotly.v1+json"


class Panel:
    """One part of a board: a title, a function drawing it from the parameters, and its output areas.

    ``box`` is what the page shows: an output area per part of a drawing generator (below), then
    ``output``, which holds a whole result, the loading line, and an empty or error state.
    """

    def __init__(self, title: str, draw: Callable[[dict[str, Any]], Any]) -> None:
        import ipywidgets

        self.title, self.draw = title, draw
        self.output = self._area()
        self.parts: list[Any] = []  # one output area per part, reused from round to round
        self.box = ipywidgets.VBox([self.output], layout=ipywidgets.Layout(width="100%", max_width="100%"))
        self.box.add_class("opsnb-panel")
        self.error: BaseException | None = None
        self.drawn = False
        self.output.outputs = (_output(loading(title)),)  # until the first draw

    @staticmethod
    def _area() -> Any:
        import ipywidgets

        return ipywidgets.Output(layout=ipywidgets.Layout(width="100%", max_width="100%"))

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """Everything the panel shows, in page order (each part's outputs, then ``output``'s)."""
        return [o for area in self.box.children for o in area.outputs]

    def render(self, values: dict[str, Any]) -> None:
        """Draw again; an exception becomes this panel's error state (the board goes on)."""
        for _ in self.steps(values):
            pass

    def steps(self, values: dict[str, Any]) -> Iterator[None]:
        """Draw again, pausing (``yield``) after each part that reached the page.

        A ``draw`` that is a generator shows its parts as it makes them: the first chart of a panel
        of ten is on the page before the second is computed. Each part has an output area of its
        own, so a new part is one message and the page draws only it: in one shared area the page
        drew every chart again at each update (the first chart of the SLO page kept disappearing
        until its panel ended). The output of a drawing generator that fails part-way keeps what it
        drew, then its error. While parts come, the rest of the last draw stays below them (a
        refresh does not make the page jump), or before the first draw the loading line.
        """
        used = 0
        shown: list[dict[str, Any]] = []
        try:
            result = self.draw(values)
            if isinstance(result, Iterator | Generator):
                for part in result:
                    items = [_output(x) for x in self._items(part, last=False)]
                    if items:
                        if used == len(self.parts):
                            self.parts.append(self._area())
                        self.parts[used].outputs = tuple(items)
                        used += 1
                        if used > len(self.box.children) - 1:  # a new area: the page adds its view only
                            self.box.children = (*self.parts[:used], self.output)
                    yield
                result = empty() if not used else []
            self.error = None
        except Exception as exc:  # one failing panel never takes the page down
            self.error = exc
            if exc.__traceback__ is not None:
                traceback.clear_frames(exc.__traceback__)  # a refresh loop must not keep old frames alive
            result = error(self.title, exc)
        shown.extend(_output(x) for x in self._items(result, last=True))
        if len(self.box.children) != used + 1:
            self.box.children = (*self.parts[:used], self.output)
        for area in self.parts[used:]:  # not shown: drop what they held
            area.outputs = ()
        if tuple(self.output.outputs) != tuple(shown):
            self.output.outputs = tuple(shown)
        self.drawn = True
        yield

    @staticmethod
    def _items(result: Any, *, last: bool) -> list[Any]:
        """What one result shows: a table widget, an empty state for nothing, a DataFrame as a table."""
        if isinstance(result, Table):
            result = result.widget
        if result is None and not last:
            return []
        if result is None or (hasattr(result, "__len__") and not isinstance(result, str | bytes) and
                              hasattr(result, "columns") and len(result) == 0):
            result = empty()
        elif hasattr(result, "columns") and hasattr(result, "itertuples"):
            result = table(result)
        return list(result) if isinstance(result, list | tuple) else [result]


def _output(obj: Any) -> dict[str, Any]:
    """``obj`` as an Output widget's display_data (how the kernel would show it)."""
    from IPython import get_ipython

    ip = get_ipython()
    if isinstance(obj, str):
        from IPython.display import HTML

        obj = HTML(obj)
    if hasattr(obj, "to_plotly_json"):  # a Plotly figure displays itself (_ipython_display_): build its bundle
        # what the plotly_mimetype renderer sends, without its registry (importing it costs more than the
        # figure) or a second validation: the figure was validated as it was built
        import json

        import plotly.io as pio

        spec = json.loads(pio.to_json(obj, validate=False, remove_uids=False))
        return {"output_type": "display_data", "data": {PLOTLY: spec,
                                                         "text/plain": "<figure>"}, "metadata": {}}
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
        # Clicked by the page's script (the opsnb Voila template's opsnb-ready.js) once the page has built
        # its widgets: only then do updates reach it. The page's widget manager fetches every widget's
        # state (and falls back to a path that lost widgets made meanwhile when that took over 4 s), then
        # builds them; an update sent before a widget is built is dropped. A board that drew while its
        # page connected showed an empty header or stayed "Loading widget..." for good.
        self.ready = ipywidgets.Button(description="ready", layout=ipywidgets.Layout(display="none"))
        self.ready.add_class("opsnb-ready")
        self._page_ready: asyncio.Event | None = None
        self.ready.on_click(lambda _b: self._page_ready.set() if self._page_ready is not None else None)
        self._task: Any = None
        self._drawing: Any = None  # the round being drawn on the event loop, if any

    def panel(self, title: str, draw: Callable[[dict[str, Any]], Any], *, heading: bool = True) -> Panel:
        """Add a panel drawn by ``draw(values)`` (a DataFrame, figure, HTML, or a list of them)."""
        p = Panel(title, draw)
        p.heading = heading  # type: ignore[attr-defined]
        self.panels.append(p)
        return p

    def table(self, title: str, rows: Callable[[dict[str, Any]], Any], *, heading: bool = True,
              **options: Any) -> Table:
        """Add a panel holding a sortable, paged :class:`Table` fed by ``rows(values)`` at every redraw.

        ``rows`` returns a DataFrame (an empty one shows the empty state), or anything a panel
        shows (an empty-state message, say). ``options`` go to :class:`Table`.
        """
        t = Table(**options)

        def draw(values: dict[str, Any]) -> Any:
            df = rows(values)
            if df is None or not hasattr(df, "columns"):
                return df
            if len(df) == 0:
                return empty()
            return t.update(df)

        self.panel(title, draw, heading=heading)
        return t

    def set(self, name: str, value: Any) -> None:
        """Change one parameter (its dropdown follows) and redraw: how a drill-down moves the board."""
        widget = self.controls.get(name)
        if widget is not None:
            if value not in [v for _, v in widget.options]:
                widget.options = [*widget.options, (str(value), value)]
            if widget.value != value:
                widget.value = value  # its observer redraws
                return
        self._changed(name, value)

    def drill(self, name: str, column: str | None = None) -> Callable[[dict[str, Any]], None]:
        """An ``on_pick`` for a :class:`Table`: the clicked row's ``column`` (default ``name``) becomes ``name``."""
        return lambda row: self.set(name, row.get(column or name))

    def _changed(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.redraw()

    def redraw(self) -> None:
        """Draw the header and every panel again (each on its own), now."""
        self._cancel_drawing()
        for _ in self._round():
            pass

    def _round(self) -> Iterator[None]:
        """One redraw, pausing (``yield``) after each part that reached the page."""
        self.rounds += 1
        workspace = os.path.basename(str(getattr(self.ops, "workspace", "") or "")) if self.ops is not None else ""
        self.head.value = header(self.title, workspace=workspace, hours=self.values.get("hours"))
        every = f"refreshes every {self.refresh:g} s" if self.refresh else "no auto-refresh"
        self.status.value = (f'<span class="opsnb-meta opsnb-refresh opsnb-updating" data-round="{self.rounds - 1}">'
                             f"{every} · updating…</span>")
        for p in self.panels:
            yield from p.steps(self.values)
        failed = sum(1 for p in self.panels if p.error is not None)
        self.status.value = (f'<span class="opsnb-meta opsnb-refresh" data-round="{self.rounds}">{every} · '
                             f"update {self.rounds}" + (f" · {failed} panel(s) failed" if failed else "")
                             + "</span>")

    async def redraw_async(self) -> None:
        """:meth:`redraw` on the kernel's event loop, giving it back after each part.

        The kernel answers the page in those gaps: the page asks for the widgets' state once the
        notebook has run, and then gets each panel as it is drawn (the first chart first) instead
        of every panel at the end.
        """
        for _ in self._round():
            await asyncio.sleep(YIELD_S)

    def _cancel_drawing(self) -> None:
        task, self._drawing = self._drawing, None
        if task is not None and not task.done() and task is not _current_task():
            task.cancel()

    def show(self) -> None:
        """Display the board, draw it and start its refresh loop (in the kernel: the page is not reloaded).

        In a kernel the panels are drawn after the cell ends, one part at a time on the kernel's
        event loop (:meth:`redraw_async`), so the page shows the board at once with each panel
        loading and fills it in order; outside one (a script, a test) they are drawn before
        ``show`` returns.
        """
        import ipywidgets
        from IPython.display import display

        items: list[Any] = [self.head, self.bar, self.status, self.ready]
        for p in self.panels:
            if getattr(p, "heading", True):
                items.append(ipywidgets.HTML(f"<h3>{esc(p.title)}</h3>"))
            items.append(p.box)
        # shown first, each panel in its loading state, then drawn panel by panel
        display(ipywidgets.VBox(items, layout=ipywidgets.Layout(width="100%", max_width="100%")))
        loop = _kernel_loop()
        if loop is None:
            self.redraw()
            if self.refresh > 0:
                self._start()
            return
        # in Voila, the first round waits for the page (see ``ready``); JupyterLab's page is there already
        self._page_ready = asyncio.Event() if os.environ.get("VOILA_KERNEL_ID") else None
        self._task = loop.create_task(self._loop(first=True))

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                return
        self._task = loop.create_task(self._loop())

    async def _loop(self, *, first: bool = False) -> None:
        if first:
            if self._page_ready is not None:
                with contextlib.suppress(TimeoutError):  # no script clicked (scripts off): draw anyway
                    await asyncio.wait_for(self._page_ready.wait(), PAGE_WAIT_S)
            await self._draw_in_turn()
        while self.refresh > 0:
            await asyncio.sleep(self.refresh)
            await self._draw_in_turn()

    async def _draw_in_turn(self) -> None:
        # its own task, so a click (redraw) cancels the round it replaces, not the refresh loop
        self._drawing = asyncio.ensure_future(self.redraw_async())
        try:
            await asyncio.shield(self._drawing)
        except asyncio.CancelledError:
            me = _current_task()
            if me is not None and me.cancelling():
                raise  # stop(): the loop itself was cancelled, not just the round

    def stop(self) -> None:
        """Stop refreshing."""
        self._cancel_drawing()
        if self._task is not None:
            self._task.cancel()


YIELD_S = 0.005
"""How long a drawing board gives the kernel's event loop between parts: long enough for a message
from the page to be read and answered (it takes a few loop turns), short beside any part's draw."""


PAGE_WAIT_S = 15.0
"""How long a Voila board waits for its page to say it is ready before drawing anyway."""


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop of the IPython kernel this runs in, or None (no kernel, or no loop)."""
    from IPython import get_ipython

    if get_ipython() is None or type(get_ipython()).__name__ != "ZMQInteractiveShell":
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


from opsnb.widgets.grid import Table  # noqa: E402  (it uses the helpers above)

__all__ = ["Board", "Panel", "Table", "badge", "banner", "empty", "error", "esc", "header", "kpi", "kpis", "loading",
           "options", "params", "table", "tone_of"]
