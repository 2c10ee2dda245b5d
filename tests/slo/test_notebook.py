"""notebooks/slo-tuning.ipynb executed with papermill on the small demo world."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "slo-tuning.ipynb"


def _cell(nb, tag: str):  # type: ignore[no-untyped-def]
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, tag
    return found[0]


def test_notebook_is_stored_clean_with_parameters() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert "workspace" in _cell(nb, "parameters").source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_backtest_notebook_on_the_demo_world(demo_workspace: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill as pm

    monkeypatch.setenv("OPSNB_WORKSPACE", str(demo_workspace))
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", parameters={"grace": "2h"},
                        progress_bar=False, cwd=str(tmp_path))
    nb = nbformat.read(out, as_version=4)
    summary = "".join(o.get("data", {}).get("text/html", "") for o in _cell(nb, "summary").outputs)
    for policy in ("workbook", "single-1h", "single-6h", "pages-only", "twice-as-strict"):
        assert f"<th>{policy}</th>" in summary
    incidents = "".join(o.get("data", {}).get("text/html", "") for o in _cell(nb, "incidents").outputs)
    assert "INC-1" in incidents
    fig = [o for o in _cell(nb, "figure").outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert fig and fig[0]["data"]["application/vnd.plotly.v1+json"]["data"][0]["name"].endswith("burn rate (10 min)")
    # the same numbers the library gives
    from opsnb.workbench import connect

    ops = connect(demo_workspace)
    try:
        bt = ops.slos.backtest(grace="2h")
        recall = bt.summary.set_index("policy").loc["workbook", "recall"]
        assert f"{recall:.3f}" in summary
    finally:
        ops.close()
