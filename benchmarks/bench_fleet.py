"""Fleet benchmarks against real OpenSSH sshd instances on loopback.

Figures:
* 100 sequential commands on one pooled connection (target: under 1 s);
* ``uptime`` on 50 hosts (50 sshd on 127.0.0.1) with parallel=16, connection
  set-up included (target: under 3 s), and the same run again on warm pooled connections.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run(quick: bool) -> list[tuple[str, float, str]]:
    from opsnb.testing import SshdFleet, sshd_available
    from opsnb.workbench import connect

    if not sshd_available():
        raise RuntimeError("needs /usr/sbin/sshd (Debian package openssh-server)")
    n_hosts = 10 if quick else 50
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="opsnb-bench-fleet-") as tmp:
        t0 = time.perf_counter()
        fleet = SshdFleet(n_hosts, Path(tmp) / "sshd")
        fleet.start()
        rows.append((f"start {n_hosts} sshd (fixture, parallel)", time.perf_counter() - t0, "s"))
        try:
            os.environ.setdefault("OPSNB_USER", "bench")
            ops = connect(Path(tmp) / "ws", **fleet.settings())
            ops.access.grant(ops.user, "admin", reason="benchmark")
            fleet.register(ops)

            # 1. sequential commands on one pooled connection (handshake excluded, done once before)
            ep = ops.fleet._endpoint(ops.fleet.get("sshd-0"))
            with ops.fleet.pool.connection(ep) as conn:
                conn.run(["true"])
                t0 = time.perf_counter()
                for _ in range(100):
                    conn.run(["true"])
                rows.append(("100 sequential commands, one pooled connection", time.perf_counter() - t0, "s"))
            ops.fleet.close()

            # 2. uptime on the whole fleet, cold: every connection set up inside the timing
            t0 = time.perf_counter()
            df = ops.fleet.run("name~sshd-*", ["uptime"], parallel=16, timeout=30, mutating=False, progress=False)
            cold = time.perf_counter() - t0
            failed = int(df["error"].notna().sum())
            if failed:
                raise RuntimeError(f"{failed} hosts failed: {df['error'].dropna().iloc[0]}")
            rows.append((f"uptime on {n_hosts} hosts, parallel=16, cold (connect included)", cold, "s"))
            t0 = time.perf_counter()
            ops.fleet.run("name~sshd-*", ["uptime"], parallel=16, timeout=30, mutating=False, progress=False)
            rows.append((f"uptime on {n_hosts} hosts, parallel=16, warm pooled", time.perf_counter() - t0, "s"))
            ops.fleet.close()
            ops.close()
        finally:
            fleet.stop()
    return rows


if __name__ == "__main__":
    for figure, value, unit in run(quick="--quick" in sys.argv):
        print(f"{figure:60s} {value:8.3f} {unit}")
