"""Log ingest throughput into the lake, per format, each in a fresh process (peak memory is its own).

Figures: events/s for JSON lines, logfmt, RFC 5424 syslog and nginx combined access logs
(the best of ``RUNS`` runs: on this shared machine the same run varies by up to a third),
the peak resident memory of the ingesting process (``ru_maxrss``), and the Parquet bytes per event.
For scale, the same script times ``pyarrow.json.read_json`` alone on the JSON file (one thread,
parse only, nothing stored) right before the opsnb runs and reports the ratio.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

SERVICES = ["frontend", "checkout", "payments", "catalog", "search", "auth"]
ROUTES = ["/api/cart", "/api/checkout", "/api/products/{id}", "/api/search", "/login"]
LEVELS = ["info"] * 8 + ["warn", "error"]

CHILD = r"""
import json, resource, sys, time
import opsnb
ops = opsnb.connect(sys.argv[1])
ops.access.grant(ops.user, "admin")
t0 = time.perf_counter()
s = ops.logs.ingest(sys.argv[2], format=sys.argv[3])
dt = time.perf_counter() - t0
print(json.dumps({"read": s.read, "stored": s.stored, "quarantined": s.quarantined, "seconds": dt,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

REFERENCE = r"""
import json, sys, time
import pyarrow as pa, pyarrow.json as pj
data = open(sys.argv[1], "rb").read()
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    n = 0
    pos = 0
    while pos < len(data):  # 16 MiB pieces cut at a newline, as opsnb reads them
        end = data.rfind(b"\n", pos, pos + (16 << 20)) + 1 if pos + (16 << 20) < len(data) else len(data)
        n += pj.read_json(pa.BufferReader(data[pos:end]), read_options=pj.ReadOptions(use_threads=False)).num_rows
        pos = end
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"rows": n, "seconds": best}))
"""
RUNS = 3


def _lines(fmt: str, n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    t0 = datetime.now(UTC) - timedelta(hours=2)
    out = []
    for i in range(n):
        t = t0 + timedelta(microseconds=i * 7000)
        svc = SERVICES[i % 6]
        lvl = LEVELS[rng.randrange(10)]
        route = ROUTES[i % 5]
        status = 500 if lvl == "error" else 200
        dur = round(rng.random() * 300, 3)
        tid = f"{rng.getrandbits(128):032x}"
        if fmt == "jsonl":
            out.append(json.dumps({"ts": t.isoformat().replace("+00:00", "Z"), "level": lvl, "service": svc,
                                   "msg": f"handled {route} for user {i % 991} in {dur} ms", "trace_id": tid,
                                   "method": "GET", "route": route, "status": status, "duration_ms": dur,
                                   "user": f"u{i % 991}", "region": "eu-west-1"}))
        elif fmt == "logfmt":
            out.append(f'ts={t.isoformat().replace("+00:00", "Z")} level={lvl} service={svc} '
                       f'msg="handled {route} for user {i % 991}" trace_id={tid} method=GET route={route} '
                       f"status={status} duration={dur}ms user=u{i % 991}")
        elif fmt == "syslog5424":
            out.append(f"<{8 + (3 if lvl == 'error' else 6)}>1 {t.isoformat().replace('+00:00', 'Z')} "
                       f"web-{i % 8} {svc} {1000 + i % 50} - - handled {route} for user {i % 991} in {dur} ms")
        elif fmt == "access":
            out.append(f'10.0.{i % 256}.{i % 199} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET {route}?q={i % 97} '
                       f'HTTP/1.1" {status} {i % 5000} "-" "Mozilla/5.0 (X11; Linux x86_64)" {dur / 1000:.3f}')
    return out


def _write(path: Path, fmt: str, n: int) -> int:
    block = _lines(fmt, min(n, 200_000))
    with open(path, "w") as f:
        written = 0
        while written < n:
            take = block[: n - written]
            f.write("\n".join(take) + "\n")
            written += len(take)
    return path.stat().st_size


def run(quick: bool) -> list[tuple[str, float, str]]:
    n = 200_000 if quick else 2_000_000
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="opsnb-bench-ingest-") as tmp:
        for fmt in ("jsonl", "logfmt", "syslog5424", "access"):
            path = Path(tmp) / f"in.{fmt}"
            size = _write(path, fmt, n)
            env = {**os.environ, "OPSNB_USER": "bench"}
            if fmt == "jsonl":
                ref = subprocess.run([sys.executable, "-c", REFERENCE, str(path)], capture_output=True, text=True,
                                     timeout=3600, check=True)
                reference = json.loads(ref.stdout.strip().splitlines()[-1])
            runs = []
            for k in range(RUNS):
                ws = Path(tmp) / f"ws-{fmt}-{k}"
                out = subprocess.run([sys.executable, "-c", CHILD, str(ws), str(path), fmt], capture_output=True,
                                     text=True, env=env, timeout=3600)
                if out.returncode != 0:
                    raise RuntimeError(f"{fmt} ingest failed: {out.stderr[-2000:]}")
                r = json.loads(out.stdout.strip().splitlines()[-1])
                if r["stored"] != n:
                    raise RuntimeError(f"{fmt}: stored {r['stored']} of {n} ({r['quarantined']} quarantined)")
                runs.append(r)
                if k < RUNS - 1:
                    shutil.rmtree(ws)
            r = min(runs, key=lambda x: x["seconds"])
            rate = r["read"] / r["seconds"]
            rows.append((f"{fmt} ingest ({n:,} events, {size / n:.0f} B/event), best of {RUNS}", rate, "events/s"))
            rows.append((f"{fmt} ingest, slowest of {RUNS}", n / max(x["seconds"] for x in runs), "events/s"))
            if fmt == "jsonl":
                ref_rate = reference["rows"] / reference["seconds"]
                rows.append(("jsonl: pyarrow.json.read_json alone, 1 thread, parse only (same file)", ref_rate,
                             "events/s"))
                rows.append(("jsonl: opsnb ingest / pyarrow.json parse alone", rate / ref_rate, "x"))
            rows.append((f"{fmt} ingest peak memory", max(x["rss_mb"] for x in runs), "MB"))
            stored = sum(f.stat().st_size for f in ws.rglob("*.parquet") if "quarantine" not in f.parts)
            rows.append((f"{fmt} lake size", stored / n, "bytes/event"))
            path.unlink()
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
