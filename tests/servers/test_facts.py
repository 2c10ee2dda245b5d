from __future__ import annotations

from pathlib import Path

import pytest

from opsnb.servers.facts import parse_facts
from opsnb.testing import SshdFleet
from tests.conftest import make_ops

OUTPUT = """@@os
Debian GNU/Linux 12 (bookworm)
@@kernel
6.1.0-18-amd64
@@uptime
12345.67 23456.78
@@load
0.52 0.41 0.30 2/345 6789
@@mem
MemTotal:       16314464 kB
MemAvailable:    8157232 kB
@@df
Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/sda1         30832548 12345678  16897654      43% /
/dev/sdb1        103081248 97927185   5154063      95% /var/lib/my data
@@failed
● nginx.service loaded failed failed A high performance web server
cron.service   loaded failed failed Regular background program processing daemon
@@end
"""


def test_parse_facts() -> None:
    f = parse_facts(OUTPUT)
    assert (f.os, f.kernel) == ("Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64")
    assert (f.uptime_s, f.load1, f.load5, f.load15) == (12345.67, 0.52, 0.41, 0.30)
    assert f.mem_total == 16314464 * 1024 and f.mem_used_pct == 50.0
    assert [d["mount"] for d in f.disks] == ["/", "/var/lib/my data"]
    assert f.disks[1]["used_pct"] == 95.0 and f.disk_max_used_pct == 95.0
    assert f.disks[0]["size"] == 30832548 * 1024
    assert f.failed_units == ["nginx.service", "cron.service"]


@pytest.mark.parametrize("garbage", ["", "@@load\nnan inf x\n@@mem\nMemTotal: lots\n", "\x00\xff" * 1000,
                                     "@@df\nFilesystem\nonly three cols\n/dev/x 1 2 3 4% /\n" * 1000])
def test_garbled_output_leaves_facts_empty(garbage: str) -> None:
    f = parse_facts(garbage)
    assert f.mem_total is None and f.load1 is None and f.failed_units == []


@pytest.mark.sshd
def test_facts_stored_on_both_databases(tmp_path: Path, db_url: str, sshd_fleet: SshdFleet) -> None:
    ops = make_ops(tmp_path / "ws", db_url if "postgres" in db_url else "", **sshd_fleet.settings())
    try:
        sshd_fleet.register(ops)
        ops.fleet.facts(["sshd-0", "sshd-1"], progress=False)
        ops.fleet.facts(["sshd-0"], progress=False)
        latest = ops.fleet.facts(["sshd-0", "sshd-1"], refresh=False)
        hist = ops.fleet.facts_history()
        assert list(latest["host"]) == ["sshd-0", "sshd-1"]
        assert latest["error"].isna().all() and (latest["mem_total"] > 0).all()
        assert sorted(hist["host"]) == ["sshd-0", "sshd-0", "sshd-1"]
        assert hist["taken_at"].is_monotonic_increasing
        ops.fleet.delete("sshd-0")
        assert list(ops.fleet.facts_history()["host"]) == ["sshd-1"]
    finally:
        ops.fleet.close()
        ops.close()
