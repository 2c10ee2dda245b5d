"""Fixtures of the servers tests: real OpenSSH sshd fleets on loopback and an in-process fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsnb.testing import FakeSshServer, SshdFleet, sshd_available
from opsnb.workbench import Workbench
from tests.conftest import make_ops, skip_missing


@pytest.fixture(scope="session")
def sshd_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdFleet]:
    """Four real sshd on 127.0.0.1, shared by the session (tests must not change them)."""
    if not sshd_available():
        skip_missing("/usr/sbin/sshd (Debian package openssh-server)")
    fleet = SshdFleet(4, tmp_path_factory.mktemp("sshd"))
    fleet.start()
    yield fleet
    fleet.stop()


@pytest.fixture
def fleet_ops(tmp_path: Path, sshd_fleet: SshdFleet) -> Iterator[Workbench]:
    """A SQLite workbench that trusts and can log in to ``sshd_fleet`` (servers sshd-0..3 registered)."""
    wb = make_ops(tmp_path / "ws", **sshd_fleet.settings())
    sshd_fleet.register(wb)
    yield wb
    wb.fleet.close()
    wb.close()


@pytest.fixture
def fake_sshd(tmp_path: Path) -> Iterator[FakeSshServer]:
    """An in-process paramiko server that echoes the command string it received."""
    with FakeSshServer(tmp_path / "fake") as srv:
        yield srv
