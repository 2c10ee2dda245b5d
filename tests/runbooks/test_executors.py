"""Executors: the registry, the Executor protocol that the local pool and Dask both pass,
and runs on a real Dask distributed LocalCluster (separate worker processes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsnb.errors import ConfigError
from opsnb.runbooks.executors import ENDED, EXECUTORS, Executor, LocalExecutor, make
from tests.conftest import make_ops
from tests.runbooks.conftest import write_runbook


def test_registry_builds_by_scheme_and_suggests() -> None:
    ex = make("local", 3)
    assert isinstance(ex, LocalExecutor) and isinstance(ex, Executor) and ex.workers == 3
    ex.close()
    ex = make("LOCAL", 1)  # names are case-insensitive
    assert ex.name == "local"
    ex.close()
    for bad in ("ray://x", "dask://", "nonsense", "local://somewhere"):
        with pytest.raises(ConfigError):
            make(bad)
    with pytest.raises(ConfigError, match="did you mean 'local'"):
        make("lcoal")
    assert {"local", "dask"} <= set(EXECUTORS.names())


def test_a_third_party_executor_registers_like_the_built_ins() -> None:
    class Inline:
        """Runs a job at submit time, in the caller's thread."""

        def __init__(self, address: str) -> None:
            self.name = f"inline://{address}"

        def submit(self, job: Any, *, perform: Any, payload: Any) -> str:
            return perform(job)

        def cancel(self, handle: Any) -> bool:
            return False

        def status(self, handle: Any) -> str:
            return "done"

        def close(self) -> None:
            pass

    EXECUTORS.register("inline", lambda address, _workers: Inline(address))
    try:
        ex = make("inline://here")
        assert ex.name == "inline://here" and ex.submit("job", perform=str.upper, payload=dict) == "JOB"
        EXECUTORS.register("broken", lambda _a, _w: object())
        with pytest.raises(ConfigError, match="lacks submit/cancel/status/close"):
            make("broken")
    finally:
        EXECUTORS.unregister("inline")
        if "broken" in EXECUTORS:
            EXECUTORS.unregister("broken")


def test_local_handles_report_queued_running_done_failed_and_cancel() -> None:
    ex = LocalExecutor(1)
    gate = threading.Event()
    try:
        def blocked(job: Any) -> str:
            gate.wait(10)
            return str(job)

        def broken(job: Any) -> str:
            raise RuntimeError("boom")

        first = ex.submit("a", perform=blocked, payload=dict)
        queued = ex.submit("b", perform=blocked, payload=dict)
        deadline = time.monotonic() + 5
        while ex.status(first) != "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ex.status(first) == "running" and ex.status(queued) == "pending"
        assert ex.cancel(queued) is True and ex.status(queued) == "cancelled"
        assert ex.cancel(first) is False  # started: it stops through the ledger, not here
        gate.set()
        assert first.result(5) == "a" and ex.status(first) == "done"
        failing = ex.submit("c", perform=broken, payload=dict)
        with pytest.raises(RuntimeError):
            failing.result(5)
        assert ex.status(failing) == "failed"
    finally:
        gate.set()
        ex.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import distributed  # a dev dependency: a missing one must fail, not skip
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None,
                                  silence_logs=50) as c:
        yield c


@pytest.fixture(params=["local", pytest.param("dask", marks=pytest.mark.slow)])
def executor_spec(request: pytest.FixtureRequest) -> str:
    if request.param == "dask":
        cluster = request.getfixturevalue("cluster")
        return "dask://" + cluster.scheduler_address.replace("tcp://", "")
    return "local"


def test_both_executors_pass_the_protocol(executor_spec: str, tmp_path: Path, rb_dir: Path) -> None:
    ops = make_ops(tmp_path / "ws", runbooks_dir=str(rb_dir), executor=executor_spec)
    try:
        ex = ops.runbooks.executor
        assert isinstance(ex, Executor) and ex.name == executor_spec
        run = ops.runbooks.run("trivial", x=7, wait=False)
        handle = ops.runbooks._live[run.id].future
        deadline = time.monotonic() + 120
        while ex.status(handle) not in ENDED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ex.status(handle) == "done"
        assert ex.cancel(handle) is False  # an ended job cannot be withdrawn
        done = run.wait(60)
        assert done.status == "succeeded", done.error
        assert done.results == {"double": 14} and done.executor == executor_spec
        assert Path(done.output_path).is_file()
        assert len(done.cells) == 3  # written by whoever performed it, into the shared ledger

        write_runbook(rb_dir, "slow", params="secs: float = 60.0  # s\n", cells=["import time\ntime.sleep(secs)"])
        slow = ops.runbooks.run("slow", wait=False)
        deadline = time.monotonic() + 60
        while slow.refresh().status != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        slow.cancel()  # reaches the worker through the ledger
        assert slow.wait(60).status == "cancelled"
        assert ex.status(ops.runbooks._live[slow.id].future) == "done"  # the job ended by writing its outcome
    finally:
        ops.runbooks.close()
        ops.close()
