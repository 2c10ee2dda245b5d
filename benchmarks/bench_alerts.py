"""Alert ingest through the HTTP API, and alert fatigue on the demo world's alert stream.

Ingest: a real Jupyter server with the opsnb extension (SQLite workspace) in its own
process; a client in this process keeps N keep-alive connections busy from a thread
pool on loopback. Figures: alerts/s sustained, p50/p99 request latency, and a check
that nothing was lost (receipt and alert rows counted after the run). Two shapes:
one Events-v2 event per request, and Alertmanager webhooks of 20 alerts.

Fatigue: the demo world's alert stream (``opsnb.alerts.demo.demo_stream``: incident
alerts re-sent every evaluation on every instance, SLO burn-rate alerts, flapping
warnings, chronic warnings, a nightly re-index inside its maintenance window) replayed
through grouping, dedup and silences with the default policy.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apiserver import start_api_server  # benchmarks/ is on sys.path when run.py runs

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
SERVICES = ["frontend", "checkout", "payments", "catalog", "search", "auth"]
CLASSES = ["HighLatency", "HighErrorRate", "DiskFull", "HighCPU", "PodRestarts"]


def _start_server(ws: Path) -> tuple[subprocess.Popen[bytes], int]:
    return start_api_server(ws, {"OPSNB_API_TOKEN": TOKEN})


def _event(rng: random.Random, keys: int) -> dict:
    k = rng.randrange(keys)
    return {"routing_key": "bench", "event_action": "trigger", "dedup_key": f"k{k}",
            "payload": {"summary": f"alert {k}", "source": f"host-{k % 40}", "severity": "warning",
                        "component": SERVICES[k % len(SERVICES)], "class": CLASSES[k % len(CLASSES)]}}


def _am_body(rng: random.Random, keys: int, n: int) -> dict:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    alerts = []
    for _ in range(n):
        k = rng.randrange(keys)
        alerts.append({"status": "firing", "labels": {"alertname": CLASSES[k % len(CLASSES)],
                                                      "service": SERVICES[k % len(SERVICES)], "instance": f"i{k}"},
                       "annotations": {"summary": "x"}, "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
                       "generatorURL": "http://prom", "fingerprint": f"{k:016x}"})
    return {"version": "4", "groupKey": "{}", "truncatedAlerts": 0, "status": "firing", "receiver": "opsnb",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "alerts": alerts}


def _drive(port: int, path: str, bodies: list[bytes], workers: int) -> tuple[float, list[float], int]:
    """Send every body (keep-alive, ``workers`` connections); returns wall seconds, latencies, failures."""
    lat: list[float] = []
    failed = 0
    lock = threading.Lock()
    chunks = [bodies[i::workers] for i in range(workers)]

    def worker(chunk: list[bytes]) -> None:
        nonlocal failed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        for b in chunk:
            t0 = time.perf_counter()
            conn.request("POST", path, body=b, headers={"Authorization": f"Bearer {TOKEN}",
                                                        "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - t0)
            bad += r.status != 202
        conn.close()
        with lock:
            lat.extend(mine)
            failed += bad

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, chunks))
    return time.perf_counter() - t0, lat, failed


def _paced(port: int, path: str, bodies: list[bytes], rate: float, workers: int) -> tuple[float, list[float], int]:
    """Open loop: send ``bodies`` at ``rate`` requests/s; latency counts from the scheduled send time,
    so a server that falls behind shows it (no coordinated omission). Returns wall, latencies, failures.

    The client's own garbage collector is held off meanwhile: its pauses would count as server latency.
    """
    import gc

    gc.collect()
    gc.disable()
    try:
        return _paced_run(port, path, bodies, rate, workers)
    finally:
        gc.enable()


def _paced_run(port: int, path: str, bodies: list[bytes], rate: float,
               workers: int) -> tuple[float, list[float], int]:
    lat: list[float] = []
    failed = 0
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2
    step = 1.0 / rate

    def worker(i: int) -> None:
        nonlocal failed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        for k in range(i, len(bodies), workers):
            due = t0 + k * step
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            conn.request("POST", path, body=bodies[k], headers={"Authorization": f"Bearer {TOKEN}",
                                                                "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - due)
            bad += r.status != 202
        conn.close()
        with lock:
            lat.extend(mine)
            failed += bad

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    return time.perf_counter() - t0, lat, failed


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used: load-independent cost of the server."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ingest(quick: bool) -> list[tuple[str, float, str]]:
    from opsnb.workbench import connect

    rows: list[tuple[str, float, str]] = []
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        proc, port = _start_server(ws)
        try:
            n = 1500 if quick else 15000
            keys = 500  # sustained ingest is mostly re-sends (the demo stream: 96 % duplicates)
            events = [json.dumps(_event(rng, keys)).encode() for _ in range(n)]
            _drive(port, "/opsnb/api/v1/alerts/events", events[:200], 4)  # warm-up
            cpu0 = _cpu(proc.pid)
            wall, lat, failed = _drive(port, "/opsnb/api/v1/alerts/events", events[200:], 32)
            sent = n - 200
            rows += [("events v2, 1 alert/request: alerts/s", sent / wall, "alerts/s"),
                     ("events v2: server CPU per alert", 1000 * (_cpu(proc.pid) - cpu0) / sent, "ms"),
                     ("events v2: p50 latency", 1000 * _pct(lat, 50), "ms"),
                     ("events v2: p99 latency", 1000 * _pct(lat, 99), "ms"),
                     ("events v2: non-202 answers", failed, "requests")]
            m = 100 if quick else 1000
            bodies = [json.dumps(_am_body(rng, keys, 20)).encode() for _ in range(m)]
            cpu0 = _cpu(proc.pid)
            wall, lat, failed = _drive(port, "/opsnb/api/v1/alerts/alertmanager", bodies, 8)
            rows += [("alertmanager, 20 alerts/request: alerts/s", 20 * m / wall, "alerts/s"),
                     ("alertmanager: server CPU per alert", 1000 * (_cpu(proc.pid) - cpu0) / (20 * m), "ms"),
                     ("alertmanager: p50 latency", 1000 * _pct(lat, 50), "ms"),
                     ("alertmanager: p99 latency", 1000 * _pct(lat, 99), "ms"),
                     ("alertmanager: non-202 answers", failed, "requests")]
            # the target: 1,000 alerts/s sustained, p99 < 50 ms (open loop, as Alertmanager and
            # Events senders would deliver them)
            secs = 3 if quick else 15
            am10 = [json.dumps(_am_body(rng, keys, 10)).encode() for _ in range(100 * secs)]
            wall, lat, failed = _paced(port, "/opsnb/api/v1/alerts/alertmanager", am10, 100.0, 8)
            rows += [("paced 1,000 alerts/s as 100 webhooks/s x 10: achieved", 10 * len(am10) / wall, "alerts/s"),
                     ("paced webhooks: p50 latency", 1000 * _pct(lat, 50), "ms"),
                     ("paced webhooks: p99 latency", 1000 * _pct(lat, 99), "ms")]
            ev = [json.dumps(_event(rng, keys)).encode() for _ in range(1000 * secs)]
            wall, lat, failed2 = _paced(port, "/opsnb/api/v1/alerts/events", ev, 1000.0, 32)
            rows += [("paced 1,000 events/s, 1 alert each: achieved", len(ev) / wall, "alerts/s"),
                     ("paced events: p50 latency", 1000 * _pct(lat, 50), "ms"),
                     ("paced events: p99 latency", 1000 * _pct(lat, 99), "ms"),
                     ("paced: non-202 answers", failed + failed2, "requests")]
            paced_requests = len(am10) + len(ev)
        finally:
            proc.terminate()
            proc.wait(20)
        with connect(ws) as ops:
            c = ops.alerts.counts()
        expect_receipts = n + m + paced_requests
        rows.append(("receipts stored - requests accepted (0 = nothing lost)", c["receipts"] - expect_receipts,
                     "rows"))
        rows.append(("distinct alerts stored", c["alerts"], "rows"))
    return rows


def fatigue() -> list[tuple[str, float, str]]:
    from opsnb.alerts.demo import demo_stream
    from opsnb.alerts.grouping import Policy, replay
    from opsnb.alerts.silences import make_muter
    from opsnb.demo.plan import plan_world

    end = datetime(2025, 3, 10, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        world = plan_world(seed=7, start=end - timedelta(days=14), end=end, slo_dir=Path(tmp)).world
    events, windows = demo_stream(world)
    t0 = time.perf_counter()
    rep = replay(events, Policy(), muter=make_muter(windows, []))
    secs = time.perf_counter() - t0
    return [("demo stream (14 days): alerts received", rep.received, "alerts"),
            ("after dedup (state changes)", rep.after_dedup, "notifications"),
            ("after grouping", rep.after_grouping, "notifications"),
            ("after silences (sent)", rep.notifications, "notifications"),
            ("fatigue reduction (1 - sent/received)", rep.reduction_pct, "%"),
            ("reduction of state changes by grouping + silences",
             round(100 * (1 - rep.notifications / rep.after_dedup), 1), "%"),
            ("replay speed", rep.received / secs, "alerts/s")]


def run(quick: bool) -> list[tuple[str, float, str]]:
    return ingest(quick) + fatigue()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for row in run("--quick" in sys.argv):
        print(f"{row[0]:55} {row[1]:>12,.2f} {row[2]}")
