"""``ops.logs.tail`` killed with SIGKILL at random moments while files grow and rotate, then restarted.

A writer appends JSON lines (each with its own id) to ``app.log`` and rotates it every 4 s,
alternately by rename + create and by copytruncate (the copy and the rename take names the
tail's pattern does not match, so their unread ends are found through the checkpoints). A real
process tails the directory and is killed with SIGKILL at seeded random moments and started
again; a last run ends after the writer stops. The ids in the lake are the ids written, each once
(on SQLite and PostgreSQL state databases).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from tests.conftest import make_ops
from tests.reliability.test_ingest_kill import leftovers, stored_ids

KILLS = 6
FIGURES: dict[str, int] = {}

TAIL = r"""
import sys
import opsnb
ops = opsnb.connect(sys.argv[1], database_url=sys.argv[4] or None)
ops.logs.tail(sys.argv[2], pattern="app.log", format="jsonl", poll=0.02, idle_timeout=float(sys.argv[3]))
ops.close()
"""


def line(k: int) -> str:
    return (f'{{"ts":"2026-03-01T10:{(k // 60) % 60:02d}:{k % 60:02d}.{k % 1000:03d}Z","level":"info",'
            f'"service":"svc{k % 3}","msg":"ev-{k}"}}\n')


class Writer(threading.Thread):
    """Appends ``per_tick`` lines every 10 ms until stopped (and 4 rotations done); rotates every ``rotate_s``."""

    def __init__(self, d: Path, rotate_s: float = 4.0, per_tick: int = 20) -> None:
        super().__init__(daemon=True)
        self.d, self.rotate_s, self.per_tick = d, rotate_s, per_tick
        self.stop = threading.Event()
        self.written = 0
        self.rotations: Counter[str] = Counter()

    def run(self) -> None:
        log = self.d / "app.log"
        t0 = last_rot = time.monotonic()
        k = 0
        fh = open(log, "a", encoding="utf-8")  # noqa: SIM115 - reopened at each rotation
        try:
            while not (self.stop.is_set() and sum(self.rotations.values()) >= 4) and time.monotonic() - t0 < 60:
                fh.write("".join(line(k + i) for i in range(self.per_tick)))
                fh.flush()
                k += self.per_tick
                if time.monotonic() - last_rot >= self.rotate_s:
                    n = sum(self.rotations.values())
                    if n % 2 == 0:  # rename + create: the writer keeps writing to the old file a moment
                        os.replace(log, self.d / f"app.log.{n}")
                        fh.write(line(k))
                        fh.flush()
                        k += 1
                        fh.close()
                        fh = open(log, "a", encoding="utf-8")  # noqa: SIM115
                        self.rotations["rename"] += 1
                    else:  # copytruncate, with the writer paused so the copy holds every line
                        shutil.copyfile(log, self.d / f"app.log.c{n}")
                        os.truncate(log, 0)
                        fh.seek(0)
                        self.rotations["copytruncate"] += 1
                    last_rot = time.monotonic()
                time.sleep(0.01)
        finally:
            fh.close()
            self.written = k


def committed_since(ws: Path, t: float) -> bool:
    """Some checkpoint was committed after ``t`` (the tail is past its start-up)."""
    d = ws / "lake" / ".ingest"
    try:
        return any(p.stat().st_mtime > t for p in d.glob("*.json"))
    except FileNotFoundError:
        return False


def following(ws: Path) -> bool:
    """The tail has looked at a file (it locks each source it reads)."""
    d = ws / "lake" / ".ingest"
    return d.is_dir() and any(d.glob("*.lock"))


def test_tail_killed_at_random_moments_through_rotations_loses_and_duplicates_nothing(tmp_path: Path,
                                                                                     db_url: str) -> None:
    db = db_url if "postgres" in db_url else ""
    ws = tmp_path / "ws"
    make_ops(ws, db).close()
    d = tmp_path / "logs"
    d.mkdir()
    (d / "app.log").write_text("")
    env = {**os.environ, "OPSNB_USER": "tester", "OPSNB_PROGRESS": "0"}
    rng = random.Random(15)
    writer = Writer(d)
    mid_run = 0
    for i in range(KILLS):
        started = time.time()
        proc = subprocess.Popen([sys.executable, "-c", TAIL, str(ws), str(d), "30", db], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        if i == 0:
            # The writer starts once the tail follows app.log: a file rotated away before any tail
            # looked at its name is history the pattern leaves out (see opsnb.logs.tail, step 4).
            while proc.poll() is None and not following(ws) and time.monotonic() < deadline:
                time.sleep(0.005)
            writer.start()
        # Killed a random moment after it has committed its first batch: inside reads and commits,
        # however long start-up takes on a loaded machine.
        while proc.poll() is None and not committed_since(ws, started) and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is None:
            mid_run += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    writer.stop.set()
    writer.join(timeout=90)
    final = subprocess.run([sys.executable, "-c", TAIL, str(ws), str(d), "1.0", db], env=env,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]

    ids = stored_ids(ws)
    expected = {f"ev-{k}" for k in range(writer.written)}
    lost = len(expected - ids.keys())
    duplicated = sum(n - 1 for n in ids.values() if n > 1)
    FIGURES.update(db="postgres" if db else "sqlite", kills=KILLS, killed_mid_run=mid_run, lines=writer.written, lost=lost, duplicated=duplicated,
                   **writer.rotations)
    print("tail kill figures:", FIGURES)
    assert writer.rotations["rename"] >= 2 and writer.rotations["copytruncate"] >= 1
    assert mid_run >= KILLS - 1
    missing = sorted(int(x[3:]) for x in expected - ids.keys())
    gone = set(missing)
    files = {p.name: (p.read_text().count("\n"), sum(int(ln.split('"ev-')[1].split('"')[0]) in gone
                                                    for ln in p.read_text().splitlines()))
             for p in d.iterdir()}
    assert lost == 0 and duplicated == 0 and ids.keys() == expected, (missing[:3], missing[-3:], files)
    assert leftovers(ws) == []
