"""Demo world build: wall time and rows written per second (logs + spans + metrics), disk use.

Full run: 14 days at scale 1.0 (about 2.2 M log events); ``--quick``: 2 days.
The build goes to ``benchmarks/.work/demo-bench`` (replaced each run) on SQLite, with a fixed
end hour so runs are comparable.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "demo-bench"
END = datetime(2026, 1, 15, tzinfo=UTC)


def run(quick: bool) -> list[tuple[str, float, str]]:
    from opsnb.demo.generate import build, disk_usage

    days = 2 if quick else 14
    shutil.rmtree(WORK, ignore_errors=True)
    os.environ.pop("OPSNB_DATABASE_URL", None)
    cpu0, t0 = time.process_time(), time.perf_counter()
    world = build(WORK, days=days, seed=7, scale=1.0, end=END)
    secs, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rows = sum(world.counts.values())
    return [
        (f"build {days} days, scale 1.0", secs, "s"),
        (f"build {days} days, CPU time", cpu, "s"),
        ("log events written", world.counts["logs"], "rows"),
        ("spans written", world.counts["spans"], "rows"),
        ("metric points written", world.counts["metrics"], "rows"),
        ("rows per second (all tables)", rows / secs, "rows/s"),
        ("workspace on disk", disk_usage(WORK) / 2**20, "MiB"),
    ]
