"""Executing a postmortem template in the runbook runner's minimal kernel environment.

A template is executed like a runbook (:func:`opsnb.runbooks.runner.execute`), in a kernel of a
:class:`opsnb.kernels.KernelPool`: the kernel starts with :func:`opsnb.kernels.kernel_environ`
(no tokens, no SSH password
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
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from opsnb.kernels import KernelPool
    from opsnb.workbench import Workbench

CHART_TAG = "postmortem:chart"
SETUP_CELL = "setup"  # the template's imports and opsnb.connect(), timed apart from the queries

_COLD: KernelPool | None = None
_WARM: KernelPool | None = None
_EXEC: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()
# What every template imports and first uses: paid while the kernel boots (a cold kernel, beside
# the drafting process's own work) or waits in the pool (a warm one), not in the template's cells.
# Every table's model (SQLAlchemy's mapping of them was 0.2 s of the setup cell), every domain's
# service and the modules the template's calls load on first use (suspects, patterns, ...), and
# one small subplot figure (Plotly builds its validators on first use, 0.1 s).
WARM_IMPORTS = ("import json, os\n"
                "import pandas, plotly.graph_objects, plotly.io, plotly.subplots, IPython.display\n"
                "import duckdb, opsnb, opsnb.viz.figures, opsnb.workbench, opsnb.store.db\n"
                "import importlib as _il, opsnb.domains as _dm\n"
                "opsnb.store.db.import_models()\n"
                "[_il.import_module(_p.split(':')[0]) for _p in _dm.services().values()]\n"
                "import opsnb.deploys.suspects, opsnb.incidents.metrics, opsnb.logs.fingerprints, opsnb.logs.metrics\n"
                "import opsnb.logs.patterns, opsnb.logs.premask, opsnb.access.identity\n"
                "plotly.io.to_json(plotly.subplots.make_subplots(rows=2, cols=1, shared_xaxes=True), validate=False)\n"
                "del _il, _dm\n")


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
    """A pool that keeps no kernel between drafts: one start per draft, nothing left running in a CLI.

    A draft still starts its kernel ahead (:meth:`~opsnb.kernels.KernelPool.prestart`) once the
    role is checked, so the kernel boots and imports while this process reads the incident and
    loads papermill.
    """
    global _COLD
    import atexit

    from opsnb.kernels import KernelPool

    with _LOCK:
        if _COLD is None:
            _COLD = KernelPool(size=0, warm_code=WARM_IMPORTS)
            atexit.register(_COLD.close)  # a kernel prestarted for a draft that was then refused
        return _COLD


def warm_pool(size: int = 1) -> KernelPool:
    """This process's pool of kernels started ahead of drafts, with the templates' libraries imported.

    For long-lived processes (the API server, JupyterLab): a draft then skips the kernel start and
    the imports, and the next kernel starts once the draft has finished (not during it: on two
    cores it would compete with the draft). A CLI draft uses :func:`cold_pool`.
    """
    global _WARM
    import atexit

    from opsnb.kernels import KernelPool

    with _LOCK:
        if _WARM is None:
            _WARM = KernelPool(size=size, warm_code=WARM_IMPORTS, refill_on_release=True)
            atexit.register(_WARM.close)
        return _WARM


def _executor() -> ThreadPoolExecutor:
    """The threads templates execute in when drafted from another thread than the main one.

    jupyter_client's synchronous calls run on the event loop that jupyter_core keeps in a context
    variable. An API handler runs in a worker thread with a copy of the server's context, whose loop
    is the server's own, running in the main thread: starting or driving a kernel from there failed
    with "This event loop is already running". A thread of this executor has its own context, and
    so its own loop, made once and reused (a new thread per draft would leave one behind each time).
    The main thread (a CLI, a notebook) runs the template itself, so that Ctrl-C stops it.
    """
    global _EXEC
    from concurrent.futures import ThreadPoolExecutor

    with _LOCK:
        if _EXEC is None:
            _EXEC = ThreadPoolExecutor(max_workers=2, thread_name_prefix="opsnb-postmortem-draft")
        return _EXEC


def in_jupyter_server() -> bool:
    """Whether this process is a running Jupyter server (``opsnb up``'s, which serves the API)."""
    mod = sys.modules.get("jupyter_server.serverapp")
    app = getattr(mod, "ServerApp", None)
    try:
        return bool(app is not None and app.initialized())
    except Exception:  # noqa: BLE001 - an unexpected jupyter_server: behave as a CLI
        return False


def default_pool() -> KernelPool:
    """Where a draft takes its kernel when the caller names no pool.

    The warm pool when this process keeps one (``ops.postmortems.warm()`` was called, or this
    is the Jupyter server of ``opsnb up``, whose API and auto-draft on resolve re-draft often;
    its first draft starts the kernel the next one takes), else the cold one.
    """
    if _WARM is not None or in_jupyter_server():
        return warm_pool()
    return cold_pool()


def execute(ops: Workbench, template: Path, incident_id: str, *, kernel_name: str = "python3",
            timeout: float = 300.0, kernels: KernelPool | None = None) -> Executed:
    """Run ``template`` for ``incident_id``; never raises for the template's own failure."""
    from opsnb.kernels import import_notebook_libraries
    from opsnb.runbooks.runner import Job
    from opsnb.runbooks.runner import execute as run

    import_notebook_libraries(skip_optional=not in_jupyter_server())

    src = json.loads(template.read_text(encoding="utf-8"))
    charts = {c.get("id") for c in src.get("cells", []) if CHART_TAG in c.get("metadata", {}).get("tags", [])}
    with tempfile.TemporaryDirectory(prefix="opsnb-pm-") as tmp:
        out = Path(tmp) / "out.ipynb"
        job = Job(run_id=f"pm-{uuid.uuid4().hex[:12]}", runbook=f"postmortem:{template.stem}",
                  input_path=str(template), output_path=str(out), parameters={"incident_id": incident_id},
                  env=kernel_env(ops), cwd=tmp, timeout=timeout, cell_timeout=timeout, kernel_name=kernel_name)
        t0 = time.perf_counter()
        pool = kernels or default_pool()
        if threading.current_thread() is threading.main_thread():
            outcome = run(job, kernels=pool)  # a CLI or a notebook: Ctrl-C reaches the run
        else:
            outcome = _executor().submit(run, job, kernels=pool).result()
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
