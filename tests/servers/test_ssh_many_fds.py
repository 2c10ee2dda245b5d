"""SSH commands still work when the process holds descriptors numbered above 1024.

A long-lived workbench (``opsnb up``, a test worker) gets there; ``select.select`` cannot
watch such descriptors and failed every command with "filedescriptor out of range".
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest

from opsnb.workbench import Workbench


@pytest.fixture
def many_fds() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1200 + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"the descriptor limit ({hard}) is below {want} on this machine")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1200)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.sshd
def test_commands_run_with_descriptors_above_1024(fleet_ops: Workbench, many_fds: None) -> None:
    df = fleet_ops.fleet.run("*", ["printf", "%s", "ok"], mutating=False, timeout=20)
    assert df["error"].isna().all(), df["error"].tolist()
    assert set(df["stdout"]) == {"ok"} and (df["exit_status"] == 0).all()
