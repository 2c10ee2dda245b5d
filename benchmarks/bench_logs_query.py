"""Log queries over 10 million events generated straight into a temporary lake (numpy/pyarrow).

Figures: error rate per minute over 10 M events (warm, and from a fresh process including
its imports), exact p99 latency per minute over 10 M events, and a one-hour filtered query.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

SERVICES = ["frontend", "checkout", "payments", "catalog", "search", "auth"]
BODIES = ["GET /api/cart 200", "POST /api/checkout 200", "payment authorized", "cache miss for product",
          "upstream timeout after 3000 ms", "connection reset by peer", "search took longer than expected"]
MAP = pa.map_(pa.string(), pa.string())

FRESH = r"""
import sys, time, json
t0 = time.perf_counter()
import opsnb
ops = opsnb.connect(sys.argv[1])
t1 = time.perf_counter()
df = ops.logs.error_ratio(sys.argv[2], sys.argv[3], every="1m")
t2 = time.perf_counter()
print(json.dumps({"total": t2 - t0, "query": t2 - t1, "rows": len(df), "events": int(df["total"].sum())}))
"""


def generate(ops, n: int, start: datetime, batch: int = 1_000_000, seed: int = 11) -> None:
    """``n`` events over one day from ``start``, written as Arrow batches (never row by row)."""
    rng = np.random.default_rng(seed)
    t0 = int(start.timestamp() * 1e6)
    span = 86_400_000_000
    done = 0
    while done < n:
        m = min(batch, n - done)
        ts = np.sort(t0 + (np.arange(done, done + m, dtype=np.int64) * span) // n
                     + rng.integers(0, max(span // n, 1), m))
        svc = rng.integers(0, len(SERVICES), m)
        err = rng.random(m) < 0.01
        body = np.where(err, rng.integers(4, 6, m), rng.integers(0, 4, m))
        tbl = pa.table({
            "Timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "ObservedTimestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "SeverityNumber": pa.array(np.where(err, 17, 9).astype(np.int32)),
            "SeverityText": pa.DictionaryArray.from_arrays(pa.array(err.astype(np.int32)),
                                                           pa.array(["INFO", "ERROR"])).cast(pa.string()),
            "ServiceName": pa.DictionaryArray.from_arrays(pa.array(svc.astype(np.int32)),
                                                          pa.array(SERVICES)).cast(pa.string()),
            "Body": pa.DictionaryArray.from_arrays(pa.array(body.astype(np.int32)), pa.array(BODIES)).cast(pa.string()),
            "HttpStatus": pa.array(np.where(err, 503, 200).astype(np.int32)),
            "DurationMs": pa.array(rng.gamma(2.0, 25.0, m)),
        })
        ops.lake.write("logs", tbl)
        done += m


def _best(fn, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run(quick: bool) -> list[tuple[str, float, str]]:
    import opsnb

    n = 1_000_000 if quick else 10_000_000
    label = f"{n / 1e6:g} M"
    start = datetime(2026, 1, 5, tzinfo=UTC)
    end = start + timedelta(days=1)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="opsnb-bench-query-") as tmp:
        ws = Path(tmp) / "ws"
        ops = opsnb.connect(ws)
        t = time.perf_counter()
        generate(ops, n, start)
        rows.append((f"generate {label} events into the lake", n / (time.perf_counter() - t), "events/s"))
        assert ops.lake.count("logs") == n
        ops.logs.error_ratio(start, end)  # warm: DuckDB started, file list cached by the OS
        rows.append((f"error rate per minute over {label} events (warm)",
                     _best(lambda: ops.logs.error_ratio(start, end)), "s"))
        rows.append((f"exact p99 latency per minute over {label} events (warm)",
                     _best(lambda: ops.logs.quantiles(start, end, q=(0.99,))), "s"))
        rows.append((f"one hour, one service, errors only, over {label} (warm)",
                     _best(lambda: ops.logs.query(start + timedelta(hours=5), start + timedelta(hours=6),
                                                  service="checkout", errors_only=True, limit=None)), "s"))
        ops.close()
        fresh = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", FRESH, str(ws), start.isoformat(), end.isoformat()],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
            fresh.append(json.loads(out.stdout.strip().splitlines()[-1]))
        best = min(fresh, key=lambda r: r["total"])
        if best["events"] != n:
            raise RuntimeError(f"fresh process counted {best['events']} events, not {n}")
        rows.append((f"error rate per minute over {label} events, fresh process (query only)", best["query"], "s"))
        rows.append((f"error rate per minute over {label} events, fresh process (import + connect + query)",
                     best["total"], "s"))
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
