"""How a board draws: panels one part at a time on the kernel's event loop, so the page gets each as it is ready.

The first chart of a dashboard reaches the page once it is drawn, not once every panel is: in a
kernel ``Board.show`` returns at once and draws on the event loop, giving it back between parts
(the kernel answers the page in those gaps), and a panel whose draw is a generator shows each part
as it is made. Checked here on the board itself and in a real IPython kernel.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

import opsnb.widgets as w


def _texts(panel: w.Panel) -> list[str]:
    return [str(o["data"].get("text/html", o["data"].get("text/plain", ""))) for o in panel.outputs]


def test_a_generator_panel_shows_each_part_as_it_is_made() -> None:
    made: list[str] = []

    def parts(_p: dict[str, Any]) -> Iterator[Any]:
        for name in ("first", "second", "third"):
            made.append(name)
            yield f"<p>{name}</p>"

    board = w.Board("T", None, refresh=0)
    panel = board.panel("Parts", parts)
    steps = panel.steps(board.values)
    next(steps)
    # the first part is out before the second is computed; the loading line stays below it
    assert made == ["first"]
    assert "first" in _texts(panel)[0] and "Loading" in _texts(panel)[1]
    for _ in steps:
        pass
    assert [t for t in _texts(panel)] == ["<p>first</p>", "<p>second</p>", "<p>third</p>"]
    assert panel.drawn and panel.error is None


def test_each_part_of_a_panel_reaches_the_page_once() -> None:
    import plotly.graph_objects as go

    rounds = [0]

    def charts(_p: dict[str, Any]) -> Iterator[Any]:
        rounds[0] += 1
        yield "<p>what the charts mean</p>"
        for i in range(3):
            yield go.Figure(go.Scatter(y=[i, i + rounds[0]]))

    board = w.Board("T", None, refresh=0)
    panel = board.panel("Charts", charts)
    sent: list[tuple[str, int]] = []  # what travels to the page: (area, outputs in it) per update
    panel.output.observe(lambda change: sent.append(("output", len(change["new"]))), names="outputs")
    panel.box.observe(lambda change: sent.append(("areas", len(change["new"]))), names="children")
    for _ in panel.steps(board.values):
        pass
    assert len(panel.parts) == 4
    # each part is its own area, added once: the page draws each chart once (in one shared area it drew
    # every output again at each update, 1 + 2 + 3 charts), and the loading line goes at the end
    assert sent == [("areas", 2), ("areas", 3), ("areas", 4), ("areas", 5), ("output", 0)]
    assert sum(w.PLOTLY in o["data"] for o in panel.outputs) == 3
    # a refresh reuses the areas: no new widget on the page, each changed chart sent once again (the
    # unchanged text is not sent)
    sent.clear()
    charts_sent: list[int] = []
    for area in panel.parts:
        area.observe(lambda change: charts_sent.append(sum(w.PLOTLY in o["data"] for o in change["new"])),
                     names="outputs")
    panel.render(board.values)
    assert sent == [] and charts_sent == [1, 1, 1]


def test_a_redraw_keeps_the_old_parts_below_the_new_ones_until_they_are_replaced() -> None:
    rounds = iter(("a", "b"))

    def parts(_p: dict[str, Any]) -> Iterator[Any]:
        tag = next(rounds)
        yield f"<p>{tag}1</p>"
        yield f"<p>{tag}2</p>"

    board = w.Board("T", None, refresh=0)
    panel = board.panel("Parts", parts)
    panel.render(board.values)
    steps = panel.steps(board.values)
    next(steps)
    assert _texts(panel) == ["<p>b1</p>", "<p>a2</p>"]  # the page does not jump during a refresh
    for _ in steps:
        pass
    assert _texts(panel) == ["<p>b1</p>", "<p>b2</p>"]


def test_a_generator_that_fails_part_way_keeps_its_parts_and_shows_its_error() -> None:
    def parts(_p: dict[str, Any]) -> Iterator[Any]:
        yield "<p>drawn</p>"
        raise RuntimeError("lake unreadable")

    def nothing(_p: dict[str, Any]) -> Iterator[Any]:
        yield from ()

    board = w.Board("T", None, refresh=0)
    bad = board.panel("Half", parts)
    none = board.panel("None", nothing)
    board.redraw()
    assert _texts(bad)[0] == "<p>drawn</p>" and "lake unreadable" in _texts(bad)[1]
    assert isinstance(bad.error, RuntimeError)
    assert "Nothing" in _texts(none)[0] and none.error is None
    assert "1 panel(s) failed" in board.status.value


def test_the_event_loop_runs_between_panels_and_parts() -> None:
    seen: list[tuple[str, int]] = []
    board = w.Board("T", None, refresh=0)

    def one(_p: dict[str, Any]) -> Any:
        return "<p>one</p>"

    def two(_p: dict[str, Any]) -> Iterator[Any]:
        yield "<p>two a</p>"
        yield "<p>two b</p>"

    first = board.panel("One", one)
    second = board.panel("Two", two)

    async def main() -> None:
        done = asyncio.Event()

        async def watch() -> None:  # what a message from the page would see, turn by turn
            while not done.is_set():
                seen.append(("one" if first.drawn else "-", len(_texts(second)) if not second.drawn else 9))
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch())
        await board.redraw_async()
        done.set()
        await watcher

    asyncio.run(main())
    # the loop saw panel one drawn while panel two had only its first part (and the loading line)
    assert ("one", 2) in seen
    assert _texts(second) == ["<p>two a</p>", "<p>two b</p>"] and board.rounds == 1


def test_a_click_during_a_round_replaces_it_and_the_refresh_goes_on() -> None:
    board = w.Board("T", None, refresh=0)
    calls: list[int] = []

    def parts(_p: dict[str, Any]) -> Iterator[Any]:
        calls.append(board.rounds)
        for i in range(5):
            yield f"<p>{i}</p>"

    panel = board.panel("Parts", parts)

    async def main() -> None:
        board.refresh = 0.05
        board._task = asyncio.create_task(board._loop(first=True))
        await asyncio.sleep(0)  # the first round has begun
        while not calls:
            await asyncio.sleep(0.001)
        board.redraw()  # a click: drawn now, the round on the loop is cancelled
        assert len(_texts(panel)) == 5
        await asyncio.sleep(0.3)  # the loop itself goes on refreshing
        board.stop()
        with pytest.raises(asyncio.CancelledError):
            await board._task

    asyncio.run(main())
    assert len(calls) >= 3 and board.rounds >= 3


def test_outside_a_kernel_show_draws_before_it_returns(capsys: pytest.CaptureFixture[str]) -> None:
    board = w.Board("T", None, refresh=0)
    panel = board.panel("One", lambda p: "<p>one</p>")
    board.show()
    capsys.readouterr()
    assert _texts(panel) == ["<p>one</p>"] and board.rounds == 1


def test_a_figure_is_sent_as_the_plotly_mimetype_renderer_would() -> None:
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="<b>x</b>"))
    sent = w._output(fig)["data"]
    want = pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict())
    assert sent["application/vnd.plotly.v1+json"] == want["application/vnd.plotly.v1+json"]


KERNEL_IMPORTS = "import time\nimport opsnb.widgets as w\nimport ipywidgets"
KERNEL_CODE = """
board = w.Board("T", None, refresh=0)
def slow(name):
    def draw(_p):
        time.sleep(1.0)
        return "<p>" + name + "</p>"
    return draw
panels = [board.panel(n, slow(n)) for n in ("one", "two", "three", "four")]
board.show()
"""


@pytest.mark.slow
def test_in_a_kernel_show_returns_at_once_and_the_kernel_answers_between_panels() -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive(KERNEL_IMPORTS, timeout=120)
        t0 = time.perf_counter()
        reply = kc.execute_interactive(KERNEL_CODE, timeout=60)
        took = time.perf_counter() - t0
        assert reply["content"]["status"] == "ok"
        assert took < 1.0  # not the 4 s of drawing four panels
        time.sleep(1.5)  # the first panel is drawn, the second is drawing
        got: list[str] = []
        t0 = time.perf_counter()
        kc.execute_interactive("import json; print(json.dumps([p.drawn for p in panels]))", timeout=60,
                               output_hook=lambda m: got.append(m["content"].get("text", "")))
        answered = time.perf_counter() - t0
        drawn = json.loads("".join(got))
        assert drawn[0] and not drawn[-1]  # answered mid-round, not after it
        assert answered < 1.8  # after at most the panel in progress (1 s), on a loaded machine
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_burndown_shading_is_what_add_vrect_would_draw() -> None:
    import pandas as pd
    import plotly.graph_objects as go

    from opsnb.widgets import charts

    t = pd.date_range("2026-01-01", periods=8, freq="1h", tz="UTC")
    frame = pd.DataFrame({"time": t, "good": 9.0, "total": 10.0, "sli": 0.9, "bad": 1.0,
                          "remaining": [1 - i / 10 for i in range(8)], "ideal": [1 - i / 8 for i in range(8)],
                          "below": [False, True, True, False, True, False, True, True]})
    fig = charts.burndown_figure("x", frame, t[0].to_pydatetime(), t[-1].to_pydatetime(), 0.95)
    want = go.Figure()
    for a, b in charts.below_spans(frame, t[1] - t[0]):
        want.add_vrect(x0=a, x1=b, fillcolor="#e74c3c", opacity=0.15, line_width=0, layer="below")
    assert len(want.layout.shapes) == 3
    assert fig.to_dict()["layout"]["shapes"] == want.to_dict()["layout"]["shapes"]
