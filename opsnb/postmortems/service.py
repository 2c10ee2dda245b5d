"""The postmortems service (``ops.postmortems``): draft from a template, version, diff, review, publish.

A draft executes a template notebook for one incident in the runbook runner's minimal kernel
environment (:mod:`opsnb.postmortems.kernel`). The result becomes the working copy
(``<workspace>/postmortems/<INC>/postmortem.ipynb``) that people edit, and an immutable copy
``versions/v<n>.ipynb`` (read-only file mode, its SHA-256 in the table). A re-draft keeps every
cell tagged ``postmortem:human`` as it stands in the working copy and refreshes the computed cells.

Review: draft → in_review → published, with an owner, reviewers and a checklist of review
criteria (:data:`~opsnb.postmortems.models.CHECKLIST`). Publishing freezes the working copy as
a version and records it as the published one; a re-draft afterwards makes a new draft and
never changes the published version. Action items, the overdue digest and the backlog chart
are in :mod:`opsnb.postmortems.actions`, the notebook's own action items table, which every
re-draft, review step and publication turns into records, in :mod:`opsnb.postmortems.table`; export to HTML and Markdown in :mod:`opsnb.postmortems.export`.
"""

from __future__ import annotations

import builtins
import difflib
import hashlib
import json
import os
import stat
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsnb.errors import Conflict, NotFound, PermissionDenied, PostmortemError, ValidationError
from opsnb.postmortems import actions, table
from opsnb.postmortems.models import (
    CHECKLIST,
    STATUSES,
    TRANSITIONS,
    ActionItem,
    ActionItemRow,
    Postmortem,
    PostmortemRow,
    PostmortemRunRow,
    PostmortemVersionRow,
    Version,
)
from opsnb.postmortems.table import HUMAN_TAG as HUMAN_TAG  # where tests and callers found it first
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.kernels import KernelPool
    from opsnb.workbench import Workbench

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
            notes.append(f"the section cell '{cell.get('id') or pos}' was deleted from the working copy by hand; "
                         "the template's text is back in its place (earlier text is in the versions)")
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
        self._kernels: KernelPool | None = None

    def warm(self, *, wait: bool = False) -> None:
        """Keep a kernel started, with the templates' libraries imported, for the next draft.

        For long-lived processes (the API server, JupyterLab); without it each draft starts its own.
        """
        from opsnb.postmortems import kernel

        self._kernels = kernel.warm_pool()
        self._kernels.warm(wait=wait)

    def _incident(self, incident_id: str) -> Any:
        """The incident's row (id, severity, commander): what a draft needs, without its timeline.

        ``incidents.get`` builds the timeline as a DataFrame, and importing pandas for it was 0.4 s
        of the drafting process's CPU (the template reads the incident itself, in its kernel).

        Raises:
            NotFound: No such incident (the incidents service's own error and hint).
        """
        from opsnb.incidents.models import IncidentRow

        with self._wb.db.session() as s:
            row = s.get(IncidentRow, _norm(incident_id))
            if row is not None:
                s.expunge(row)
                return row
        return self._wb.incidents.get(incident_id)  # raises NotFound, naming the newest incident

    # ------------------------------------------------------------- places
    def _dir(self, incident_id: str) -> Path:
        return self._wb.workspace / "postmortems" / incident_id

    def path(self, incident_id: str) -> Path:
        """Where the working copy of ``incident_id``'s postmortem is (it may not exist yet)."""
        return self._dir(_norm(incident_id)) / "postmortem.ipynb"

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
              timeout: float = DRAFT_TIMEOUT_S, kernels: KernelPool | None = None,
              reason: str = "") -> Postmortem:
        """Execute the template for ``incident_id``; write the working copy and a new version.

        Needs responder; audited as ``postmortem.draft``. An open incident may be drafted (it is
        refused only at publishing). A published postmortem is re-drafted as a new draft; the
        published version never changes. A template that fails to execute is recorded as a
        failed run and leaves the working copy and every previous version as they were. Before the
        template runs, the working copy's action items table becomes records
        (:func:`opsnb.postmortems.table.sync`: created once, ids written into the table, edits on
        either side kept); rows that cannot be recorded are listed in a note at the top.

        Args:
            incident_id: The incident (``INC-1``; any case).
            template: Template name or absolute path; default by severity (lite for SEV3/SEV4),
                else the one the postmortem was drafted from.
            kernel_name: Jupyter kernel to execute in.
            timeout: Seconds the whole template may run.
            kernels: A kernel pool (warm kernels); default the one :meth:`warm` started, else one
                cold kernel per draft.
            reason: Why (audited), e.g. "auto-draft on resolve".

        Raises:
            NotFound: No such incident or template.
            PostmortemError: The template lacks a required section, or failed to execute.
        """
        self._wb.access.require("responder", action="postmortem.draft")
        from opsnb.postmortems import kernel

        pool = kernels or self._kernels or kernel.default_pool()
        # The kernel boots and imports on the other core while this process reads the incident and
        # loads papermill; a refused draft leaves it for the next one (or the pool's close at exit).
        pool.prestart(kernel_name)
        inc = self._incident(incident_id)
        iid = inc.id
        with self._wb.db.session() as s:
            existing = self._row_or_none(s, iid)
            previous = existing.template if existing else None
        tpl = self.template_for(inc.severity, template or previous)
        _check_template(tpl, iid)
        work = self.path(iid)
        old = json.loads(work.read_text(encoding="utf-8")) if work.is_file() else None
        synced = table.SyncResult()
        if existing is not None and old is not None:
            # Before the template runs, so that its action items cell lists what the table added.
            with self._wb.db.session() as s:
                synced = table.sync(self._wb, s, self._row(s, iid), old, source="re-draft")
        started = utcnow()
        done = kernel.execute(self._wb, tpl, iid, kernel_name=kernel_name, timeout=timeout, kernels=pool)
        if done.status != "succeeded" or done.notebook is None:
            with self._wb.db.session() as s:
                s.add(PostmortemRunRow(incident_id=iid, template=tpl.stem, status="failed", error=done.error,
                                       timings=done.timings, actor=self._wb.user, started_at=started,
                                       finished_at=utcnow()))
                self._wb.audit.record(action="postmortem.draft", target=iid, reason=reason,
                                      params={"template": tpl.stem, "failed": done.error[:500]})
            current = existing.seq if existing else None
            raise PostmortemError(f"postmortem template {tpl.name} failed for {iid}: {done.error}; "
                                  + ("the previous version stays current" if current else "nothing was written"),
                                  incident_id=iid, template=tpl.stem)
        nb = done.notebook
        notes = keep_human_cells(nb, old) if old is not None else []
        notes += synced.problems
        if notes:
            nb["cells"].insert(0, {"cell_type": "markdown", "id": "postmortem-notes", "metadata": {},
                                   "source": "> **Note:** " + "; ".join(notes)})
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="postmortem.draft")
            row = self._row_or_none(s, iid)
            now = utcnow()
            if row is None:
                row = PostmortemRow(incident_id=iid, template=tpl.stem, status="draft",
                                    path=str(work.relative_to(self._wb.workspace)), authors=self._wb.user,
                                    owner=inc.commander or "", reviewers=[], checklist={},
                                    created_at=now, updated_at=now)
                s.add(row)
                s.flush()
            elif row.status != "draft":
                # a re-draft after review or publication starts a new draft; the review starts over
                self._wb.audit.record(action="postmortem.update", target=iid, reason="re-drafted",
                                      params={"status": {"from": row.status, "to": "draft"}})
                row.status, row.checklist = "draft", {}
            n = self._new_version(s, row, nb, now)
            row.template = tpl.stem
            if self._wb.user not in row.authors.split(","):
                row.authors = ",".join(a for a in (*row.authors.split(","), self._wb.user) if a)
            s.add(PostmortemRunRow(incident_id=iid, template=tpl.stem, status="succeeded", version=n,
                                   timings=done.timings, actor=self._wb.user, started_at=started,
                                   finished_at=utcnow()))
            self._wb.audit.record(action="postmortem.draft", target=iid, reason=reason,
                                  params={"version": n, "template": tpl.stem,
                                          "sha256": self._version_row(s, row, n).sha256})
            s.flush()
            return self._of(s, row)

    def _new_version(self, s: Session, row: PostmortemRow, nb: dict[str, Any], now: datetime) -> int:
        """Write ``nb`` as the working copy and as the next read-only version (in the caller's unit)."""
        data = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        digest = hashlib.sha256(data.encode()).hexdigest()
        n = 1 + int(s.scalar(select(func.count()).select_from(PostmortemVersionRow)
                             .where(PostmortemVersionRow.postmortem_seq == row.seq)) or 0)
        vpath = self._dir(row.incident_id) / "versions" / f"v{n}.ipynb"
        vpath.parent.mkdir(parents=True, exist_ok=True)
        if vpath.exists():
            raise Conflict(f"version file {vpath} exists but is not recorded; move it away",
                           kind="postmortem_version", key=f"{row.incident_id}/v{n}")
        _write_atomic(vpath, data)
        os.chmod(vpath, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        _write_atomic(self._wb.workspace / row.path, data)
        s.add(PostmortemVersionRow(postmortem_seq=row.seq, version=n, sha256=digest,
                                   path=str(vpath.relative_to(self._wb.workspace)),
                                   created_by=self._wb.user, created_at=now))
        row.updated_at = now
        s.flush()
        return n

    @staticmethod
    def _version_row(s: Session, row: PostmortemRow, n: int) -> PostmortemVersionRow:
        v = s.scalar(select(PostmortemVersionRow).where(PostmortemVersionRow.postmortem_seq == row.seq,
                                                        PostmortemVersionRow.version == n))
        assert v is not None
        return v

    # ------------------------------------------------------------- reading
    def _row_or_none(self, s: Session, incident_id: str) -> PostmortemRow | None:
        return s.scalar(select(PostmortemRow).where(PostmortemRow.incident_id == _norm(incident_id)))

    def _row(self, s: Session, incident_id: str) -> PostmortemRow:
        row = self._row_or_none(s, incident_id)
        if row is None:
            raise NotFound(f"no postmortem for {incident_id} (opsnb postmortem draft {incident_id} makes one)",
                           kind="postmortem", key=incident_id)
        return row

    def _of(self, s: Session, row: PostmortemRow) -> Postmortem:
        vs = s.scalars(select(PostmortemVersionRow).where(PostmortemVersionRow.postmortem_seq == row.seq)
                       .order_by(PostmortemVersionRow.version)).all()
        n_open = s.scalar(select(func.count()).select_from(ActionItemRow)
                          .where(ActionItemRow.postmortem_seq == row.seq, ActionItemRow.status == "open"))
        return Postmortem(incident_id=row.incident_id, template=row.template, status=row.status,
                          path=str(self._wb.workspace / row.path), authors=[a for a in row.authors.split(",") if a],
                          created_at=row.created_at, updated_at=row.updated_at,
                          versions=[Version.of(v) for v in vs], owner=row.owner or "",
                          reviewers=list(row.reviewers or []), checklist=dict(row.checklist or {}),
                          published_version=row.published_version, published_at=row.published_at,
                          published_by=row.published_by, open_action_items=int(n_open or 0))

    def get(self, incident_id: str) -> Postmortem:
        """The postmortem of ``incident_id``. Raises NotFound."""
        with self._wb.db.session() as s:
            return self._of(s, self._row(s, incident_id))

    def list(self, *, status: str | None = None) -> builtins.list[Postmortem]:
        """Every postmortem, newest first; ``status`` filters."""
        with self._wb.db.session() as s:
            q = select(PostmortemRow).order_by(PostmortemRow.updated_at.desc())
            if status is not None:
                q = q.where(PostmortemRow.status == status)
            return [self._of(s, r) for r in s.scalars(q).all()]

    def overview(self, *, now: datetime | None = None) -> pd.DataFrame:
        """One row per postmortem: incident, title, severity, state, owner, age, versions, open items."""
        import pandas as pd

        now = now or utcnow()
        rows = []
        for pm in self.list():
            inc = self._wb.incidents.get(pm.incident_id)
            rows.append({"incident_id": pm.incident_id, "title": inc.title, "severity": inc.severity,
                         "status": pm.status, "owner": pm.owner, "reviewers": ", ".join(pm.reviewers),
                         "age_days": round((now - pm.created_at).total_seconds() / 86400, 1),
                         "version": pm.current_version, "published_version": pm.published_version,
                         "open_action_items": pm.open_action_items, "updated_at": pm.updated_at})
        cols = ["incident_id", "title", "severity", "status", "owner", "reviewers", "age_days", "version",
                "published_version", "open_action_items", "updated_at"]
        return pd.DataFrame(rows, columns=cols)

    def versions(self, incident_id: str) -> builtins.list[Version]:
        """The drafted versions of ``incident_id``'s postmortem, oldest first."""
        return self.get(incident_id).versions

    def runs(self, incident_id: str | None = None) -> pd.DataFrame:
        """Template executions (drafts), failed ones included, newest first, with their timings."""
        import pandas as pd

        with self._wb.db.session() as s:
            q = select(PostmortemRunRow).order_by(PostmortemRunRow.id.desc())
            if incident_id is not None:
                q = q.where(PostmortemRunRow.incident_id == _norm(incident_id))
            rows = [{"id": r.id, "incident_id": r.incident_id, "template": r.template, "status": r.status,
                     "version": r.version, "error": r.error, "actor": r.actor, "started_at": r.started_at,
                     "finished_at": r.finished_at, **{f"{k}_s": v for k, v in (r.timings or {}).items()}}
                    for r in s.scalars(q)]
        return pd.DataFrame(rows, columns=list(rows[0]) if rows else
                            ["id", "incident_id", "template", "status", "version", "error", "actor",
                             "started_at", "finished_at"])

    def notebook(self, incident_id: str, version: int | None = None, *, published: bool = False) -> dict[str, Any]:
        """A version's notebook (``version``, or the published one), else the working copy, as JSON.

        Raises:
            NotFound: No postmortem, no such version, or nothing published.
        """
        pm = self.get(incident_id)
        if published:
            if pm.published_version is None:
                raise NotFound(f"postmortem of {pm.incident_id} is not published", kind="postmortem_version",
                               key=f"{pm.incident_id}/published")
            version = pm.published_version
        if version is None:
            return dict(json.loads(Path(pm.path).read_text(encoding="utf-8")))
        for ver in pm.versions:
            if ver.version == version:
                return dict(json.loads((self._wb.workspace / ver.path).read_text(encoding="utf-8")))
        raise NotFound(f"postmortem of {pm.incident_id} has no version {version}", kind="postmortem_version",
                       key=f"{pm.incident_id}/v{version}")

    def diff(self, incident_id: str, from_version: int | None = None, to_version: int | None = None) -> str:
        """A unified diff between two versions; default the previous version against the working copy.

        Raises:
            NotFound: No postmortem or no such version.
        """
        pm = self.get(incident_id)
        if not pm.versions:
            raise NotFound(f"postmortem of {incident_id} has no versions", kind="postmortem", key=incident_id)
        a_v = from_version if from_version is not None else pm.versions[-1].version
        a = self.notebook(incident_id, a_v)
        b = self.notebook(incident_id, to_version)
        b_name = f"v{to_version}" if to_version is not None else "working copy"
        return "\n".join(difflib.unified_diff(notebook_text(a), notebook_text(b), fromfile=f"v{a_v}",
                                              tofile=b_name, lineterm=""))

    def export(self, incident_id: str, *, format: str = "html", output: str | os.PathLike[str] | None = None,
               version: int | None = None, published: bool = False, hide_code: bool = True) -> Path:
        """Export the working copy (or a version) to HTML (interactive charts) or Markdown (static images).

        See :func:`opsnb.postmortems.export.export`. Returns the file written.
        """
        from opsnb.postmortems.export import export as write

        nb = self.notebook(incident_id, version, published=published)
        target = Path(output) if output is not None else self._dir(_norm(incident_id)) / f"postmortem.{format}"
        return write(nb, target, format=format, hide_code=hide_code)

    def html(self, incident_id: str, *, version: int | None = None, published: bool = False,
             hide_code: bool = True) -> str:
        """The working copy (or a version, or the published one) as a self-contained HTML page."""
        from opsnb.postmortems.export import to_html

        return to_html(self.notebook(incident_id, version, published=published), hide_code=hide_code,
                       title=f"Postmortem {_norm(incident_id)}")

    # ------------------------------------------------------------- review and publishing
    def update(self, incident_id: str, *, status: str | None = None, owner: str | None = None,
               reviewers: Sequence[str] | None = None, check: Sequence[str] = (), uncheck: Sequence[str] = (),
               reason: str = "") -> Postmortem:
        """Set the owner and reviewers, tick review criteria, move draft → in_review → published.

        Needs responder; every change is audited (``postmortem.update``, publishing as
        ``postmortem.publish``). Going in review needs an owner and a reviewer; ticking a
        criterion, when reviewers are named, needs to be one of them; publishing needs every
        criterion of :data:`~opsnb.postmortems.models.CHECKLIST` ticked and the incident
        resolved. Publishing freezes the working copy as a version (a new one when people edited
        it since the last draft) and records it as the published version. Every update first
        syncs the working copy's action items table with the records (:func:`table.sync`).

        Raises:
            ValidationError: Unknown status or criterion, a bad name.
            Conflict: A transition not allowed. PermissionDenied: Ticking without being a reviewer.
            PostmortemError: Publishing an open incident's postmortem, an incomplete review, or an
                action items table with rows that are not records (each row's reason listed).
            NotFound: No postmortem.
        """
        if status is not None and status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}, got {status!r}", field="status")
        bad = [c for c in (*check, *uncheck) if c not in CHECKLIST]
        if bad:
            raise ValidationError(f"unknown review criteria {bad}; they are {', '.join(CHECKLIST)}",
                                  field="check", value=bad)
        people = [_person(p, "reviewers") for p in reviewers] if reviewers is not None else None
        if owner is not None:
            _person(owner, "owner", required=False)
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="postmortem.update")
            row = self._row(s, incident_id)
            iid = row.incident_id
            work, nb = self._wb.workspace / row.path, None
            synced = table.SyncResult()
            if work.is_file():
                nb = json.loads(work.read_text(encoding="utf-8"))
                synced = table.sync(self._wb, s, row, nb, source="publish" if status == "published" else "review")
            # Ids filled in, values of records changed elsewhere: what publishing freezes, and what is
            # written back to the working copy once this unit commits (its records exist then).
            text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n" if synced.rewritten else None
            changes: dict[str, Any] = {}
            if owner is not None and owner != row.owner:
                changes["owner"] = {"from": row.owner, "to": owner}
                row.owner = owner
            if people is not None and people != list(row.reviewers or []):
                changes["reviewers"] = {"from": list(row.reviewers or []), "to": people}
                row.reviewers = people
            if check or uncheck:
                if row.status == "published":
                    raise Conflict(f"postmortem of {iid} is published; re-draft it to review again",
                                   kind="postmortem", key=iid)
                who = list(row.reviewers or [])
                if who and self._wb.user not in who:
                    raise PermissionDenied(f"{self._wb.user} is not a reviewer of {iid}'s postmortem "
                                           f"(reviewers: {', '.join(who)})", user=self._wb.user,
                                           action="postmortem.review")
                ticked = dict(row.checklist or {})
                for c in check:
                    ticked.setdefault(c, {"by": self._wb.user, "at": utcnow().isoformat()})
                for c in uncheck:
                    ticked.pop(c, None)
                if ticked != (row.checklist or {}):
                    changes["checklist"] = {"check": list(check), "uncheck": list(uncheck)}
                    row.checklist = ticked
            if status is not None and status != row.status:
                if status not in TRANSITIONS[row.status]:
                    raise Conflict(f"postmortem of {iid} is {row.status}; it cannot become {status} "
                                   f"(it can become {', '.join(TRANSITIONS[row.status]) or 'nothing'})",
                                   kind="postmortem", key=iid)
                if status == "in_review":
                    missing = ([] if row.owner else ["an owner (--owner)"]) + \
                              ([] if row.reviewers else ["a reviewer (--reviewer)"])
                    if missing:
                        raise PostmortemError(f"postmortem of {iid} cannot go in review; it needs:", incident_id=iid,
                                              problems=missing)
                if status == "published":
                    self._publish(s, row, reason, text=text, table_problems=synced.problems)
                changes["status"] = {"from": row.status, "to": status}
                row.status = status
            if changes:
                row.updated_at = utcnow()
                self._wb.audit.record(action="postmortem.update", target=iid, params=changes, reason=reason)
            pm = self._of(s, row)
        if text is not None:
            _write_atomic(work, text)
        return pm

    def _publish(self, s: Session, row: PostmortemRow, reason: str, *, text: str | None = None,
                 table_problems: Sequence[str] = ()) -> None:
        iid = row.incident_id
        inc = self._wb.incidents.get(iid)
        problems = [f"the incident is {inc.status}; resolve it first"] if inc.is_open else []
        problems += [f"review criterion not ticked: {CHECKLIST[c]}" for c in CHECKLIST if c not in (row.checklist or {})]
        problems += list(table_problems)
        if problems:
            raise PostmortemError(f"postmortem of {iid} cannot be published:", incident_id=iid, problems=problems)
        work = self._wb.workspace / row.path
        latest = s.scalar(select(PostmortemVersionRow).where(PostmortemVersionRow.postmortem_seq == row.seq)
                          .order_by(PostmortemVersionRow.version.desc()).limit(1))
        data = text.encode() if text is not None else work.read_bytes()
        if latest is None or hashlib.sha256(data).hexdigest() != latest.sha256:
            n = self._new_version(s, row, json.loads(data), utcnow())  # people's edits since the draft, frozen
        else:
            n = latest.version
        row.published_version, row.published_at, row.published_by = n, utcnow(), self._wb.user
        self._wb.audit.record(action="postmortem.publish", target=iid, reason=reason,
                              params={"version": n, "sha256": self._version_row(s, row, n).sha256,
                                      "reviewers": list(row.reviewers or []), "checklist": dict(row.checklist or {})})

    # ------------------------------------------------------------- action items
    def create_action_item(self, incident_id: str, *, title: str, type: str = "prevent", owner: str | None = None,
                           due: Any = None, link: str | None = None) -> ActionItem:
        """Add an action item to ``incident_id``'s postmortem. Needs responder; audited."""
        return actions.create(self._wb, self, incident_id, title=title, type=type, owner=owner, due=due, link=link)

    def update_action_item(self, item_id: int, *, title: str | None = None, type: str | None = None,
                           owner: str | None = None, due: Any = None, status: str | None = None,
                           link: str | None = None, reason: str = "") -> ActionItem:
        """Change an action item (its status: open, done, wontfix). Needs responder; audited."""
        return actions.update(self._wb, item_id, title=title, type=type, owner=owner, due=due, status=status,
                              link=link, reason=reason)

    def action_items(self, incident_id: str | None = None, *, owner: str | None = None, status: str | None = None,
                     overdue: bool = False, now: Any = None) -> pd.DataFrame:
        """Action items across incidents (or one), with an ``overdue`` column; filters by owner, status."""
        return actions.frame(self._wb, incident_id, owner=owner, status=status, overdue=overdue, now=now)

    def backlog(self, *, start: Any = None, end: Any = None, every: Any = "1d") -> pd.DataFrame:
        """Open action items (and overdue ones) at each step of ``every`` from ``start`` to ``end``."""
        return actions.backlog(self._wb, start=start, end=end, every=every)

    def backlog_chart(self, *, start: Any = None, end: Any = None, every: Any = "1d") -> Any:
        """The open backlog over time as a Plotly figure."""
        return actions.backlog_chart(self.backlog(start=start, end=end, every=every))

    def notify_overdue(self, *, now: Any = None) -> pd.DataFrame:
        """Send each owner of overdue action items one digest for the day (idempotent within a day)."""
        return actions.notify_overdue(self._wb, now=now)

    def tick(self, now: datetime | None = None) -> pd.DataFrame:
        """Scheduler hook: the daily digest of overdue action items (one message per owner a day)."""
        return actions.notify_overdue(self._wb, now=now, check_role=False)


def _norm(incident_id: str) -> str:
    from opsnb.incidents.service import normalise_id

    return normalise_id(incident_id)


def _person(name: Any, what: str, *, required: bool = True) -> str:
    if not isinstance(name, str) or len(name) > 200 or (required and not name.strip()) or "\n" in name:
        raise ValidationError(f"{what}: a user name of at most 200 characters on one line, got {name!r:.60}",
                              field=what, value=str(name)[:100])
    return name.strip()


REQUIRED_SECTIONS: tuple[str, ...] = ("Summary", "Impact", "Action items", "Timeline")
"""Headings every template must have, the lite one included."""


def _check_template(tpl: Path, incident_id: str) -> None:
    """Refuse a template without a ``parameters`` cell or one of :data:`REQUIRED_SECTIONS`."""
    nb = json.loads(tpl.read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    headings = {line.lstrip("#").strip() for c in cells if c.get("cell_type") == "markdown"
                for line in _source(c).splitlines() if line.startswith("## ")}
    missing = [s for s in REQUIRED_SECTIONS if s not in headings]
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells):
        missing.append("a code cell tagged 'parameters'")
    if missing:
        raise PostmortemError(f"postmortem template {tpl} lacks:", problems=[f"a section '## {m}'" if "cell" not in m
                                                                           else m for m in missing],
                              incident_id=incident_id, template=tpl.stem)


def _write_atomic(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)
