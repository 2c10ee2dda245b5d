"""The event lake: Arrow batch write rate, and error rate per minute over the demo lake.

* write: one demo day of log events (rendered once, outside the timing) is appended in
  batches of 20,000 rows, each an atomic zstd Parquet segment; events/s.
* query: 5xx ratio per service per minute over every log event of the demo lake
  (14 days, about 2.2 M events; ``--quick``: 2 days), bucketing on epoch integers.
  ``warm``: the same query again in this process; ``fresh process``: the first query in a
  new Python process (interpreter and imports excluded, reported separately).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
END = datetime(2026, 1, 15, tzinfo=UTC)
ERROR_RATE = """
SELECT epoch_us(Timestamp) // 60000000 AS minute, ServiceName AS service,
       count(*) AS requests, count(*) FILTER (WHERE HttpStatus >= 500) AS errors
FROM logs WHERE HttpStatus IS NOT NULL
GROUP BY ALL ORDER BY minute, service
"""
FRESH = """
import json, sys, time
t0 = time.perf_counter()
import opsnb
ops = opsnb.connect(sys.argv[1])
t1 = time.perf_counter()
df = ops.lake.query(sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"startup": t1 - t0, "query": t2 - t1, "rows": len(df)}))
"""


def _demo_lake(days: int) -> Path:
    """A demo workspace with a fixed end hour, reused between runs when already built."""
    from opsnb.demo.generate import build, info

    ws = WORK / f"lake-demo-{days}d"
    meta = info(ws)
    if not (meta and meta.get("days") == days and meta.get("end") == END.isoformat() and meta.get("scale") == 1.0):
        build(ws, days=days, seed=7, scale=1.0, end=END, force=True)
    return ws


def _write_rate() -> tuple[float, int]:
    import numpy as np
    import pyarrow as pa

    from opsnb.demo.events import DayRenderer
    from opsnb.demo.plan import plan_world
    from opsnb.store.lake import Lake

    start = END - timedelta(days=1)
    plan = plan_world(seed=7, start=start, end=END, slo_dir=WORK / "unused")
    logs = DayRenderer(plan, start, np.random.default_rng([7, 2, 0]), 1.0).render()["logs"]
    batches = [logs.slice(i, 20_000) for i in range(0, logs.num_rows, 20_000)]
    root = WORK / "lake-write"
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(root)
    t0 = time.perf_counter()
    for b in batches:
        lake.write("logs", pa.Table.from_batches(b.to_batches()))
    secs = time.perf_counter() - t0
    assert lake.count("logs") == logs.num_rows
    shutil.rmtree(root, ignore_errors=True)
    return logs.num_rows / secs, logs.num_rows


def run(quick: bool) -> list[tuple[str, float, str]]:
    import opsnb

    os.environ.pop("OPSNB_DATABASE_URL", None)
    rate, n = _write_rate()
    rows: list[tuple[str, float, str]] = [(f"write logs, 20k-row Arrow batches ({n:,} events)", rate, "events/s")]
    days = 2 if quick else 14
    ws = _demo_lake(days)
    ops = opsnb.connect(ws)
    total = ops.lake.count("logs")
    ops.lake.query(ERROR_RATE)  # first run: DuckDB reads footers, the OS caches the files
    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        ops.lake.query(ERROR_RATE)
        warm.append(time.perf_counter() - t0)
    ops.close()
    out = subprocess.run([sys.executable, "-c", FRESH, str(ws), ERROR_RATE], capture_output=True, text=True,
                         check=True, cwd=HERE.parent)
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    rows += [
        (f"error rate per minute, {days} days ({total:,} events), warm median", statistics.median(warm) * 1000, "ms"),
        ("error rate per minute, fresh process: query", fresh["query"] * 1000, "ms"),
        ("error rate per minute, fresh process: import + connect", fresh["startup"] * 1000, "ms"),
    ]
    return rows
