"""Deploys: webhook ingest through the HTTP API, and rollback from the decision to verified recovery.

Ingest: a real Jupyter server with the opsnb extension (SQLite workspace) in its own process;
signed GitHub ``deployment_status`` webhooks (each a new deploy with its own delivery id, so every
request is a receipt, a deploy row and an audit record), sent open loop at 200/s (latency counted
from the scheduled send time) and closed loop as fast as 16 connections go. Target: 200/s with
p99 under 50 ms.

Rollback: two real sshd hosts with a stand-in deploy command that switches a version file, and a
traffic thread logging requests to the lake every 0.2 s, 40 % of them 5xx while a host runs the
bad version. ``ops.deploys.rollback(...)`` from the call (the decision) to verified recovery, split
into SSH reachability, the deploy command, and the verification wait. Target: under 30 s.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apiserver import start_api_server  # benchmarks/ is on sys.path when run.py runs

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
GOOD, BAD = "1.0.0", "1.1.0"


def _start_server(ws: Path) -> tuple[subprocess.Popen[bytes], int]:
    return start_api_server(ws, {"OPSNB_GITHUB_WEBHOOK_SECRET": SECRET, "OPSNB_API_TOKEN": "bench-token"})


def _bodies(n: int, start: int) -> list[tuple[bytes, dict[str, str]]]:
    base = json.loads((ROOT / "tests" / "data" / "deploys" / "github-deployment_status.json").read_text())
    out = []
    for i in range(start, start + n):
        base["deployment"]["id"] = 1_000_000 + i
        base["deployment"]["sha"] = hashlib.sha1(str(i).encode()).hexdigest()
        raw = json.dumps(base).encode()
        sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        out.append((raw, {"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": f"bench-{i}",
                          "X-Hub-Signature-256": sig, "Content-Type": "application/json"}))
    return out


def _send(port: int, reqs: list[tuple[bytes, dict[str, str]]], workers: int,
          rate: float | None) -> tuple[float, list[float], int]:
    import gc

    lat: list[float] = []
    failed = 0
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2
    step = 1.0 / rate if rate else 0.0

    def worker(i: int) -> None:
        nonlocal failed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        for k in range(i, len(reqs), workers):
            due = t0 + k * step if rate else time.perf_counter()
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            body, headers = reqs[k]
            conn.request("POST", "/opsnb/api/v1/deploys/github", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - due)
            bad += r.status != 202
        conn.close()
        with lock:
            lat.extend(mine)
            failed += bad

    gc.collect()
    gc.disable()  # the client's own pauses would count as server latency
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(worker, range(workers)))
    finally:
        gc.enable()
    return time.perf_counter() - t0, lat, failed


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc): a figure other load does not move."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ingest(quick: bool) -> list[tuple[str, float, str]]:
    from opsnb.workbench import connect

    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        proc, port = _start_server(ws)
        try:
            _send(port, _bodies(100, 0), 4, None)  # warm-up
            secs = 3 if quick else 15
            paced = _bodies(200 * secs, 100)
            cpu0 = _cpu(proc.pid)
            wall, lat, failed = _send(port, paced, 16, 200.0)
            cpu_paced = 1000 * (_cpu(proc.pid) - cpu0) / len(paced)
            rows += [("GitHub deployment_status paced 200/s: achieved", len(paced) / wall, "webhooks/s"),
                     ("paced: p50 latency", 1000 * _pct(lat, 50), "ms"),
                     ("paced: p99 latency", 1000 * _pct(lat, 99), "ms"),
                     ("paced: server CPU per webhook", cpu_paced, "ms")]
            burst = _bodies(500 if quick else 3000, 100 + len(paced))
            cpu0 = _cpu(proc.pid)
            wall2, lat2, failed2 = _send(port, burst, 16, None)
            cpu_burst = 1000 * (_cpu(proc.pid) - cpu0) / len(burst)
            rows += [("closed loop, 16 connections: throughput", len(burst) / wall2, "webhooks/s"),
                     ("closed loop: p99 latency", 1000 * _pct(lat2, 99), "ms"),
                     ("closed loop: server CPU per webhook", cpu_burst, "ms"),
                     ("non-202 answers", failed + failed2, "requests")]
            sent = 100 + len(paced) + len(burst)
        finally:
            proc.terminate()
            proc.wait(20)
        with connect(ws) as ops:
            n = len(ops.deploys.list(limit=1_000_000))
        rows.append(("deploys stored - webhooks sent (0 = nothing lost)", n - sent, "rows"))
    return rows


def rollback(quick: bool) -> list[tuple[str, float, str]]:
    rows = _rollbacks(2 if quick else 5, slo=False)
    # SLO sources count per minute and the minute of the command is left out: the verdict waits for
    # the next minute boundary, so one run says how long that is, not the median of many
    rows += _rollbacks(1, slo=True)
    return rows


def _rollbacks(runs: int, *, slo: bool) -> list[tuple[str, float, str]]:
    import pwd

    from opsnb.testing import SshdFleet, sshd_available
    from opsnb.testing import test_user as login_user
    from opsnb.workbench import connect

    if not sshd_available():
        return [("rollback: skipped (no sshd)", float("nan"), "")]
    base = Path(tempfile.mkdtemp(prefix="opsnb-bench-deploy-", dir="/tmp"))
    os.chmod(base, 0o755)
    uid = pwd.getpwnam(login_user()).pw_uid if os.geteuid() == 0 else -1
    (base / "bin").mkdir()
    shutil.copyfile(ROOT / "tests" / "deploys" / "fake_deploy.sh", base / "bin" / "deploy-stub")
    os.chmod(base / "bin" / "deploy-stub", 0o755)
    state = {}
    for i in range(2):
        d = base / f"app-{i}"
        d.mkdir()
        os.chmod(d, 0o777)
        if uid >= 0:
            os.chown(d, uid, -1)
        state[f"app-{i}"] = d

    def config(i: int) -> str:
        return f"SetEnv PATH={base / 'bin'}:/usr/local/bin:/usr/bin:/bin OPSNB_FAKE_DEPLOY={state[f'app-{i}']}\n"

    def version(h: str) -> str:
        p = state[h] / "checkout.version"
        return p.read_text().strip() if p.exists() else ""

    totals: dict[str, list[float]] = {"ssh": [], "command": [], "verify": [], "total": []}
    recovered = 0
    try:
        with SshdFleet(2, base / "sshd", prefix="app-", extra_config=config,
                       labels=lambda i: {"service": "checkout"}) as fleet:
            for r in range(runs):
                ws = base / f"ws-{r}"
                ops = connect(ws, deploy_command='["deploy-stub", "{service}", "{version}"]', **fleet.settings())
                ops.user = "bench"
                ops.access.grant("bench", "admin", reason="benchmark")
                fleet.register(ops)
                t0 = datetime.now(UTC) - timedelta(hours=2)
                ops.deploys.create(id="good", service="checkout", version=GOOD, started_at=t0)
                ops.deploys.create(id="bad", service="checkout", version=BAD, started_at=t0 + timedelta(hours=1))
                if slo:
                    (ws / "slos").mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(ROOT / "tests" / "data" / "deploys" / "checkout-slo.yaml",
                                    ws / "slos" / "checkout.yaml")
                for h in state:
                    (state[h] / "checkout.version").write_text(BAD + "\n")
                    (state[h] / "checkout.version").chmod(0o666)
                stop = threading.Event()
                traffic = connect(ws)
                traffic.user = "bench"

                def tick(traffic: Any = traffic) -> None:
                    now = datetime.now(UTC)
                    lines = [json.dumps({"timestamp": now.isoformat(), "service": "checkout", "host": h,
                                         "status": 503 if version(h) == BAD and k < 4 else 200, "message": "GET /"})
                             for h in state for k in range(10)]
                    traffic.logs.ingest_bytes("\n".join(lines) + "\n", format="jsonl", source="traffic")

                def loop(stop: threading.Event = stop, tick: Any = tick) -> None:
                    while not stop.wait(0.2):
                        tick()

                tick()
                th = threading.Thread(target=loop, daemon=True)
                th.start()
                try:
                    res = ops.deploys.rollback("checkout", reason="benchmark", confirm=True, verify_timeout=120)
                    assert res.check == ("slo" if slo else "error_ratio"), res.check
                finally:
                    stop.set()
                    th.join(10)
                    traffic.close()
                    ops.close()
                recovered += res.recovered
                for k in totals:
                    totals[k].append(res.timings[k])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in totals.items()}
    if slo:
        return [("rollback verified by the SLO 5-minute burn rate: decision -> recovery", med["total"], "s"),
                ("rollback (SLO check): verification wait, to the next whole minute", med["verify"], "s"),
                ("rollback (SLO check): runs recovered", recovered, f"of {runs}")]
    return [("rollback decision -> verified recovery (median)", med["total"], "s"),
            ("rollback: worst of runs", max(totals["total"]), "s"),
            ("rollback: SSH reachability of 2 hosts", med["ssh"], "s"),
            ("rollback: deploy command on 2 hosts", med["command"], "s"),
            ("rollback: verification wait (error ratio back under 5 %)", med["verify"], "s"),
            ("rollback: runs recovered", recovered, f"of {runs}")]


def run(quick: bool) -> list[tuple[str, float, str]]:
    return ingest(quick) + rollback(quick)
