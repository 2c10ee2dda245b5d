"""Jupyter kernels for the notebooks opsnb executes itself (runbooks, postmortem templates).

One place starts them, so every such kernel gets the same scrubbed environment and the same
handling: the runbook runner (:mod:`opsnb.runbooks.runner`) and the postmortem drafts
(:mod:`opsnb.postmortems.kernel`) both take their kernels from a :class:`KernelPool`.

Secrets: a kernel starts with :func:`kernel_environ`, never the server's environment (its API
token, SSH password variables, Jupyter tokens, the ``OPSNB_*`` settings). What a run needs of
its workspace reaches the kernel through the run's own setup cell, which is removed before the
output is kept.

Why a pool: starting a kernel costs 0.5-0.7 s and shutting it down 0.1-0.3 s. A pool keeps
``size`` kernels started ahead of demand, each with its ``warm_code`` (imports) already run;
a run takes one and never gives it back (no state leaks between runs), and its shutdown
happens off the critical path. A pool of size 0 keeps nothing running between runs (a CLI)
but can still :meth:`~KernelPool.prestart` one kernel while the caller does other work.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

# The server's environment a kernel keeps: what Python, locales and ssh-agent need, nothing secret.
KERNEL_ENV_KEEP: frozenset[str] = frozenset({
    "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "USER", "LOGNAME", "SHELL", "TERM",
    "SSH_AUTH_SOCK", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT", "IPYTHONDIR", "MPLBACKEND",
    "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "XDG_RUNTIME_DIR",
})
START_TIMEOUT_S = 60.0
WARM_TIMEOUT_S = 120.0  # warm code imports pandas and Plotly; on a loaded machine that takes a while


def kernel_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a kernel starts with: :data:`KERNEL_ENV_KEEP` and ``LC_*`` only.

    No ``OPSNB_*`` (a run's own settings reach the kernel through its setup cell, secrets
    excluded), no tokens, no variables holding SSH passwords or passphrases.
    """
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k in KERNEL_ENV_KEEP or k.startswith("LC_")}


def kernel_pid(km: Any) -> int | None:
    """The kernel process's id, if the manager started a local process."""
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    return getattr(proc, "pid", None)


def make_manager(kernel_name: str) -> Any:
    """A kernel manager (not started) whose clients are kept, so a run can close them."""
    from jupyter_client import KernelManager
    from jupyter_client.asynchronous import AsyncKernelClient

    # nbclient drives the kernel from an event loop: its client must be asynchronous, or a
    # dead kernel leaves it blocked on a socket forever instead of raising DeadKernelError.
    try:
        # 'auto' provisions CurveZMQ keys when possible: no plain-TCP warning at each start.
        km: Any = KernelManager(kernel_name=kernel_name, transport_encryption="auto",
                                client_factory=AsyncKernelClient)
    except Exception:  # noqa: BLE001 - libzmq without curve: fall back to the default
        km = KernelManager(kernel_name=kernel_name, client_factory=AsyncKernelClient)
    # nbclient leaves the channels of a client it made from a kernel manager it was handed open
    # (a ZMQ context and five sockets a run); the clients are kept so the run can close them.
    clients: list[Any] = []
    make_client = km.client

    def client(**kw: Any) -> Any:
        kc = make_client(**kw)
        clients.append(kc)
        return kc

    km.client = client
    km.opsnb_clients = clients
    return km


def close_clients(km: Any) -> None:
    """Stop the channels of the clients made from ``km`` (in the thread whose event loop ran them)."""
    clients = getattr(km, "opsnb_clients", [])
    for kc in clients:
        with contextlib.suppress(Exception):
            kc.stop_channels()
    clients.clear()


def blocking_client(km: Any) -> Any:
    """A blocking client for our own short exchanges with the kernel (warm-up, setup)."""
    from jupyter_client.blocking import BlockingKernelClient

    kw: dict[str, Any] = dict(km.get_connection_info(session=True))
    kw.update(connection_file=km.connection_file, parent=km)
    for key in ("curve_publickey", "curve_secretkey"):
        if isinstance(kw.get(key), str):
            kw[key] = kw[key].encode("ascii")
    return BlockingKernelClient(**kw)


def start(kernel_name: str, warm_code: str = "") -> Any:
    """Start a kernel with the scrubbed environment and run ``warm_code`` in it, silently.

    Raises:
        Exception: Whatever jupyter_client raises when the kernel does not start or answer; the
            half-started kernel is shut down first.
    """
    km = make_manager(kernel_name)
    km.start_kernel(extra_arguments=["--HistoryManager.enabled=False", "--IPKernelApp.quiet=True"],
                    env=kernel_environ())
    try:
        kc = blocking_client(km)
        try:
            kc.start_channels()
            kc.wait_for_ready(timeout=START_TIMEOUT_S)
            if warm_code:
                kc.execute_interactive(warm_code, silent=True, store_history=False, timeout=WARM_TIMEOUT_S,
                                       output_hook=lambda _m: None)
        finally:
            kc.stop_channels()
    except BaseException:
        shutdown(km)
        raise
    return km


def shutdown(km: Any) -> None:
    """Stop a kernel and remove its connection file; never raises."""
    with contextlib.suppress(Exception):
        km.shutdown_kernel(now=True)
    with contextlib.suppress(Exception):
        km.cleanup_resources()


# Optional imports of the notebook libraries that opsnb never uses and that cost each process
# drafting a postmortem or running a runbook a second and a half of CPU, a third of a CLI draft:
# jsonschema's IRI format checker (rfc3987_syntax builds ~35 Lark parsers at import, 0.9-1.1 s;
# python-jsonschema/jsonschema#1428; notebook validation uses no IRI format) and papermill's HDFS
# handler (pyarrow, and numpy with it, 0.5 s; runs read and write local files).
SKIPPED_OPTIONAL: tuple[tuple[str, str], ...] = (("jsonschema", "rfc3987_syntax"), ("papermill", "pyarrow"))


def import_notebook_libraries(*, skip_optional: bool = True) -> None:
    """Import nbformat and papermill, without the optional parts of :data:`SKIPPED_OPTIONAL`.

    Each optional module is hidden only while its library is first imported, and only when
    neither is imported yet: a later ``import pyarrow`` works as usual. Pass
    ``skip_optional=False`` in a process whose other threads may import them meanwhile (a
    server), where hiding them could fail those imports; there they are usually loaded already.
    """
    import importlib
    import sys

    for lib, optional in SKIPPED_OPTIONAL if skip_optional else ():
        if lib in sys.modules or optional in sys.modules:
            continue
        sys.modules[optional] = None  # type: ignore[assignment]  # its import raises ImportError
        try:
            importlib.import_module(lib)
        finally:
            if optional in sys.modules and sys.modules[optional] is None:
                del sys.modules[optional]
    import nbformat  # noqa: F401
    import papermill  # noqa: F401


class KernelPool:
    """Kernels started ahead of demand, one per run, shut down off the critical path.

    Starts and stops run on long-lived threads: jupyter_client's synchronous calls leave an
    event loop (an epoll and a socket pair) in every thread that makes them, so a fresh thread
    per start or stop leaked a few descriptors a run, past 1,024 in a long test session.

    Args:
        size: Kernels kept warm per kernel name (0: none between runs).
        warm_code: Code each kernel runs once started (imports), before any run takes it.
        refill_on_release: Start the replacement of a taken kernel when the run gives it back,
            not when it takes it: on a small machine a replacement starting during the run
            competes with it for the CPU.
    """

    def __init__(self, size: int = 2, *, warm_code: str = "", refill_on_release: bool = False) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.size = max(0, int(size))
        self.warm_code = warm_code
        self.refill_on_release = refill_on_release
        self._ready: dict[str, list[Any]] = {}
        self._starting: dict[str, int] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._starter = ThreadPoolExecutor(max_workers=max(1, self.size), thread_name_prefix="opsnb-kernel-start")
        self._stopper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsnb-kernel-stop")

    def _submit(self, kernel_name: str, n: int) -> None:
        for _ in range(n):
            self._starter.submit(self._start_one, kernel_name)

    def _fill(self, kernel_name: str) -> None:
        with self._cond:
            missing = self.size - len(self._ready.get(kernel_name, [])) - self._starting.get(kernel_name, 0)
            if missing <= 0 or self._closed:
                return
            self._starting[kernel_name] = self._starting.get(kernel_name, 0) + missing
        self._submit(kernel_name, missing)

    def _start_one(self, kernel_name: str) -> None:
        km = None
        try:
            km = start(kernel_name, self.warm_code)
        except Exception:  # noqa: BLE001 - a failed warm start is retried by the next acquire
            km = None
        with self._cond:
            self._starting[kernel_name] -= 1
            if km is not None and not self._closed:
                self._ready.setdefault(kernel_name, []).append(km)
                km = None
            self._cond.notify_all()
        if km is not None:
            shutdown(km)

    def warm(self, kernel_name: str = "python3", wait: bool = False, timeout: float = 60) -> None:
        """Start kernels up to the pool size; with ``wait``, until one is ready."""
        self._fill(kernel_name)
        if wait:
            deadline = time.monotonic() + timeout
            with self._cond:
                while not self._ready.get(kernel_name) and time.monotonic() < deadline:
                    self._cond.wait(0.1)

    def prestart(self, kernel_name: str = "python3") -> None:
        """Start one kernel now for the next :meth:`acquire`, unless one is ready or starting.

        Beyond the pool's size: a caller with work to do before its run (imports, reading the
        database) lets the kernel boot on the other core meanwhile.
        """
        with self._cond:
            if self._closed or self._ready.get(kernel_name) or self._starting.get(kernel_name, 0):
                return
            self._starting[kernel_name] = self._starting.get(kernel_name, 0) + 1
        self._submit(kernel_name, 1)

    def acquire(self, kernel_name: str = "python3") -> Any:
        """A started kernel manager for one run (a warm one when available)."""
        with self._cond:
            # A kernel already starting arrives sooner than a new one would: on a small
            # machine another start only competes with it for the CPU.
            deadline = time.monotonic() + START_TIMEOUT_S
            while (not self._ready.get(kernel_name) and self._starting.get(kernel_name, 0) > 0
                   and time.monotonic() < deadline):
                self._cond.wait(0.05)
            ready = self._ready.get(kernel_name)
            km = ready.pop() if ready else None
        if not self.refill_on_release:
            self._fill(kernel_name)
        if km is not None and km.is_alive():
            return km
        if km is not None:
            shutdown(km)
        return start(kernel_name, self.warm_code)

    def release(self, km: Any) -> None:
        """Shut a used kernel down in the background (and start its replacement, if refilling then)."""
        self._stopper.submit(shutdown, km)
        if self.refill_on_release:
            self._fill(getattr(km, "kernel_name", "python3") or "python3")

    def close(self) -> None:
        """Shut every warm kernel down (at exit)."""
        with self._cond:
            self._closed = True
            kms = [km for lst in self._ready.values() for km in lst]
            self._ready.clear()
        for km in kms:
            shutdown(km)
