"""notebooks/logs-and-traces.ipynb, executed with papermill on the small demo world."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "logs-and-traces.ipynb"


def _cell(nb: Any, tag: str) -> Any:
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, tag
    return found[0]


def _data(cell: Any, mime: str) -> list[Any]:
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


@pytest.mark.slow
def test_logs_and_traces_notebook_finds_the_bad_deploy(demo_workspace: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill as pm

    monkeypatch.setenv("OPSNB_WORKSPACE", str(demo_workspace))
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", progress_bar=False,
                        parameters={"incident": "INC-1"}, cwd=str(tmp_path))
    nb = nbformat.read(out, as_version=4)
    assert "checkout" in "".join(_data(_cell(nb, "window"), "text/html"))
    assert _data(_cell(nb, "window-figure"), "application/vnd.plotly.v1+json")
    patterns = "".join(_data(_cell(nb, "patterns"), "text/html"))
    assert "new" in patterns or "spiking" in patterns
    errors = "".join(_data(_cell(nb, "errors"), "text/html"))
    assert "checkout" in errors and " 500 " in errors
    fig = _data(_cell(nb, "waterfall"), "application/vnd.plotly.v1+json")[0]
    assert {t.get("name") for t in fig["data"]} & {"checkout", "frontend"}
    graph = "".join(_data(_cell(nb, "graph"), "text/html"))
    assert "frontend" in graph and "checkout" in graph
