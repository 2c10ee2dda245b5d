"""Every face (notebook, runbook, dashboard) uses the public API only, and runbooks read as documents.

Faces call ``ops.<service>`` methods: no private or demo modules, no SQL of their own, no
database or DuckDB handles, and no definition of an error event beside the library's one
(:mod:`opsnb.logs.error_event`). A scan of the stored sources, so it fails before anything runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
FACES = sorted(p for d in ("notebooks", "runbooks", "dashboards") for p in (REPO / d).rglob("*.ipynb")
               if ".ipynb_checkpoints" not in p.parts)

FORBIDDEN: dict[str, re.Pattern[str]] = {
    "a private opsnb module": re.compile(r"\bopsnb\._"),
    "the demo package": re.compile(r"\bopsnb\.demo\b|\bfrom opsnb import demo\b"),
    "DuckDB directly": re.compile(r"\bimport duckdb\b|\bduckdb\."),
    "SQLAlchemy": re.compile(r"\bsqlalchemy\b"),
    "a SQL SELECT": re.compile(r"\bSELECT\s"),
    "a SQL FROM": re.compile(r"\bFROM\s"),
    "raw lake or database access": re.compile(r"\.lake\.(query|arrow|duckdb)\(|\.logs\.sql\(|\.db\.(session|engine)\b"),
    "a hidden import": re.compile(r"__import__\("),
    "its own definition of an error": re.compile(r"\b(HttpStatus|SeverityNumber)\b\s*(>=|>|<=|<|==)"),
}


def _code(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_faces_are_found() -> None:
    names = {p.stem for p in FACES}
    assert {"incident-explorer", "overview", "high-error-rate-triage", "service-down-triage"} <= names


@pytest.mark.parametrize("path", FACES, ids=[str(p.relative_to(REPO)) for p in FACES])
def test_face_uses_the_public_api_only(path: Path) -> None:
    found = [f"cell {i}: {what}: {m.group(0)!r}"
             for i, src in enumerate(_code(path)) for what, rx in FORBIDDEN.items() for m in rx.finditer(src)]
    assert found == [], f"{path.relative_to(REPO)} reaches past the public API:\n" + "\n".join(found)


def test_the_scan_catches_what_the_faces_used_to_do() -> None:
    """The patterns match the offending lines the four faces held before they used the library."""
    old = [
        'from opsnb._modules import module_exists',
        'from opsnb.demo.generate import info',
        'ops.lake.query("SELECT max(Timestamp) AS t FROM logs")',
        '"count(*) FILTER (WHERE SeverityNumber >= 17) AS errors FROM logs "',
        "avg(CASE WHEN HttpStatus >= 500 THEN 1.0 ELSE 0.0 END)",
        '__import__("opsnb.slo.backtest", fromlist=["x"])',
    ]
    for line in old:
        assert any(rx.search(line) for rx in FORBIDDEN.values()), line
    assert not any(rx.search("from datetime import timedelta\nops.logs.service_metrics(since=start)")
                   for rx in FORBIDDEN.values())


@pytest.mark.parametrize("path", sorted((REPO / "runbooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_runbook_steps_are_explained(path: Path) -> None:
    """A markdown cell before each step (every code cell after the parameters and the setup cell)."""
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    params = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    code = [i for i, c in enumerate(cells) if c.cell_type == "code" and i > params]
    assert code, "a runbook with no steps"
    setup, steps = code[0], code[1:]
    assert "opsnb.connect()" in cells[setup].source
    assert steps, "a runbook with no step after its setup"
    bare = [i for i in steps if cells[i - 1].cell_type != "markdown" or len(cells[i - 1].source.strip()) < 40]
    assert bare == [], f"steps without a markdown cell saying what they check and why: cells {bare}"
    assert nb.metadata.get("opsnb", {}).get("title")  # the runbook contract is kept
