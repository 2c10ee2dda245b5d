"""Fixtures of the runbooks tests: small runbooks written on the fly, a workbench that runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import make_ops

REPO_RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"

TRIVIAL_PARAMS = 'x: int = 1  # a number\nname: str = "world"  # who to greet\n'
TRIVIAL_BODY = 'import opsnb.runbooks as rb\nrb.record("double", x * 2)\nprint("hello", name)\n'


def write_runbook(directory: Path, name: str, params: str = TRIVIAL_PARAMS, cells: list[str] | None = None,
                  meta: dict[str, Any] | None = None, *, raw_meta: bool = False) -> Path:
    """Write a runbook notebook; ``meta`` is merged over a valid read-only contract."""
    nb = nbformat.v4.new_notebook()
    contract = {"title": name.replace("-", " ").title(), "description": f"test runbook {name}",
                "category": "check", "risk": "read-only", "roles": ["operator"], "timeout": 60}
    if raw_meta:
        contract = meta  # type: ignore[assignment]
    elif meta is not None:
        contract = {**contract, **meta}
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), p,
                *[nbformat.v4.new_code_cell(c) for c in (cells if cells is not None else [TRIVIAL_BODY])]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if contract is not None:
        nb.metadata["opsnb"] = contract
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture
def rb_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runbooks"
    write_runbook(d, "trivial")
    write_runbook(d, "fix-thing", 'host: str = "web-1"  # target\ndry_run: bool = True  # only show\n',
                  ['import opsnb.runbooks as rb\nrb.record("mode", "dry" if dry_run else "real")\n'],
                  {"risk": "high", "category": "remediation", "roles": ["operator"]})
    return d


@pytest.fixture
def rops(tmp_path: Path, db_url: str, rb_dir: Path) -> Iterator[Any]:
    """A workbench (SQLite and PostgreSQL) whose runbooks are the test ones."""
    wb = make_ops(tmp_path / "ws", db_url if "postgres" in db_url else "", runbooks_dir=str(rb_dir))
    yield wb
    wb.close()


@pytest.fixture
def rops_sqlite(tmp_path: Path, rb_dir: Path) -> Iterator[Any]:
    wb = make_ops(tmp_path / "ws", runbooks_dir=str(rb_dir))
    yield wb
    wb.close()
