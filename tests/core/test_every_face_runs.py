"""Every notebook, runbook and dashboard is executed by some test (house rule 8)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_notebook_runbook_and_dashboard_is_named_by_a_test() -> None:
    faces = sorted(p for d in ("notebooks", "runbooks", "dashboards") for p in (REPO / d).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
    assert faces, "no notebooks found"
    tests = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py") if p.name != Path(__file__).name)
    missing = [str(p.relative_to(REPO)) for p in faces if f'"{p.stem}"' not in tests and p.name not in tests]
    assert missing == []
