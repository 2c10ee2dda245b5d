"""The runbook catalog: metadata and parameters of ``runbooks/*.ipynb``, read without a kernel.

A runbook's contract lives in ``metadata.opsnb`` (title, description, category,
risk, roles, timeout, tags, target) and in its first cell tagged ``parameters``
(see :mod:`opsnb.runbooks.params`). Files are parsed as JSON and cached by
modification time, so listing the catalog costs milliseconds.
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsnb.errors import NotFound, ParseError, ValidationError
from opsnb.runbooks.params import Param, parse_parameters

CATEGORIES: tuple[str, ...] = ("diagnostic", "remediation", "incident-response", "maintenance", "check")
RISKS: tuple[str, ...] = ("read-only", "low", "high")
ROLE_NAMES: tuple[str, ...] = ("viewer", "responder", "operator", "admin")
DEFAULT_TIMEOUT = 600
MAX_NOTEBOOK_BYTES = 20_000_000
MAX_NAME_BYTES = 255  # a file name's limit on Linux and macOS


@dataclass
class Runbook:
    """One runbook notebook and its contract."""

    name: str
    path: Path
    title: str = ""
    description: str = ""
    category: str = ""
    risk: str = "read-only"
    roles: list[str] = field(default_factory=lambda: ["operator"])
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float | None = None
    tags: list[str] = field(default_factory=list)
    target: str | None = None  # name of the parameter that selects servers
    parameters: list[Param] = field(default_factory=list)
    has_metadata: bool = False
    has_parameters_cell: bool = False
    problems: list[str] = field(default_factory=list)
    kernel_name: str = "python3"
    cell_sources: list[str] = field(default_factory=list)

    @property
    def mutating(self) -> bool:
        """Whether the runbook changes things (risk low or high)."""
        return self.risk != "read-only"

    @property
    def has_dry_run(self) -> bool:
        p = self.param("dry_run")
        return p is not None and p.type == "bool"

    @property
    def required_role(self) -> str:
        """The least powerful role allowed to run it for real."""
        ranks = [ROLE_NAMES.index(r) for r in self.roles if r in ROLE_NAMES]
        return ROLE_NAMES[min(ranks)] if ranks else "admin"

    @property
    def secret_params(self) -> list[str]:
        return [p.name for p in self.parameters if p.secret]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.parameters if p.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "description": self.description,
            "category": self.category, "risk": self.risk, "roles": list(self.roles),
            "timeout": self.timeout, "tags": list(self.tags), "target": self.target,
            "parameters": [p.as_dict() for p in self.parameters], "path": str(self.path),
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(p.name)}</code></td><td>{html.escape(p.type)}</td>"
            f"<td><code>{html.escape(repr(p.default))}</code></td><td>{html.escape(p.help)}</td></tr>"
            for p in self.parameters)
        return (f"<div><b>{html.escape(self.title or self.name)}</b> <code>{html.escape(self.name)}</code>"
                f" &middot; {html.escape(self.category)} &middot; risk <b>{html.escape(self.risk)}</b>"
                f"<p>{html.escape(self.description)}</p><table><tr><th>parameter</th><th>type</th>"
                f"<th>default</th><th>help</th></tr>{rows}</table></div>")


def _text(src: Any) -> str:
    return "".join(src) if isinstance(src, list) else str(src or "")


def load(path: str | Path) -> Runbook:
    """Read one runbook's contract from its notebook file.

    Raises:
        NotFound: No such file.
        ParseError: The file is not a notebook (too big, not JSON, no cells).
    """
    path = Path(path)
    name = path.stem
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"no runbook file {path}", kind="runbook", key=name) from None
    if size > MAX_NOTEBOOK_BYTES:
        raise ParseError(f"runbook {path} is {size} bytes (limit {MAX_NOTEBOOK_BYTES})", source=str(path))
    try:
        nb = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"runbook {path} is not a notebook (not JSON: {exc})", source=str(path)) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ParseError(f"runbook {path} is not a notebook (no cells)", source=str(path))
    raw_meta = nb.get("metadata")
    meta_all: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    meta = meta_all.get("opsnb")
    rb = Runbook(name=name, path=path.resolve())
    kernelspec = meta_all.get("kernelspec")
    if isinstance(kernelspec, dict) and isinstance(kernelspec.get("name"), str):
        rb.kernel_name = kernelspec["name"]
    if isinstance(meta, dict):
        rb.has_metadata = True
        rb.title = str(meta.get("title", ""))
        rb.description = str(meta.get("description", ""))
        rb.category = str(meta.get("category", ""))
        rb.risk = str(meta.get("risk", "read-only"))
        roles = meta.get("roles", ["operator"])
        rb.roles = [str(r) for r in roles] if isinstance(roles, list) else [str(roles)]
        try:
            rb.timeout = float(meta.get("timeout", DEFAULT_TIMEOUT))
            rb.cell_timeout = float(meta["cell_timeout"]) if meta.get("cell_timeout") else None
        except (TypeError, ValueError):
            rb.problems.append("metadata.opsnb.timeout must be a number of seconds")
        tags = meta.get("tags", [])
        rb.tags = [str(t) for t in tags] if isinstance(tags, list) else []
        rb.target = str(meta["target"]) if meta.get("target") else None
    overrides = meta.get("parameters") if isinstance(meta, dict) else None
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        rb.cell_sources.append(_text(cell.get("source")))
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") == "code" and "parameters" in tags and not rb.has_parameters_cell:
            rb.has_parameters_cell = True
            params, problems = parse_parameters(_text(cell.get("source")),
                                                overrides if isinstance(overrides, dict) else None)
            rb.parameters = params
            rb.problems.extend(problems)
    return rb


class Catalog:
    """Every runbook in a directory, cached by file modification time."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[Path, tuple[tuple[int, int], Runbook]] = {}
        self._lock = threading.Lock()

    def _load_cached(self, path: Path) -> Runbook:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._cache.get(path)
            if hit and hit[0] == key:
                return hit[1]
        rb = load(path)
        with self._lock:
            self._cache[path] = (key, rb)
        return rb

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.ipynb") if not p.name.startswith("."))

    def all(self) -> list[Runbook]:
        """Every runbook that parses; unparseable files are skipped here (``lint`` reports them)."""
        out = []
        for name in self.names():
            try:
                out.append(self.get(name))
            except ParseError:
                continue
        return out

    def get(self, name: str) -> Runbook:
        """The runbook called ``name`` (file ``<dir>/<name>.ipynb``).

        Raises:
            NotFound: No such runbook (the message lists the close names).
        """
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
            raise NotFound(f"no runbook {name!r}", kind="runbook", key=str(name))
        if len(f"{name}.ipynb".encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES or "\0" in name:
            raise ValidationError(f"runbook name {name[:40]!r}... is not a file name: at most "
                                  f"{MAX_NAME_BYTES - 6} bytes, no NUL", field="runbook")
        path = self.directory / f"{name}.ipynb"
        if not path.is_file():
            import difflib

            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f" in {self.directory}"
            raise NotFound(f"no runbook {name!r}{hint}", kind="runbook", key=name)
        return self._load_cached(path)
