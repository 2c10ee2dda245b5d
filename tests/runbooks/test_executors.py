"""Executors: the registry, and runs on a real Dask distributed LocalCluster (separate worker processes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsnb.errors import ConfigError
from opsnb.runbooks.executors import LocalExecutor, make
from tests.conftest import make_ops


def test_registry() -> None:
    ex = make("local", 3)
    assert isinstance(ex, LocalExecutor) and ex.workers == 3
    ex.close()
    for bad in ("ray://x", "dask://", "nonsense"):
        with pytest.raises(ConfigError):
            make(bad)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import distributed  # a dev dependency: a missing one must fail, not skip
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None,
                                  silence_logs=50) as c:
        yield c


@pytest.mark.slow
def test_runs_on_a_dask_cluster(cluster: Any, tmp_path: Path, rb_dir: Path) -> None:
    address = cluster.scheduler_address.replace("tcp://", "")
    ops = make_ops(tmp_path / "ws", runbooks_dir=str(rb_dir), executor=f"dask://{address}")
    try:
        run = ops.runbooks.run("trivial", x=7, wait=True)
        assert run.status == "succeeded", run.error
        assert run.results == {"double": 14} and run.executor.startswith("dask://")
        assert Path(run.output_path).is_file()
        assert len(run.cells) == 3  # written by the worker process into the shared ledger
        from tests.runbooks.conftest import write_runbook

        write_runbook(rb_dir, "slow", params="secs: float = 60.0  # s\n", cells=["import time\ntime.sleep(secs)"])
        slow = ops.runbooks.run("slow", wait=False)
        deadline = time.monotonic() + 60
        while slow.refresh().status != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        slow.cancel()  # reaches the worker through the ledger
        assert slow.wait(60).status == "cancelled"
    finally:
        ops.runbooks.close()
        ops.close()
