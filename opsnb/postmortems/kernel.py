"""Executing a postmortem template in the runbook runner's minimal kernel environment.

A template is executed like a runbook (:func:`opsnb.runbooks.runner.execute`): the kernel
starts with :func:`~opsnb.runbooks.runner.kernel_environ` (no tokens, no SSH password
variables, no ``OPSNB_*`` of the server), and learns its workspace, database and user from a
setup cell that is removed before the output is kept, so the database URL is never written
into the notebook (papermill parameters would have been). Known secret values are scrubbed
from every output.

The share of the time spent in the kernel start, in the template's ``setup`` cell (imports and
``opsnb.connect``), in the query cells and in the chart cells (tagged ``postmortem:chart``) is
returned with the notebook, for the benchmark and the run record.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsnb.runbooks.runner import KernelPool
    from opsnb.workbench import Workbench

CHART_TAG = "postmortem:chart"
SETUP_CELL = "setup"  # the template's imports and opsnb.connect(), timed apart from the queries

_COLD: KernelPool | None = None
_WARM: KernelPool | None = None
# What every template imports: paid while the kernel waits in the pool, not during the draft.
WARM_IMPORTS = ("import pandas, plotly.graph_objects, plotly.io, plotly.subplots, IPython.display\n"
                "import opsnb.viz.figures, opsnb.workbench, opsnb.incidents.service\n")


@dataclass
class Executed:
    """How one execution of a template went."""

    status: str  # succeeded | failed (the runner's statuses past "failed" are reported as failed)
    notebook: dict[str, Any] | None
    error: str = ""
    cell: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def kernel_env(ops: Workbench) -> dict[str, str]:
    """What the kernel is told before the template runs: workspace, database, user; nothing else.

    The database URL is the one secret it needs (it reads the incident from the database); the
    setup cell that carries it is not part of the output.
    """
    env = {"OPSNB_WORKSPACE": str(ops.workspace), "OPSNB_USER": ops.user}
    if ops.settings.database_url:
        env["OPSNB_DATABASE_URL"] = str(ops.settings.database_url)
    return env


def cold_pool() -> KernelPool:
    """A pool that keeps no kernel warm: one start per draft, nothing left running in a CLI."""
    global _COLD
    from opsnb.runbooks.runner import KernelPool

    if _COLD is None:
        _COLD = KernelPool(size=0)
    return _COLD


def warm_pool(size: int = 1) -> KernelPool:
    """This process's pool of kernels started ahead of drafts, with the templates' libraries imported.

    For long-lived processes (the API server, JupyterLab): a draft then skips the kernel start and
    the imports. A CLI draft uses :func:`cold_pool` and leaves nothing running.
    """
    global _WARM
    import atexit

    from opsnb.runbooks import runner

    class _Pool(runner.KernelPool):
        def _start_one(self, kernel_name: str) -> None:
            km = None
            try:
                km = runner._start_warm(kernel_name)
                kc = runner._blocking_client(km)
                try:
                    kc.start_channels()
                    kc.execute_interactive(WARM_IMPORTS, silent=True, store_history=False, timeout=120,
                                           output_hook=lambda _m: None)
                finally:
                    kc.stop_channels()
            except Exception:  # noqa: BLE001 - a failed warm start is retried by the next acquire
                if km is not None:
                    runner._shutdown(km)
                km = None
            with self._cond:
                self._starting[kernel_name] -= 1
                if km is not None and not self._closed:
                    self._ready.setdefault(kernel_name, []).append(km)
                    km = None
                self._cond.notify_all()
            if km is not None:
                runner._shutdown(km)

    if _WARM is None:
        _WARM = _Pool(size=size)
        atexit.register(_WARM.close)
    return _WARM


def execute(ops: Workbench, template: Path, incident_id: str, *, kernel_name: str = "python3",
            timeout: float = 300.0, kernels: KernelPool | None = None) -> Executed:
    """Run ``template`` for ``incident_id``; never raises for the template's own failure."""
    from opsnb.runbooks.runner import Job
    from opsnb.runbooks.runner import execute as run

    src = json.loads(template.read_text(encoding="utf-8"))
    charts = {c.get("id") for c in src.get("cells", []) if CHART_TAG in c.get("metadata", {}).get("tags", [])}
    with tempfile.TemporaryDirectory(prefix="opsnb-pm-") as tmp:
        out = Path(tmp) / "out.ipynb"
        job = Job(run_id=f"pm-{uuid.uuid4().hex[:12]}", runbook=f"postmortem:{template.stem}",
                  input_path=str(template), output_path=str(out), parameters={"incident_id": incident_id},
                  env=kernel_env(ops), cwd=tmp, timeout=timeout, cell_timeout=timeout, kernel_name=kernel_name)
        t0 = time.perf_counter()
        outcome = run(job, kernels=kernels or cold_pool())
        total = time.perf_counter() - t0
        nb = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else None
    cells = {str(c.get("cell_id")): float(c.get("duration") or 0.0) for c in outcome.cells}
    setup_s = cells.get(SETUP_CELL, 0.0)
    chart_s = sum(d for cid, d in cells.items() if cid in charts)
    query_s = sum(d for cid, d in cells.items() if cid not in charts and cid != SETUP_CELL)
    timings = {"total": round(total, 4),
               "kernel_start": round(max(0.0, total - chart_s - query_s - setup_s), 4),
               "setup": round(setup_s, 4), "queries": round(query_s, 4), "charts": round(chart_s, 4)}
    if nb is not None:
        nb.get("metadata", {}).pop("opsnb_run", None)  # a runbook run's marker; a postmortem is not one
    if outcome.status != "succeeded":
        where = f" in cell {outcome.cell}" if outcome.cell else ""
        return Executed("failed", nb, error=f"{outcome.error}{where}"[:2000], cell=outcome.cell, timings=timings)
    return Executed("succeeded", nb, timings=timings)
