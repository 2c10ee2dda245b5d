"""Where runs execute: a thread pool in this process (default) or a Dask distributed cluster.

Why threads: papermill in a separate process costs about 3.5 s a run here (importing
it), while threads of one long-lived process share one import and one warm kernel
pool; the kernels themselves are separate processes, so the notebooks do run in
parallel. When one machine is not enough, ``executor = "dask://host:port"`` sends
each run to a Dask worker, which opens the same workspace (shared storage and a
PostgreSQL state database) and runs it with its own warm pool.

Every executor implements :class:`Executor`. They are found in :data:`EXECUTORS`
(a :class:`~opsnb.registry.Registry`, entry-point group ``opsnb.executors``) by the
scheme of the ``executor`` setting: ``local``, ``dask://host:port``, or a third
party's ``<scheme>://<address>``. A registered factory takes the address (the part
after ``://``, empty for a bare name) and the ``executor_workers`` setting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from opsnb.errors import ConfigError, NotFound
from opsnb.registry import Registry

if TYPE_CHECKING:
    from opsnb.runbooks.runner import Job

Handle: TypeAlias = Any
"""What :meth:`Executor.submit` returns: opaque to the caller, given back to ``cancel`` and ``status``."""

STATES: tuple[str, ...] = ("pending", "running", "done", "failed", "cancelled")
ENDED = frozenset({"done", "failed", "cancelled"})


@runtime_checkable
class Executor(Protocol):
    """Runs runbook jobs somewhere.

    The run's outcome is always written to the ledger by whoever performs it (this
    process or a remote worker); an executor only carries the job there. A running job
    is cancelled through the ledger's cancel flag, which the run polls, so that the
    outcome is written however the job is stopped.

    Attributes:
        name: What the ledger records as the run's executor (``local``, ``dask://host:port``).
    """

    name: str

    def submit(self, job: Job, *, perform: Callable[[Job], str],
               payload: Callable[[], dict[str, Any]]) -> Handle:
        """Start ``job``; return a handle at once.

        Args:
            job: The run to execute.
            perform: Executes the job in this process and writes its outcome (a local
                executor calls it on one of its threads).
            payload: Builds the picklable description of the job a worker in another
                process needs (see :func:`opsnb.runbooks.service.perform_remote`).
        """
        ...

    def cancel(self, handle: Handle) -> bool:
        """Withdraw a job that has not started; False when it has (or cannot be known)."""
        ...

    def status(self, handle: Handle) -> str:
        """One of :data:`STATES`: ``pending`` (queued, or running where that cannot be told),
        ``running``, ``done`` (the job returned and wrote its outcome), ``failed``, ``cancelled``."""
        ...

    def close(self) -> None:
        """Release the pool or the connection; jobs already started finish."""
        ...


class LocalExecutor:
    """Runs jobs in a thread pool of this process."""

    name = "local"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, int(workers))
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="opsnb-run")

    def submit(self, job: Job, *, perform: Callable[[Job], str],
               payload: Callable[[], dict[str, Any]]) -> Future[str]:
        del payload  # the job runs here: nothing crosses a process boundary
        return self._pool.submit(perform, job)

    def cancel(self, handle: Future[str]) -> bool:
        return handle.cancel()

    def status(self, handle: Future[str]) -> str:
        if handle.cancelled():
            return "cancelled"
        if handle.done():
            return "failed" if handle.exception() is not None else "done"
        return "running" if handle.running() else "pending"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=False)


def _remote_perform(payload: dict[str, Any]) -> str:
    """Executed on a Dask worker: open the workspace there and perform the run."""
    from opsnb.runbooks.service import perform_remote

    return perform_remote(payload)


_DASK_STATES = {"pending": "pending", "finished": "done", "error": "failed", "lost": "failed",
                "cancelled": "cancelled"}


class DaskExecutor:
    """Runs jobs on a Dask distributed cluster (``dask://host:port``).

    The workers must have opsnb installed, see the workspace path and reach the state
    database; each run's ledger row is written by the worker that executes it.
    """

    def __init__(self, address: str) -> None:
        if not address:
            raise ConfigError("executor dask:// needs host:port", setting="executor")
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - distributed is a declared dependency
            raise ConfigError("executor dask:// needs the 'distributed' package", setting="executor") from None
        self.address = address
        self.name = f"dask://{address}"
        try:
            self._client = Client(address, timeout="10s", set_as_default=False)
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}", setting="executor") from None
        self._lock = threading.Lock()

    def submit(self, job: Job, *, perform: Callable[[Job], str],
               payload: Callable[[], dict[str, Any]]) -> Any:
        del perform  # bound to this process: the worker performs the run from the payload
        with self._lock:
            return self._client.submit(_remote_perform, payload(), pure=False, key=f"opsnb-run-{job.run_id}")

    def cancel(self, handle: Any) -> bool:
        # Dask cannot tell a queued task from a running one: withdrawing it could leave its
        # ledger row queued forever, so a run on a worker stops only through the ledger.
        del handle
        return False

    def status(self, handle: Any) -> str:
        return _DASK_STATES.get(str(handle.status), "failed")

    def close(self) -> None:
        self._client.close()


ExecutorFactory: TypeAlias = Callable[[str, int], Executor]
"""Builds an executor from the address after ``<scheme>://`` and the ``executor_workers`` setting."""


def _adapt(name: str, obj: Any) -> ExecutorFactory:
    if not callable(obj):
        raise TypeError(f"an executor factory must be callable (address, workers) -> Executor, got "
                        f"{type(obj).__name__}")
    return obj


EXECUTORS: Registry[ExecutorFactory] = Registry("executor", group="opsnb.executors", adapt=_adapt)
EXECUTORS.register("local", lambda _address, workers: LocalExecutor(workers), origin="opsnb")
EXECUTORS.register("dask", lambda address, _workers: DaskExecutor(address), origin="opsnb")


def make(spec: str, workers: int = 2) -> Executor:
    """Build the executor named by the ``executor`` setting (``local``, ``<scheme>://<address>``).

    Raises:
        ConfigError: Unknown scheme (with a did-you-mean), malformed address, or a factory
            that does not return an :class:`Executor`.
    """
    spec = (spec or "local").strip()
    scheme, sep, address = spec.partition("://")
    try:
        factory = EXECUTORS.get(scheme)
    except NotFound as exc:
        raise ConfigError(f"executor {spec!r}: {exc} (use 'local' or 'dask://host:port')",
                          setting="executor") from None
    if sep and scheme.lower() == "local" and address:
        raise ConfigError(f"executor {spec!r}: local takes no address", setting="executor")
    ex = factory(address, workers)
    if not isinstance(ex, Executor):
        raise ConfigError(f"executor {spec!r}: the factory registered for {scheme!r} returned "
                          f"{type(ex).__name__}, which lacks submit/cancel/status/close", setting="executor")
    return ex
