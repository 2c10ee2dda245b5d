"""``ops.logs.ingest_remote`` across restarts: real sshd servers, SIGKILL at random moments, reruns.

A file on two real sshd servers (the same file, read as each server's) is ingested by a real
process fetching 64 KiB per round trip (so a run commits many times); the process is killed
with SIGKILL at seeded random moments and run again, then once to its end: each server's ids
are in the lake once. Appended lines, rename + create and truncation are then read once each.
The journal's cursor resume is checked against a fake ``journalctl`` (this machine's journal is
empty) through the same code.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from opsnb.testing import SshdFleet, sshd_available
from opsnb.workbench import connect
from tests.conftest import make_ops, skip_missing
from tests.reliability.test_ingest_kill import leftovers, write_lines, writing

KILLS = 6
LINES = 40_000
FIGURES: dict[str, int] = {}

REMOTE = r"""
import json, sys
import opsnb
ops = opsnb.connect(sys.argv[1], **json.loads(sys.argv[2]))
s = ops.logs.ingest_remote("name~sshd-*", path=sys.argv[3], lines=10**9, fetch_bytes=int(sys.argv[4]))
print(json.dumps([r.as_dict() for r in s.sources]))
ops.fleet.close()
ops.close()
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdFleet]:
    if not sshd_available():
        skip_missing("/usr/sbin/sshd (Debian package openssh-server)")
    f = SshdFleet(2, tmp_path_factory.mktemp("sshd-remote-kill"))
    f.start()
    yield f
    f.stop()


def by_host(ws: Path, settings: dict[str, str]) -> Counter[tuple[str, str]]:
    ops = connect(ws, **settings)  # type: ignore[arg-type]
    try:
        df = ops.lake.query("SELECT HostName, Body FROM logs")
    finally:
        ops.close()
    return Counter(zip(df["HostName"], df["Body"], strict=True))


def check(ids: Counter[tuple[str, str]], n: int) -> tuple[int, int]:
    expected = {(h, f"ev-{k}") for h in ("sshd-0", "sshd-1") for k in range(n)}
    lost = len(expected - ids.keys())
    duplicated = sum(c - 1 for c in ids.values() if c > 1) + len(ids.keys() - expected)
    return lost, duplicated


def test_remote_ingest_killed_at_random_moments_then_rerun(tmp_path: Path, fleet: SshdFleet) -> None:
    ws = tmp_path / "ws"
    settings = fleet.settings()
    ops = make_ops(ws, **settings)
    fleet.register(ops)
    ops.fleet.close()
    ops.close()
    shared = Path(tempfile.mkdtemp(prefix="opsnb-remote-kill-"))
    os.chmod(shared, 0o755)  # the servers' user must reach it (pytest's tree is 0700)
    log = shared / "app.log"
    try:
        write_lines(log, LINES)
        os.chmod(log, 0o644)
        env = {**os.environ, "OPSNB_USER": "tester", "OPSNB_PROGRESS": "0", "OPSNB_INGEST_BATCH_ROWS": "500"}
        cmd = [sys.executable, "-c", REMOTE, str(ws), json.dumps(settings), str(log), str(64 << 10)]
        rng = random.Random(15)
        mid_run = 0
        for _ in range(KILLS):
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while proc.poll() is None and not writing(ws) and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.6))
            mid_run += proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        before = sum(by_host(ws, settings).values())
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert all(r["error"] is None for r in json.loads(out.stdout)), out.stdout
        lost, duplicated = check(by_host(ws, settings), LINES)
        FIGURES.update(kills=KILLS, killed_mid_run=mid_run, rows_before_final_run=before, lost=lost,
                       duplicated=duplicated, lines_per_server=LINES)
        print("remote kill figures:", FIGURES)
        assert lost == 0 and duplicated == 0
        assert mid_run >= KILLS // 2 and 0 < before < 2 * LINES  # the kills landed inside runs
        assert leftovers(ws) == []

        def rerun() -> list[dict[str, object]]:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
            return json.loads(done.stdout)

        write_lines(log, 300, start=LINES)  # appended: read once
        with open(log, "a") as fh:
            fh.write('{"msg": "half a li')  # a line being written waits for its end
        assert [r["stored"] for r in rerun()] == [300, 300]
        with open(log, "a") as fh:
            fh.write('ne", "ts": "2026-03-01T00:00:00Z"}\n')
        assert [r["stored"] for r in rerun()] == [1, 1]
        assert check(by_host(ws, settings), LINES + 300)[1] == 2  # the joined line, once per server
        os.replace(log, shared / "app.log.1")  # rename + create: the new file from its start
        write_lines(log, 200, start=LINES + 300)
        os.chmod(log, 0o644)
        assert [r["stored"] for r in rerun()] == [200, 200]
        os.truncate(log, 0)  # truncated in place: from its start again
        write_lines(log, 50, start=LINES + 500)
        assert [r["stored"] for r in rerun()] == [50, 50]
        assert rerun()[0]["stored"] == 0  # nothing new
        lost, duplicated = check(by_host(ws, settings), LINES + 550)
        assert lost == 0 and duplicated == 2
    finally:
        shutil.rmtree(shared, ignore_errors=True)


class FakeJournal:
    """``journalctl -o json`` over a list of entries, honouring ``--after-cursor`` (for ``RemoteIngest.journal``)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []
        self.calls: list[list[str]] = []

    def add(self, n: int) -> None:
        for _ in range(n):
            k = len(self.entries)
            self.entries.append({"__CURSOR": f"s=1;i={k:x}", "__REALTIME_TIMESTAMP": str(1772323200000000 + k),
                                 "MESSAGE": f"ev-{k}", "PRIORITY": "6", "_SYSTEMD_UNIT": "app.service"})

    def __call__(self, host: str, argv: list[str]) -> pd.DataFrame:
        self.calls.append(argv)
        after = next((a.split("=", 1)[1] for a in argv if a.startswith("--after-cursor=")), None)
        start = 0 if after is None else [e["__CURSOR"] for e in self.entries].index(after) + 1
        out = "".join(json.dumps(e) + "\n" for e in self.entries[start:])
        return pd.DataFrame([{"host": host, "exit_status": 0, "stdout": out, "stderr": "", "error": None}])


def test_journal_resumes_after_the_committed_cursor(ops_sqlite) -> None:
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor
    from opsnb.logs.ingest_remote import RemoteIngest

    fake = FakeJournal()
    fake.add(120)
    opts = ParseOptions(source="h1:journald", format="journald")

    def once(**kw: object) -> int:
        ing = Ingestor(ops_sqlite.lake, batch_rows=50)
        try:
            return RemoteIngest(ing, fake, **kw).journal("h1", None, "2026-03-01 00:00:00", opts).stored  # type: ignore[arg-type]
        finally:
            ing.close()

    assert once() == 120 and "--since" in fake.calls[-1]
    assert once() == 0 and fake.calls[-1][-1] == "--after-cursor=s=1;i=77"
    fake.add(30)
    assert once() == 30
    assert once(from_start=True) == 150  # on purpose: everything again
    bodies = Counter(ops_sqlite.lake.query("SELECT Body FROM logs")["Body"])
    assert all(bodies[f"ev-{k}"] == 2 for k in range(150))
