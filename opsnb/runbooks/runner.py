"""Executing one runbook: papermill on a warm kernel, with timeouts, cancellation and redaction.

Why a warm pool: starting a kernel costs 0.5-0.7 s and shutting it down 0.2-0.3 s,
most of papermill's 0.85 s per run. The pool (:class:`opsnb.kernels.KernelPool`, shared
with the postmortem drafts) keeps ``size`` kernels started (and ``opsnb.runbooks``
imported) ahead of demand; a run takes one, never reuses it (no state leaks between
runs), and its shutdown happens off the critical path. The kernel learns its run
(workspace, user, database, run context) through one silent execute before the
notebook starts, so nothing of that is written into the output.

Every way a run ends maps to one status: ``succeeded``, ``failed`` (a cell raised),
``cell_timeout``, ``timed_out`` (wall clock), ``cancelled``, ``dead_kernel``, and
``interrupted`` (its owner process died; set by recovery, see recovery.py).

Secrets: kernels start with a minimal environment (:func:`opsnb.kernels.kernel_environ`),
never the server's (its API token, SSH password variables, Jupyter tokens); every secret value opsnb
knows of is scrubbed from the output notebook, the error and the results, whatever printed it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# KERNEL_ENV_KEEP and kernel_environ are re-exported: what a runbook kernel keeps was defined here first.
from opsnb.kernels import KERNEL_ENV_KEEP as KERNEL_ENV_KEEP
from opsnb.kernels import KernelPool
from opsnb.kernels import close_clients as _close_clients
from opsnb.kernels import kernel_environ as kernel_environ
from opsnb.kernels import kernel_pid as _kernel_pid
from opsnb.redact import register_secrets, scrub, scrub_values
from opsnb.store.types import utcnow

STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cell_timeout", "timed_out",
                             "cancelled", "dead_kernel", "interrupted")
FINAL: frozenset[str] = frozenset(STATUSES[2:])
RECORD_MIME = "application/vnd.opsnb.record+json"
WARM_CODE = "import os, sys, json\nimport opsnb.runbooks\n"
SETUP_TAG = "opsnb-setup"
SNAPSHOT_S = 1.0  # a run longer than this writes its partial output as it goes, for a crash to keep
@dataclass
class Job:
    """Everything a worker needs to execute one run (picklable, for remote executors)."""

    run_id: str
    runbook: str
    input_path: str
    output_path: str
    parameters: dict[str, Any]
    env: dict[str, str]  # set in the kernel before the notebook runs; never written to the output
    cwd: str
    timeout: float
    cell_timeout: float | None = None
    kernel_name: str = "python3"
    secret_refs: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """How a run ended."""

    status: str
    started_at: datetime
    finished_at: datetime
    error: str = ""
    ename: str = ""
    evalue: str = ""
    cell: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    output_path: str = ""
    sha256: str = ""


# ----------------------------------------------------------------------------- kernel pool

_POOL: KernelPool | None = None
_POOL_LOCK = threading.Lock()


def pool(size: int | None = None) -> KernelPool:
    """This process's kernel pool (created on first use; closed at exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = KernelPool(size if size is not None else int(os.environ.get("OPSNB_KERNEL_POOL", "2")),
                               warm_code=WARM_CODE)
            atexit.register(_POOL.close)
        elif size is not None and size > _POOL.size:
            _POOL.size = size
        return _POOL


# ----------------------------------------------------------------------------- execution


def _kill(km: Any) -> None:
    pid = _kernel_pid(km)
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    else:
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)


def _resolve_secrets(refs: list[str]) -> list[str]:
    """The values behind the run's secret references, to scrub from outputs."""
    from opsnb.runbooks.approval import secret

    out = []
    for ref in refs:
        try:
            value = secret(ref)
        except (KeyError, OSError, ValueError):
            continue
        if value and len(value) >= 4:
            out.append(value)
    register_secrets(out)  # masked in this process's logs and error messages too
    return out


def _scrub(obj: Any, secrets: list[str]) -> Any:
    return scrub(obj, secrets)


def redact_notebook(nb: Any, secrets: list[str]) -> None:
    """Scrub secrets from a notebook in place.

    Every output (streams, error tracebacks, display data of every MIME type) loses known secret
    values and secret-looking text; sources and metadata lose known secret values.
    """
    import nbformat

    for cell in nb.cells:
        cell["source"] = scrub_values(cell.get("source", ""), secrets)
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = [nbformat.from_dict(_scrub(dict(o), secrets)) for o in cell.get("outputs", [])]
    nb.metadata = nbformat.from_dict(_values_only(dict(nb.metadata), secrets))


def _values_only(obj: Any, secrets: list[str]) -> Any:
    if isinstance(obj, str):
        return scrub_values(obj, secrets)
    if isinstance(obj, list):
        return [_values_only(x, secrets) for x in obj]
    if isinstance(obj, dict):
        return {k: _values_only(v, secrets) for k, v in obj.items()}
    return obj


def snapshot(nb: Any, job: Job, secrets: list[str]) -> None:
    """Write the run's output so far (redacted, read-only): what a crash leaves behind."""
    import copy

    part = copy.deepcopy(nb)
    part.cells = [c for c in part.cells if SETUP_TAG not in c.get("metadata", {}).get("tags", [])]
    redact_notebook(part, secrets)
    part.metadata.setdefault("opsnb_run", {}).update({"run_id": job.run_id, "runbook": job.runbook,
                                                      "status": "running", "partial": True})
    write_output(part, job.output_path)


def read_results(nb: Any) -> dict[str, Any]:
    """Results recorded with ``opsnb.runbooks.record`` (the last value of each name wins)."""
    out: dict[str, Any] = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            payload = (o.get("data") or {}).get(RECORD_MIME)
            if isinstance(payload, dict) and isinstance(payload.get("name"), str):
                out[payload["name"]] = payload.get("value")
    return out


def _first_error(nb: Any) -> tuple[str, str, str]:
    for cell in nb.cells:
        if "papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []):
            continue
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if o.get("output_type") == "error":
                return str(o.get("ename", "")), str(o.get("evalue", "")), str(cell.get("id", ""))
    return "", "", ""


def write_output(nb: Any, path: str) -> str:
    """Write the output notebook once, read-only; return its sha256."""
    import nbformat

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = nbformat.writes(nb).encode("utf-8")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o444)  # never changed afterwards
    os.replace(tmp, target)
    return hashlib.sha256(data).hexdigest()


def execute(job: Job, *, on_event: Callable[[dict[str, Any]], None] | None = None,
            should_stop: Callable[[], bool] | None = None, kernels: KernelPool | None = None) -> Outcome:
    """Execute a run with papermill on a warm kernel; never raises for a run's own failure.

    Args:
        job: What to run.
        on_event: Called with progress events (``cell_started``, ``cell_finished``) from the
            executing thread.
        should_stop: Polled about every 0.1 s; when it returns True the kernel is killed and
            the run ends ``cancelled``.
        kernels: The kernel pool (default: this process's).

    Returns:
        The outcome, with the output notebook written (redacted, read-only) when any cell ran.
    """
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.engines import papermill_engines
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # quiet: outcomes are reported, not logged
    started = utcnow()
    emit = on_event or (lambda _e: None)
    kp = kernels or pool()
    reason: list[str] = []  # why the watchdog killed the kernel
    done = threading.Event()
    nb = None
    try:
        nb = parameterize_notebook(load_notebook_node(job.input_path), job.parameters,
                                   kernel_name=job.kernel_name)
        km = kp.acquire(job.kernel_name)
    except Exception as exc:  # noqa: BLE001 - a broken notebook or kernel start is a failed run
        return Outcome("failed", started, utcnow(), error=scrub(f"could not start the run: {exc}"),
                       ename=type(exc).__name__, evalue=scrub(str(exc)))
    kpid = _kernel_pid(km)
    if kpid:  # recorded, so that recovery can kill the kernel's process group if this process dies
        from opsnb.runbooks.recovery import kernel_identity

        emit({"event": "kernel", "kernel": kernel_identity(kpid)})
    secrets = _resolve_secrets(job.secret_refs)
    last_snapshot = [time.monotonic()]

    def watchdog() -> None:
        deadline = time.monotonic() + job.timeout
        while not done.wait(0.1):
            if should_stop is not None and should_stop():
                reason.append("cancelled")
                break
            if time.monotonic() >= deadline:
                reason.append("timed_out")
                break
        else:
            return
        _kill(km)

    cell_t0: dict[int, float] = {}
    cell_rows: dict[int, dict[str, Any]] = {}

    def on_start(cell: Any, cell_index: int) -> None:
        if cell.get("cell_type") != "code" or SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            return  # nbclient announces markdown cells too; the setup cell is ours, not the runbook's
        cell_index -= 1  # index in the output notebook, which will not have the setup cell
        if time.monotonic() - last_snapshot[0] >= SNAPSHOT_S:
            last_snapshot[0] = time.monotonic()
            with contextlib.suppress(OSError):  # the final write will report a full disk
                snapshot(nb, job, secrets)
        cell_t0[cell_index] = time.perf_counter()
        src = cell.get("source", "").strip()
        cell_rows[cell_index] = {"index": cell_index, "cell_id": cell.get("id", ""), "status": "running",
                                 "started_at": utcnow(), "finished_at": None, "duration": None,
                                 "source": src.splitlines()[0][:120] if src else ""}
        emit({"event": "cell_started", "index": cell_index, "cell_id": cell.get("id", ""),
              "source": cell.get("source", "").strip().splitlines()[0][:120] if cell.get("source", "").strip() else "",
              "at": utcnow().isoformat()})

    def on_complete(cell: Any, cell_index: int, **_kw: Any) -> None:
        if SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            return
        cell_index -= 1
        dur = time.perf_counter() - cell_t0.get(cell_index, time.perf_counter())
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        row = cell_rows.get(cell_index)
        if row is not None:
            row.update(status="failed" if failed else "succeeded", finished_at=utcnow(), duration=round(dur, 4))
        emit({"event": "cell_finished", "index": cell_index, "cell_id": cell.get("id", ""),
              "duration": round(dur, 4), "status": "failed" if failed else "succeeded",
              "at": utcnow().isoformat()})

    guard = threading.Thread(target=watchdog, daemon=True, name=f"opsnb-watchdog-{job.run_id}")
    status, error, ename, evalue, cell = "succeeded", "", "", "", ""
    env = dict(job.env)
    for ref in job.secret_refs:  # warm kernels predate the run: hand them the variables the refs name
        if ref.startswith("env:") and ref[4:] in os.environ:
            env[ref[4:]] = os.environ[ref[4:]]
    # The kernel learns its run from a first cell executed on nbclient's own connection (a
    # separate client would pay the ZMQ connect/ready handshake again, ~0.2 s); the cell is
    # removed before the output is written, so the environment (database URL) never lands there.
    setup = nbformat.v4.new_code_cell(
        f"import os as _os, json as _json\n_os.environ.update(_json.loads({json.dumps(env)!r}))\n_os.chdir({job.cwd!r})\n"
        "del _os, _json")
    setup.metadata["tags"] = [SETUP_TAG]
    setup.metadata["papermill"] = {}
    nb.cells.insert(0, setup)
    try:
        guard.start()
        papermill_engines.execute_notebook_with_engine(
            "nbclient", nb, job.kernel_name, output_path=None, progress_bar=False, log_output=False,
            km=km, execution_timeout=job.cell_timeout, start_timeout=60,
            on_cell_start=on_start, on_cell_executed=on_complete,
        )
        setup_error = next((o for o in nb.cells[0].get("outputs", []) if o.get("output_type") == "error"), None)
        if setup_error is not None:
            raise RuntimeError(f"kernel setup failed: {setup_error.get('ename')}: {setup_error.get('evalue')}")
        ename, evalue, cell = _first_error(nb)
        if ename:
            status, error = "failed", f"{ename}: {evalue}"
    except CellTimeoutError as exc:
        status, error = "cell_timeout", f"a cell ran past {job.cell_timeout}s: {str(exc).splitlines()[0]}"
    except DeadKernelError as exc:
        status = reason[0] if reason else "dead_kernel"
        error = {"cancelled": "cancelled", "timed_out": f"ran past its timeout of {job.timeout:g}s"}.get(
            status, f"the kernel died: {exc}")
    except Exception as exc:  # noqa: BLE001 - anything else (kernel unreachable, setup failure)
        status = reason[0] if reason else "failed"
        error = {"cancelled": "cancelled", "timed_out": f"ran past its timeout of {job.timeout:g}s"}.get(
            status, f"{type(exc).__name__}: {exc}")
        ename, evalue = (type(exc).__name__, str(exc)) if status == "failed" else ("", "")
    finally:
        done.set()
        _close_clients(km)
        kp.release(km)
    nb.cells = [c for c in nb.cells if SETUP_TAG not in c.get("metadata", {}).get("tags", [])]
    if status == "succeeded" and reason:  # killed just as the last cell finished
        status = reason[0]
    for row in cell_rows.values():
        if row["status"] == "running":  # the cell the run ended in
            row.update(status=status, finished_at=utcnow(),
                       duration=round(time.perf_counter() - cell_t0[row["index"]], 4))
    redact_notebook(nb, secrets)
    nb.metadata.setdefault("opsnb_run", {}).update(
        {"run_id": job.run_id, "runbook": job.runbook, "status": status})
    sha = write_output(nb, job.output_path)
    return Outcome(status, started, utcnow(), error=_scrub(error, secrets), ename=ename,
                   evalue=_scrub(evalue, secrets), cell=cell, results=_scrub(read_results(nb), secrets),
                   cells=[cell_rows[i] for i in sorted(cell_rows)], output_path=job.output_path, sha256=sha)
