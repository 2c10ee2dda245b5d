"""The :class:`Run` handle: one run's status, results, output and progress."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from opsnb.errors import RunCancelled, RunFailed, RunTimeout
from opsnb.runbooks.runner import FINAL

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.runbooks.service import Runbooks

_COLOURS = {"succeeded": "#1e8449", "failed": "#c0392b", "cell_timeout": "#c0392b", "timed_out": "#c0392b",
            "dead_kernel": "#c0392b", "interrupted": "#c0392b", "cancelled": "#7f8c8d", "queued": "#2874a6", "running": "#2874a6"}


class Run:
    """A runbook run. Attributes mirror its ledger row (refreshed by :meth:`refresh` and :meth:`wait`).

    Attributes:
        id, runbook, status, dry_run, params, targets, results, output_path, error, actor,
        trigger, reason, created_at, started_at, finished_at, duration.
    """

    def __init__(self, svc: Runbooks, run_id: str) -> None:
        self._svc = svc
        self.id = run_id
        self._row: dict[str, Any] = {}
        self.refresh()

    def refresh(self) -> Run:
        self._row = self._svc.record(self.id)
        return self

    def __getattr__(self, name: str) -> Any:
        row = self.__dict__.get("_row", {})
        if name in row:
            return row[name]
        raise AttributeError(name)

    @property
    def done(self) -> bool:
        return self._row["status"] in FINAL

    @property
    def ok(self) -> bool:
        return self._row["status"] == "succeeded"

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run ends (or ``timeout`` seconds pass)."""
        self._row = self._svc.wait(self.id, timeout)
        return self

    def cancel(self, reason: str = "") -> Run:
        """Stop the run: the kernel is killed; the run ends ``cancelled``."""
        self._svc.cancel(self.id, reason=reason)
        return self.refresh()

    def raise_for_status(self) -> Run:
        """Raise the matching RunbookError unless the run succeeded."""
        st = self._row["status"]
        fields = {"runbook": self._row["runbook"], "run_id": self.id}
        if st == "failed":
            raise RunFailed(f"run {self.id} of {self._row['runbook']} failed: {self._row['error']}",
                            cell=self._row["failed_cell"], **fields)
        if st in ("timed_out", "cell_timeout"):
            raise RunTimeout(f"run {self.id} of {self._row['runbook']} {st.replace('_', ' ')}: {self._row['error']}",
                             **fields)
        if st == "cancelled":
            raise RunCancelled(f"run {self.id} of {self._row['runbook']} was cancelled", **fields)
        if st == "dead_kernel":
            raise RunFailed(f"run {self.id} of {self._row['runbook']}: the kernel died", **fields)
        if st == "interrupted":
            raise RunFailed(f"run {self.id} of {self._row['runbook']} was {self._row['error']}", **fields)
        return self

    @property
    def cells(self) -> pd.DataFrame:
        """Per-cell timings."""
        return self._svc.cells(self.id)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Progress events so far."""
        return self._svc.events(self.id)

    def notebook(self) -> Any:
        """The output notebook (nbformat node)."""
        import nbformat

        return nbformat.read(self._row["output_path"], as_version=4)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._row)

    def __repr__(self) -> str:
        r = self._row
        return (f"<Run {self.id} {r['runbook']} {r['status']}{' dry-run' if r['dry_run'] else ''}"
                f"{' in {:.2f}s'.format(r['duration']) if r.get('duration') is not None else ''}>")

    def _repr_html_(self) -> str:
        r = self._row
        colour = _COLOURS.get(r["status"], "#333")
        res = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                      f"<td style='text-align:left'><code>{html.escape(str(v)[:300])}</code></td></tr>"
                      for k, v in r["results"].items())
        err = f"<div style='color:#c0392b'>{html.escape(r['error'])}</div>" if r["error"] else ""
        dur = f" &middot; {r['duration']:.2f}s" if r.get("duration") is not None else ""
        return (f"<div style='border-left:4px solid {colour};padding:4px 8px'>"
                f"<b>{html.escape(r['runbook'])}</b> <code>{html.escape(self.id)}</code> "
                f"<b style='color:{colour}'>{html.escape(r['status'])}</b>"
                f"{' (dry run)' if r['dry_run'] else ''}{dur} &middot; {html.escape(r['trigger'])} by "
                f"{html.escape(r['actor'])}{' on ' + html.escape(', '.join(r['targets'])) if r['targets'] else ''}"
                f"{err}{'<table>' + res + '</table>' if res else ''}"
                f"<div><small>{html.escape(r['output_path'])}</small></div></div>")
