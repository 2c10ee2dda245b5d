"""The postmortems service (``ops.postmortems``): draft from a template, version, diff, review states.

A draft executes a template notebook with papermill for one incident. The result becomes the
working copy (``<workspace>/postmortems/<INC>/postmortem.ipynb``) that people edit, and an
immutable copy ``versions/v<n>.ipynb`` (read-only file mode, its SHA-256 in the table). A
re-draft keeps every cell tagged ``postmortem:human`` as it stands in the working copy and
refreshes the computed cells.
"""

from __future__ import annotations

import builtins
import difflib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsnb.errors import Conflict, NotFound, RunFailed, ValidationError
from opsnb.postmortems.models import (
    STATUSES,
    TRANSITIONS,
    Postmortem,
    PostmortemRow,
    PostmortemVersionRow,
    Version,
)
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

HUMAN_TAG = "postmortem:human"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "notebooks" / "templates"
LITE_SEVERITIES = ("SEV3", "SEV4")
DRAFT_TIMEOUT_S = 300.0


def _human_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb.get("cells", []) if HUMAN_TAG in c.get("metadata", {}).get("tags", [])]


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def keep_human_cells(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """Put the text of ``old``'s human cells into ``new``'s, by cell id, else by tag and position.

    Returns:
        Notes on human cells of the template that the working copy no longer has (deleted by hand).
    """
    old_cells = _human_cells(old)
    by_id = {c.get("id"): c for c in old_cells if c.get("id")}
    notes: list[str] = []
    for pos, cell in enumerate(_human_cells(new)):
        prev = by_id.get(cell.get("id"))
        if prev is None and pos < len(old_cells) and not by_id:
            prev = old_cells[pos]
        if prev is None:
            notes.append(f"human cell {cell.get('id') or pos} was not in the working copy; the template's text is used")
            continue
        cell["source"] = prev.get("source", "")
    return notes


def notebook_text(nb: dict[str, Any]) -> list[str]:
    """A notebook as lines for a diff: each cell's type, tags and source; outputs as their text."""
    lines: list[str] = []
    for i, cell in enumerate(nb.get("cells", [])):
        tags = ",".join(cell.get("metadata", {}).get("tags", []))
        lines.append(f"## cell {i} [{cell.get('cell_type')}] {tags}".rstrip())
        lines.extend(_source(cell).splitlines())
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            lines.extend(("".join(text) if isinstance(text, list) else str(text)).splitlines())
    return lines


class Postmortems:
    """Postmortems of a workbench (``ops.postmortems``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    # ------------------------------------------------------------- places
    def _dir(self, incident_id: str) -> Path:
        return self._wb.workspace / "postmortems" / incident_id

    def path(self, incident_id: str) -> Path:
        """Where the working copy of ``incident_id``'s postmortem is (it may not exist yet)."""
        return self._dir(incident_id) / "postmortem.ipynb"

    def template_for(self, severity: str, template: str | None = None) -> Path:
        """The template file: ``template`` by name or path, else by severity; the workspace's first.

        Raises:
            NotFound: No such template in ``<workspace>/templates/`` or ``notebooks/templates/``.
        """
        name = template or ("postmortem-lite" if severity in LITE_SEVERITIES else "postmortem")
        candidates = [Path(name)] if name.endswith(".ipynb") and Path(name).is_absolute() else []
        stem = name.removesuffix(".ipynb")
        candidates += [self._wb.workspace / "templates" / f"{stem}.ipynb", TEMPLATES_DIR / f"{stem}.ipynb"]
        for c in candidates:
            if c.is_file():
                return c
        raise NotFound(f"no postmortem template {name!r} (looked in {', '.join(str(c.parent) for c in candidates)})",
                       kind="template", key=name)

    # ------------------------------------------------------------- drafting
    def draft(self, incident_id: str, *, template: str | None = None, kernel_name: str = "python3",
              timeout: float = DRAFT_TIMEOUT_S) -> Postmortem:
        """Execute the template for ``incident_id``; write the working copy and a new version.

        Needs responder; audited as ``postmortem.draft``. A template that fails to execute leaves
        the working copy and every previous version as they were.

        Raises:
            NotFound: No such incident or template. Conflict: The postmortem is published.
            RunFailed: The template failed to execute.
        """
        self._wb.access.require("responder", action="postmortem.draft")
        inc = self._wb.incidents.get(incident_id)
        with self._wb.db.session() as s:
            existing = self._row_or_none(s, incident_id)
            if existing is not None and existing.status == "published":
                raise Conflict(f"postmortem of {incident_id} is published and frozen", kind="postmortem",
                               key=incident_id)
        tpl = self.template_for(inc.severity, template or (existing.template if existing else None))
        _check_template(tpl)
        nb = self._execute(tpl, incident_id, kernel_name=kernel_name, timeout=timeout)
        work = self.path(incident_id)
        notes: list[str] = []
        if work.is_file():
            notes = keep_human_cells(nb, json.loads(work.read_text(encoding="utf-8")))
        if notes:
            nb["cells"].insert(0, {"cell_type": "markdown", "id": "postmortem-notes", "metadata": {},
                                   "source": "> **Note:** " + "; ".join(notes)})
        data = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        digest = hashlib.sha256(data.encode()).hexdigest()
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="postmortem.draft")
            row = self._row_or_none(s, incident_id)
            now = utcnow()
            if row is None:
                row = PostmortemRow(incident_id=incident_id, template=tpl.stem, status="draft",
                                    path=str(work.relative_to(self._wb.workspace)), authors=self._wb.user,
                                    created_at=now, updated_at=now)
                s.add(row)
                s.flush()
            elif row.status == "published":
                raise Conflict(f"postmortem of {incident_id} is published and frozen", kind="postmortem",
                               key=incident_id)
            n = 1 + len(s.scalars(select(PostmortemVersionRow.seq)
                                  .where(PostmortemVersionRow.postmortem_seq == row.seq)).all())
            vpath = self._dir(incident_id) / "versions" / f"v{n}.ipynb"
            vpath.parent.mkdir(parents=True, exist_ok=True)
            if vpath.exists():
                raise Conflict(f"version file {vpath} exists but is not recorded; move it away",
                               kind="postmortem_version", key=f"{incident_id}/v{n}")
            _write_atomic(vpath, data)
            os.chmod(vpath, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            _write_atomic(work, data)
            s.add(PostmortemVersionRow(postmortem_seq=row.seq, version=n, sha256=digest,
                                       path=str(vpath.relative_to(self._wb.workspace)),
                                       created_by=self._wb.user, created_at=now))
            row.updated_at = now
            if self._wb.user not in row.authors.split(","):
                row.authors = ",".join(a for a in (*row.authors.split(","), self._wb.user) if a)
            self._wb.audit.record(action="postmortem.draft", target=incident_id,
                                  params={"version": n, "template": tpl.stem, "sha256": digest})
            s.flush()
            return self._of(s, row)

    def _execute(self, tpl: Path, incident_id: str, *, kernel_name: str, timeout: float) -> dict[str, Any]:
        import papermill as pm

        with tempfile.TemporaryDirectory(prefix="opsnb-pm-") as tmp:
            out = Path(tmp) / "out.ipynb"
            try:
                pm.execute_notebook(str(tpl), str(out), kernel_name=kernel_name, progress_bar=False,
                                    parameters={"incident_id": incident_id, "workspace": str(self._wb.workspace),
                                                "database_url": str(self._wb.settings.database_url or ""),
                                                "user": self._wb.user},
                                    execution_timeout=int(timeout), cwd=tmp, log_output=False)
            except Exception as e:  # papermill raises its own tree and nbclient's; all mean "failed"
                with self._wb.db.session():
                    self._wb.audit.record(action="postmortem.draft", target=incident_id,
                                          params={"template": tpl.stem, "failed": str(e)[:500]})
                raise RunFailed(f"postmortem template {tpl.name} failed for {incident_id}: {e}") from e
            nb: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return nb

    # ------------------------------------------------------------- reading
    def _row_or_none(self, s: Session, incident_id: str) -> PostmortemRow | None:
        return s.scalar(select(PostmortemRow).where(PostmortemRow.incident_id == incident_id))

    def _row(self, s: Session, incident_id: str) -> PostmortemRow:
        row = self._row_or_none(s, incident_id)
        if row is None:
            raise NotFound(f"no postmortem for {incident_id} (opsnb postmortem draft {incident_id} makes one)",
                           kind="postmortem", key=incident_id)
        return row

    def _of(self, s: Session, row: PostmortemRow) -> Postmortem:
        vs = s.scalars(select(PostmortemVersionRow).where(PostmortemVersionRow.postmortem_seq == row.seq)
                       .order_by(PostmortemVersionRow.version)).all()
        return Postmortem(incident_id=row.incident_id, template=row.template, status=row.status,
                          path=str(self._wb.workspace / row.path), authors=[a for a in row.authors.split(",") if a],
                          created_at=row.created_at, updated_at=row.updated_at,
                          versions=[Version.of(v) for v in vs])

    def get(self, incident_id: str) -> Postmortem:
        """The postmortem of ``incident_id``. Raises NotFound."""
        with self._wb.db.session() as s:
            return self._of(s, self._row(s, incident_id))

    def list(self, *, status: str | None = None) -> list[Postmortem]:
        """Every postmortem, newest first; ``status`` filters."""
        with self._wb.db.session() as s:
            q = select(PostmortemRow).order_by(PostmortemRow.updated_at.desc())
            if status is not None:
                q = q.where(PostmortemRow.status == status)
            return [self._of(s, r) for r in s.scalars(q).all()]

    def versions(self, incident_id: str) -> builtins.list[Version]:
        """The drafted versions of ``incident_id``'s postmortem, oldest first."""
        return self.get(incident_id).versions

    def diff(self, incident_id: str, from_version: int | None = None, to_version: int | None = None) -> str:
        """A unified diff between two versions; default the previous version against the working copy.

        Raises:
            NotFound: No postmortem or no such version.
        """
        pm = self.get(incident_id)
        if not pm.versions:
            raise NotFound(f"postmortem of {incident_id} has no versions", kind="postmortem", key=incident_id)

        def load(v: int | None) -> tuple[str, dict[str, Any]]:
            if v is None:
                return "working copy", json.loads(Path(pm.path).read_text(encoding="utf-8"))
            for ver in pm.versions:
                if ver.version == v:
                    return f"v{v}", json.loads((self._wb.workspace / ver.path).read_text(encoding="utf-8"))
            raise NotFound(f"postmortem of {incident_id} has no version {v}", kind="postmortem_version",
                           key=f"{incident_id}/v{v}")

        a_name, a = load(from_version if from_version is not None else pm.versions[-1].version)
        b_name, b = load(to_version)
        return "\n".join(difflib.unified_diff(notebook_text(a), notebook_text(b), fromfile=a_name,
                                              tofile=b_name, lineterm=""))

    # ------------------------------------------------------------- changes
    def update(self, incident_id: str, *, status: str | None = None, reason: str = "") -> Postmortem:
        """Move a postmortem through draft → in_review → published. Needs responder; audited.

        Raises:
            ValidationError: Unknown status. Conflict: A transition not allowed, or publishing a
            postmortem of an incident still open. NotFound: No postmortem.
        """
        if status is not None and status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}, got {status!r}", field="status")
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="postmortem.update")
            row = self._row(s, incident_id)
            if status is not None and status != row.status:
                if status not in TRANSITIONS[row.status]:
                    raise Conflict(f"postmortem of {incident_id} is {row.status}; it cannot become {status}",
                                   kind="postmortem", key=incident_id)
                if status == "published" and self._wb.incidents.get(incident_id).is_open:
                    raise Conflict(f"{incident_id} is still open; resolve it before publishing its postmortem",
                                   kind="postmortem", key=incident_id)
                self._wb.audit.record(action="postmortem.update", target=incident_id,
                                      params={"status": {"from": row.status, "to": status}}, reason=reason)
                row.status = status
                row.updated_at = utcnow()
            return self._of(s, row)


REQUIRED_SECTIONS: tuple[str, ...] = ("Summary", "Impact", "Action items", "Timeline")
"""Headings every template must have, the lite one included."""


def _check_template(tpl: Path) -> None:
    """Refuse a template without a ``parameters`` cell or one of :data:`REQUIRED_SECTIONS`."""
    nb = json.loads(tpl.read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    headings = {line.lstrip("#").strip() for c in cells if c.get("cell_type") == "markdown"
                for line in _source(c).splitlines() if line.startswith("## ")}
    missing = [s for s in REQUIRED_SECTIONS if s not in headings]
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells):
        missing.append("a code cell tagged 'parameters'")
    if missing:
        raise ValidationError(f"postmortem template {tpl} lacks:", missing, field="template")


def _write_atomic(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)
