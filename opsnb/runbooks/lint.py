"""The runbook checker: every runbook must honour the contract before anyone runs it.

A runbook fails the check when it has no ``metadata.opsnb`` (or the metadata is
incomplete or wrong), no ``parameters`` cell, an unannotated or non-literal
parameter, or when it mutates (risk ``low``/``high``) without a dry-run path: a
``dry_run: bool = True`` parameter that the code actually reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from opsnb.errors import ParseError
from opsnb.runbooks.catalog import CATEGORIES, RISKS, ROLE_NAMES, Runbook, load

_REQUIRED = ("title", "description", "category", "risk", "roles", "timeout")
_DRY_READ = re.compile(r"\bdry_run\b")


@dataclass(frozen=True)
class Problem:
    """One problem the checker found."""

    runbook: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"runbook": self.runbook, "problem": self.problem}


def check(rb: Runbook, raw_meta: dict | None = None) -> list[str]:
    """Every contract problem of one runbook (empty when it passes)."""
    out: list[str] = []
    if not rb.has_metadata:
        return ["no metadata.opsnb (title, description, category, risk, roles, timeout)",
                *([] if rb.has_parameters_cell else ["no cell tagged 'parameters'"])]
    meta = raw_meta or {}
    for key in _REQUIRED:
        if key not in meta or meta[key] in ("", None, []):
            out.append(f"metadata.opsnb.{key} is missing")
    if rb.category and rb.category not in CATEGORIES:
        out.append(f"category {rb.category!r} is not one of {', '.join(CATEGORIES)}")
    if rb.risk not in RISKS:
        out.append(f"risk {rb.risk!r} is not one of {', '.join(RISKS)}")
    bad_roles = [r for r in rb.roles if r not in ROLE_NAMES]
    if bad_roles:
        out.append(f"unknown roles {bad_roles}; roles are {', '.join(ROLE_NAMES)}")
    if rb.timeout <= 0:
        out.append("timeout must be positive")
    if not rb.has_parameters_cell:
        out.append("no cell tagged 'parameters' with annotated typed defaults")
    out.extend(rb.problems)
    for p in rb.parameters:
        out.extend(f"parameter {p.name}: {msg}" for msg in p.problems)
        if not p.help:
            out.append(f"parameter {p.name}: no help comment (`{p.name}: {p.type} = ...  # what it is`)")
    if rb.target and rb.param(rb.target) is None:
        out.append(f"metadata.opsnb.target names {rb.target!r}, which is not a parameter")
    if rb.mutating:
        dry = rb.param("dry_run")
        if dry is None or dry.type != "bool":
            out.append(f"risk {rb.risk!r} mutates but has no `dry_run: bool = True` parameter")
        elif dry.default is not True:
            out.append("dry_run must default to True")
        else:
            body = "\n".join(rb.cell_sources)
            # The parameters cell mentions dry_run once; a dry-run path reads it again.
            if len(_DRY_READ.findall(body)) < 2:
                out.append("dry_run is declared but never read: no dry-run path")
    return out


def lint_paths(paths: list[Path]) -> list[Problem]:
    """Check runbook files; a file that does not parse is one problem, not a crash."""
    import json

    problems: list[Problem] = []
    for path in paths:
        try:
            rb = load(path)
            meta = json.loads(path.read_bytes()).get("metadata", {}).get("opsnb")
        except ParseError as exc:
            problems.append(Problem(path.stem, str(exc)))
            continue
        problems.extend(Problem(rb.name, msg) for msg in check(rb, meta if isinstance(meta, dict) else None))
    return problems


def lint_dir(directory: str | Path) -> list[Problem]:
    """Check every ``*.ipynb`` in a directory."""
    return lint_paths(sorted(Path(directory).glob("*.ipynb")))
