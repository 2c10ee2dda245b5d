"""SLO status of many SLOs over a month of demo-like events.

Writes 30 days of logs (six services, about 160,000 events a day as the demo at
scale 1.0) to a temporary workspace, defines 50 SLOs (availability and latency
thresholds, rolling 28/30 d, calendar months, Timeslices), and times
``ops.slos.status()``: cold (no cache: one DuckDB scan), in a new process (per-day
counts read back from the workspace cache), warm (memory cache), and after a new
segment lands in the last day (only that day is recounted).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

SERVICES = {"frontend": 0.28, "catalog": 0.23, "search": 0.15, "auth": 0.08, "checkout": 0.06, "payments": 0.02}
HERE = Path(__file__).resolve().parent


def write_days(ops: object, end: datetime, days: int, per_day: int, seed: int = 1) -> int:
    rng = np.random.default_rng(seed)
    names = np.array(list(SERVICES))
    p = np.array(list(SERVICES.values()))
    p = p / p.sum()
    rows = 0
    for d in range(days):
        day0 = end - timedelta(days=days - d)
        n = per_day
        ts = int(day0.timestamp() * 1e6) + np.sort(rng.integers(0, 86_400_000_000, n))
        svc = names[rng.choice(len(names), n, p=p)]
        status = np.where(rng.random(n) < 0.003, 500, 200).astype(np.int32)
        dur = rng.lognormal(4.0, 0.8, n)
        ops.lake.write("logs", pa.table({  # type: ignore[attr-defined]
            "Timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")), "ServiceName": pa.array(svc),
            "HttpStatus": pa.array(status), "DurationMs": pa.array(dur)}))
        rows += n
    return rows


def slo_docs(count: int) -> str:
    docs = []
    thresholds = [100, 200, 300, 500, 800]
    kinds = []
    for svc in SERVICES:
        kinds.append((svc, "availability", None))
        for ms in thresholds:
            kinds.append((svc, "latency", ms))
    for i in range(count):
        svc, kind, ms = kinds[i % len(kinds)]
        name = f"{svc}-{kind}{'-' + str(ms) if ms else ''}-{i}"
        lake = f"{{type: lake, spec: {{table: logs, service: {svc}, filter: 'HttpStatus IS NOT NULL'"
        if kind == "availability":
            sli = (f"ratioMetric:\n        good:\n          metricSource: {{type: lake, spec: {{table: logs, "
                   f"service: {svc}, filter: 'HttpStatus < 500'}}}}\n        total:\n          metricSource: "
                   f"{lake}}}}}")
            objective = f"target: {0.99 if i % 2 else 0.995}"
        else:
            sli = f"thresholdMetric:\n        metricSource: {lake}, column: DurationMs}}}}"
            objective = f"target: 0.95\n      op: lte\n      value: {ms}"
        if i % 10 == 3:
            window = "{duration: 1M, isRolling: false, calendar: {startTime: '2020-01-01 00:00:00', timeZone: Europe/Paris}}"
        else:
            window = f"{{duration: {'28d' if i % 3 else '30d'}, isRolling: true}}"
        method = "Occurrences"
        if i % 10 == 7:
            method = "Timeslices"
            objective += "\n      timeSliceTarget: 0.9\n      timeSliceWindow: 5m"
        docs.append(f"""apiVersion: openslo/v1
kind: SLO
metadata: {{name: {name}}}
spec:
  service: {svc}
  indicator:
    metadata: {{name: {name}-sli}}
    spec:
      {sli}
  timeWindow: [{window}]
  budgetingMethod: {method}
  objectives:
    - {objective}
""")
    return "---\n".join(docs)


def run(quick: bool) -> list[tuple[str, float, str]]:
    from opsnb.slo.sources import SOURCES
    from opsnb.workbench import connect

    days, per_day, count = (3, 20_000, 10) if quick else (30, 160_000, 50)
    (HERE / ".work").mkdir(exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="bench-slo-", dir=HERE / ".work"))
    try:
        ops = connect(base / "ws")
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        t = time.perf_counter()
        rows = write_days(ops, end, days, per_day)
        t_write = time.perf_counter() - t
        ops.slos.directory.mkdir(parents=True, exist_ok=True)
        (ops.slos.directory / "bench.yaml").write_text(slo_docs(count))
        assert len(ops.slos) == count
        SOURCES["lake"]._cache.clear()  # type: ignore[attr-defined]
        t = time.perf_counter()
        st = ops.slos.status(at=end)
        cold = time.perf_counter() - t
        assert len(st) == count and st["sli"].notna().all()
        SOURCES["lake"]._cache.clear()  # type: ignore[attr-defined]  # a new process: disk cache only
        t = time.perf_counter()
        ops.slos.status(at=end)
        fresh = time.perf_counter() - t
        t = time.perf_counter()
        ops.slos.status(at=end)
        warm = time.perf_counter() - t
        write_days(ops, end + timedelta(days=1), 1, 1000, seed=2)  # a late segment for the last day
        t = time.perf_counter()
        ops.slos.status(at=end)
        incremental = time.perf_counter() - t
        t = time.perf_counter()
        ops.slos[st["name"].iloc[0]].report(at=end)
        one = time.perf_counter() - t
        ops.close()
        return [
            (f"lake rows written ({days} d)", float(rows), "rows"),
            ("write rate", rows / t_write, "rows/s"),
            (f"status() of {count} SLOs over {days} d, cold (no cache)", cold, "s"),
            (f"status() of {count} SLOs, new process (workspace cache)", fresh, "s"),
            (f"status() of {count} SLOs, warm (memory cache)", warm, "s"),
            (f"status() of {count} SLOs after a new segment", incremental, "s"),
            ("report() of one SLO, warm", one, "s"),
        ]
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    for row in run(quick=False):
        print(f"{row[0]:<55} {row[1]:>14,.3f} {row[2]}")
