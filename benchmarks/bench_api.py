"""Read routes of the HTTP API on the demo world: incident list, SLO status, on-call now.

A real Jupyter server with the opsnb extension (SQLite demo workspace) in its own process; a
personal token (``opsnb token create``) authenticates every request, so the figures include the
token lookup, role and scope checks and the worker-pool hop. Two shapes:

- paced (open loop) at 200 requests/s spread over the three routes, latency counted from each
  request's scheduled send time (a server falling behind shows it);
- closed loop: 8 keep-alive clients sending back to back, requests/s sustained, and the server
  process's CPU time per request (the figure that does not depend on what else the machine runs).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from apiserver import start_api_server  # benchmarks/ is on sys.path when run.py runs

ROOT = Path(__file__).resolve().parent.parent
ROUTES = ("/opsnb/api/v1/incidents?limit=50", "/opsnb/api/v1/slos", "/opsnb/api/v1/oncall/now")


def _start_server(ws: Path) -> tuple[subprocess.Popen[bytes], int]:
    return start_api_server(ws, {"OPSNB_API_RATE_LIMIT": "0"})


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p / 100))] if s else float("nan")


def _paced(port: int, token: str, n: int, rate: float, workers: int = 16) -> tuple[dict[str, list[float]], int]:
    import gc

    lat: dict[str, list[float]] = {r: [] for r in ROUTES}
    failed = 0
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.3
    step = 1.0 / rate

    def worker(i: int) -> None:
        nonlocal failed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[tuple[str, float]] = []
        bad = 0
        for k in range(i, n, workers):
            due = t0 + k * step
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            path = ROUTES[k % len(ROUTES)]
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            r = conn.getresponse()
            r.read()
            mine.append((path, time.perf_counter() - due))
            bad += r.status != 200
        conn.close()
        with lock:
            for path, x in mine:
                lat[path].append(x)
            failed += bad

    gc.collect()
    gc.disable()  # the client's own collector pauses would count as server latency
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(worker, range(workers)))
    finally:
        gc.enable()
    return lat, failed


def _closed(port: int, token: str, seconds: float, workers: int = 8) -> tuple[float, int]:
    done = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        nonlocal done
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        k, n = i, 0
        while time.perf_counter() < stop:
            conn.request("GET", ROUTES[k % len(ROUTES)], headers={"Authorization": f"Bearer {token}"})
            r = conn.getresponse()
            r.read()
            n += r.status == 200
            k += 1
        conn.close()
        with lock:
            done += n

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    return done / (time.perf_counter() - t0), done


def run(quick: bool) -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        env = {**os.environ, "OPSNB_USER": "bench"}
        subprocess.run([sys.executable, "-m", "opsnb", "-w", str(ws), "demo"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        import opsnb

        ops = opsnb.connect(ws, user="bench")
        token = ops.access.tokens.create(user="bench", scopes="read", expires="1d", name="bench").token
        ops.close()
        proc, port = _start_server(ws)
        try:
            for path in ROUTES:  # warm: first SLO status reads the lake
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status}")
            n = 600 if quick else 3000
            lat, failed = _paced(port, token, n, 200.0)
            everything = [x for xs in lat.values() for x in xs]
            cpu0 = _cpu(proc.pid)
            rps, done = _closed(port, token, 3.0 if quick else 10.0)
            cpu_ms = 1000 * (_cpu(proc.pid) - cpu0) / max(done, 1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    rows = [("paced 200 req/s: p50 latency (all three routes)", 1000 * _pct(everything, 50), "ms"),
            ("paced 200 req/s: p99 latency (all three routes)", 1000 * _pct(everything, 99), "ms")]
    for path, xs in lat.items():
        name = path.removeprefix("/opsnb/api/v1").split("?")[0]
        rows.append((f"paced 200 req/s: p99 {name}", 1000 * _pct(xs, 99), "ms"))
    rows += [("paced 200 req/s: non-200 answers", float(failed), "requests"),
             ("closed loop, 8 clients: throughput", rps, "req/s"),
             # independent of what else the machine runs: the server process's CPU per request
             ("closed loop: server CPU per request", cpu_ms, "ms")]
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for row in run("--quick" in sys.argv):
        print(f"{row[0]:55} {row[1]:>12,.2f} {row[2]}")
