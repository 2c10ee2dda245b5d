"""The incident explorer notebook and the overview dashboard, executed with papermill on the small demo world."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
EXPLORER = REPO / "notebooks" / "incident-explorer.ipynb"
OVERVIEW = REPO / "dashboards" / "overview.ipynb"


def _run(path: Path, out: Path, ws: Path, monkeypatch: pytest.MonkeyPatch, **params: Any) -> Any:
    import papermill as pm

    monkeypatch.setenv("OPSNB_WORKSPACE", str(ws))  # the kernel inherits it
    pm.execute_notebook(str(path), str(out), kernel_name="python3", parameters=params, progress_bar=False,
                        cwd=str(out.parent))
    return nbformat.read(out, as_version=4)


def _cell(nb: Any, tag: str) -> Any:
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"one cell tagged {tag!r} expected"
    return found[0]


def _figures(cell: Any) -> list[dict[str, Any]]:
    return [o["data"]["application/vnd.plotly.v1+json"] for o in cell.outputs
            if "application/vnd.plotly.v1+json" in o.get("data", {})]


def _values(v: Any) -> list[Any]:
    """Plotly's JSON holds numeric arrays as base64 typed arrays (``{"dtype", "bdata"}``)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def _html(cell: Any) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def test_notebooks_declare_parameters() -> None:
    for path in (EXPLORER, OVERVIEW):
        nb = nbformat.read(path, as_version=4)
        params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1 and "workspace" in params[0].source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored clean


@pytest.mark.slow
def test_incident_explorer_shows_the_bad_deploy(demo_workspace: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from opsnb.workbench import connect

    with connect(demo_workspace) as ops:
        inc = ops.incidents.get("INC-1")
    impact, mitigated = inc.milestones["impact_start"], inc.milestones["mitigated"]
    assert impact is not None and mitigated is not None
    nb = _run(EXPLORER, tmp_path / "out.ipynb", demo_workspace, monkeypatch, incident="INC-1")

    fig = _figures(_cell(nb, "error-figure"))[0]
    checkout = next(t for t in fig["data"] if t["name"] == "checkout")
    # plotly writes UTC wall times without an offset
    points = [(datetime.fromisoformat(x).replace(tzinfo=UTC), y) for x, y in zip(_values(checkout["x"]), _values(checkout["y"]),
                                                                       strict=True)]
    inside = [y for x, y in points if impact <= x < mitigated]
    outside = [y for x, y in points if x < impact]
    # Means, not maxima: at 20 % scale a quiet minute holds one or two requests, so a single
    # baseline 5xx outside the impact can plot as 100 % (it did, for an end hour of 23:00).
    assert inside and outside and max(inside) > 0.2
    mean_in, mean_out = sum(inside) / len(inside), sum(outside) / len(outside)
    assert mean_in > 0.1 and mean_out < mean_in / 3, (mean_in, mean_out)
    labels = [a["text"] for a in fig["layout"].get("annotations", [])]
    assert any(lbl.startswith("checkout ") for lbl in labels)  # the deploy marker
    assert "INC-1" in labels  # the shaded impact

    assert _figures(_cell(nb, "latency-figure"))[0]["data"]
    patterns = _html(_cell(nb, "patterns"))
    assert "NullPointerException" in patterns
    trace = _figures(_cell(nb, "trace"))
    assert trace and sum(len(_values(t["y"])) for t in trace[0]["data"] if t["type"] == "bar") >= 2  # several spans
    timeline = _html(_cell(nb, "timeline"))
    assert "mitigated" in timeline and "resolved" in timeline


@pytest.mark.slow
def test_incident_explorer_refuses_an_unknown_incident(demo_workspace: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as err:
        _run(EXPLORER, tmp_path / "bad.ipynb", demo_workspace, monkeypatch, incident="INC-99'; DROP")
    assert err.value.ename == "ValueError" and "no incident" in err.value.evalue


@pytest.mark.slow
def test_overview_dashboard_has_health_figure_and_deploys(demo_workspace: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _run(OVERVIEW, tmp_path / "overview.ipynb", demo_workspace, monkeypatch, workspace=str(demo_workspace))
    health = _html(_cell(nb, "health"))
    for svc in ("frontend", "checkout", "payments", "catalog", "search", "auth"):
        assert f">{svc}<" in health
    assert "errors (1h)" in health and "p99 ms (24h)" in health and "%" in health
    fig = _figures(_cell(nb, "error-figure"))[0]
    names = {t["name"] for t in fig["data"]}
    assert {"checkout", "search", "frontend"} <= names
    assert all(len(_values(t["x"])) > 10 for t in fig["data"] if t["name"] == "checkout")
    deploys = _html(_cell(nb, "deploys"))
    assert "DEP-" in deploys and "prod" in deploys
    assert _html(_cell(nb, "incidents"))  # a table, "no incidents" or "not installed": never a crash
    json.dumps(fig)  # plain JSON a browser can draw
