"""The opsnb.testing helpers themselves: sshd fleets start, serve, and leave nothing behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from opsnb.servers.pool import Pool
from opsnb.servers.ssh import Endpoint, SshOptions
from opsnb.testing import Sshd, SshdFleet, make_keypair, ssh_session_pids, sshd_available
from tests.conftest import make_ops, skip_missing

pytestmark = pytest.mark.sshd


@pytest.fixture(autouse=True)
def _need_sshd() -> None:
    if not sshd_available():
        skip_missing("/usr/sbin/sshd (Debian package openssh-server)")


def test_fleet_stop_kills_everything_even_orphans(tmp_path: Path) -> None:
    fleet = SshdFleet(2, tmp_path / "f").start()
    ports = [s.port for s in fleet.servers]
    pool = Pool(SshOptions(known_hosts=fleet.known_hosts, key_file=str(fleet.client_key)))
    ep = Endpoint("a", "127.0.0.1", ports[0], fleet.user)
    with pool.connection(ep) as c:
        # Detached: outlives the connection and leaves the sshd process tree.
        c.run(shell="nohup sleep 3000 >/dev/null 2>&1 </dev/null &")
    pool.close()
    time.sleep(0.2)
    assert ssh_session_pids(ports[0])
    pids = fleet.pids()
    fleet.stop()
    assert not ssh_session_pids(ports[0])
    for p in pids:
        assert not os.path.exists(f"/proc/{p}") or "Z" in Path(f"/proc/{p}/stat").read_text().split()[2]


def test_handshakes_past_max_startups_are_retried(tmp_path: Path) -> None:
    """sshd drops unauthenticated connections past MaxStartups; a fleet run retries them."""
    key = make_keypair(tmp_path / "client" / "id")
    srv = Sshd(tmp_path / "s", key.public_line, max_startups="2").start()
    try:
        kh = tmp_path / "kh"
        kh.write_text(srv.known_hosts_line + "\n")
        # ssh_per_host_connections=16 on purpose: no gate, so sshd itself drops handshakes.
        ops = make_ops(tmp_path / "ws", known_hosts=str(kh), ssh_key_file=str(key.private_path),
                       ssh_per_host_connections=16)
        for i in range(12):
            ops.fleet.create(name=f"alias-{i}", address="127.0.0.1", port=srv.port, user=srv.user)
        df = ops.fleet.run("name~alias-*", ["true"], parallel=12, mutating=False, progress=False)
        assert df["error"].isna().all(), df["error"].dropna().tolist()
        assert (df["exit_status"] == 0).all()
        ops.fleet.close()
        ops.close()
    finally:
        srv.stop()


def test_restarted_sshd_keeps_port_and_key_and_stale_pooled_connections_are_replaced(tmp_path: Path) -> None:
    with SshdFleet(1, tmp_path / "f") as fleet:
        ops = make_ops(tmp_path / "ws", **fleet.settings())
        fleet.register(ops)
        assert ops.fleet.run("sshd-0", ["true"], mutating=False, progress=False)["error"].isna().all()
        srv = fleet[0]
        port, key = srv.port, srv.host_key
        srv.stop()
        srv.start()
        assert (srv.port, srv.host_key) == (port, key)
        df = ops.fleet.run("sshd-0", ["echo", "again"], mutating=False, progress=False)
        assert df.iloc[0]["error"] is None and df.iloc[0]["stdout"] == "again\n"
        assert ops.fleet.pool.stats()["handshakes"] == 2
        ops.fleet.close()
        ops.close()


def test_adopt_points_inventory_servers_at_the_fleet(tmp_path: Path) -> None:
    fleet = SshdFleet(2, tmp_path / "f")
    ops = make_ops(tmp_path / "ws", **fleet.settings())  # settings are known before start
    try:
        fleet.start()
        for name in ("app-1", "app-2", "db-1"):
            ops.fleet.create(name=name, address="10.9.9.9", user="nobody", labels={"role": name[:-2]})
        assert fleet.adopt(ops, "role=app") == ["app-1", "app-2"]
        df = ops.fleet.run("role=app", ["echo", "ok"], mutating=False, progress=False)
        assert list(df["stdout"]) == ["ok\n", "ok\n"]
        with pytest.raises(ValueError, match="only 2 sshd"):
            fleet.adopt(ops, "*")
    finally:
        ops.fleet.close()
        ops.close()
        fleet.stop()
