"""Where runs execute: a thread pool in this process (default) or a Dask distributed cluster.

Why threads: papermill in a separate process costs about 3.5 s a run here (importing
it), while threads of one long-lived process share one import and one warm kernel
pool; the kernels themselves are separate processes, so the notebooks do run in
parallel. When one machine is not enough, ``executor = "dask://host:port"`` sends
each run to a Dask worker, which opens the same workspace (shared storage and a
PostgreSQL state database) and runs it with its own warm pool.

Registry: ``EXECUTORS`` maps a scheme to a factory; ``make(spec, ...)`` builds one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from opsnb.errors import ConfigError


class LocalExecutor:
    """Runs jobs in a thread pool of this process."""

    name = "local"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, int(workers))
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="opsnb-run")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=False)


def _remote_perform(payload: dict[str, Any]) -> str:
    """Executed on a Dask worker: open the workspace there and perform the run."""
    from opsnb.runbooks.service import perform_remote

    return perform_remote(payload)


class DaskExecutor:
    """Runs jobs on a Dask distributed cluster (``dask://host:port``).

    The workers must have opsnb installed, see the workspace path and reach the state
    database; each run's ledger row is written by the worker that executes it.
    """

    def __init__(self, address: str) -> None:
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

    def submit(self, fn: Callable[..., Any], payload: dict[str, Any]) -> Any:
        del fn  # the worker side always runs _remote_perform
        with self._lock:
            return self._client.submit(_remote_perform, payload, pure=False, key=f"opsnb-run-{payload['job']['run_id']}")

    def close(self) -> None:
        self._client.close()


EXECUTORS: dict[str, Callable[[str, int], Any]] = {
    "local": lambda _spec, workers: LocalExecutor(workers),
    "dask": lambda spec, _workers: DaskExecutor(spec.split("://", 1)[1]),
}


def make(spec: str, workers: int = 2) -> Any:
    """Build the executor named by the ``executor`` setting.

    Raises:
        ConfigError: Unknown scheme or malformed address.
    """
    spec = (spec or "local").strip()
    scheme = spec.split("://", 1)[0] if "://" in spec else spec
    if scheme not in EXECUTORS:
        raise ConfigError(f"unknown executor {spec!r}; use 'local' or 'dask://host:port'", setting="executor")
    if scheme == "dask" and not spec.split("://", 1)[1]:
        raise ConfigError("executor dask:// needs host:port", setting="executor")
    return EXECUTORS[scheme](spec, workers)
