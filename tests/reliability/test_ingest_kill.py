"""``opsnb logs ingest`` killed with SIGKILL at random moments, then rerun: the lake holds the file exactly.

Issue: 20 kills of an ingest of a 1 M-line file and one rerun left 7.9 M rows (killed runs had
committed part of the file and the rerun added all of it again) and 11 temporary files. Here a
real process ingests a generated file of 200 k JSON lines (each with its own id in the message),
is killed with SIGKILL 8 times at seeded random moments spread over a run's duration, and is then
run to completion: the ids in the lake are the file's ids, each once, and no temporary or pending
file is left.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from opsnb.workbench import connect
from tests.conftest import make_ops

LINES = 200_000
KILLS = 8
FIGURES: dict[str, int] = {}  # printed by -s runs, for the README


def write_lines(path: Path, n: int, *, start: int = 0) -> None:
    """``n`` JSON lines whose message carries a unique id (``ev-<k>``)."""
    levels = ["info", "info", "info", "warn", "error"]
    with open(path, "a", encoding="utf-8") as fh:
        fh.writelines(
            f'{{"ts":"2026-03-01T{(k // 3600) % 24:02d}:{(k // 60) % 60:02d}:{k % 60:02d}.{k % 1000:03d}Z",'
            f'"level":"{levels[k % 5]}","service":"svc{k % 7}","msg":"ev-{k}","route":"/api/{k % 13}"}}\n'
            for k in range(start, start + n))


def ingest_cmd(ws: Path, path: Path) -> list[str]:
    return [sys.executable, "-m", "opsnb", "logs", "ingest", str(path), "--workspace", str(ws), "--no-progress",
            "--format-out", "json"]


def env() -> dict[str, str]:
    # Small chunks and batches: a run commits about 80 times (each an fsynced checkpoint), so it lasts long
    # enough on an idle machine too for kills to land inside it, between and during commits.
    return {**os.environ, "OPSNB_USER": "tester", "OPSNB_PROGRESS": "0", "OPSNB_INGEST_CHUNK_BYTES": str(1 << 18),
            "OPSNB_INGEST_BATCH_ROWS": "2500"}


def stored_ids(ws: Path) -> Counter[str]:
    ops = connect(ws)
    try:
        df = ops.lake.query("SELECT Body FROM logs")
    finally:
        ops.close()
    return Counter(df["Body"].tolist())


def leftovers(ws: Path) -> list[str]:
    lake = ws / "lake"
    out = [str(p) for p in (lake / ".tmp").glob("*")] if (lake / ".tmp").is_dir() else []
    out += [str(p) for p in lake.rglob("*.pending")]
    out += [str(p) for p in (lake / ".ingest").glob("*.tmp")] if (lake / ".ingest").is_dir() else []
    return out


def writing(ws: Path) -> bool:
    """The ingest is writing: a temp or pending segment exists (its write and commit window)."""
    lake = ws / "lake"
    return any((lake / ".tmp").glob("*")) or any(lake.glob("*/*/*.pending"))


def kill_and_rerun(ws: Path, path: Path, *, kills: int, seed: int, max_delay: float = 0.15) -> dict[str, Any]:
    """Start the ingest ``kills`` times, each killed a random moment after it starts writing; then a full run.

    Waiting for the first write (instead of a fixed delay) lands the kills inside runs however
    loaded the machine is, around the moments that matter: segment writes, commits, renames.
    """
    rng = random.Random(seed)
    mid_run = 0
    for _ in range(kills):
        proc = subprocess.Popen(ingest_cmd(ws, path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env())
        deadline = time.monotonic() + 120
        while proc.poll() is None and not writing(ws) and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, max_delay))
        if proc.poll() is None:
            mid_run += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    before_final = sum(stored_ids(ws).values())
    out = subprocess.run(ingest_cmd(ws, path), capture_output=True, text=True, env=env(), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return {"kills": kills, "killed_mid_run": mid_run, "rows_before_final_run": before_final}


def test_sigkill_at_random_moments_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    make_ops(ws).close()
    path = tmp_path / "big.jsonl"
    write_lines(path, LINES)

    figures = kill_and_rerun(ws, path, kills=KILLS, seed=15)
    ids = stored_ids(ws)
    expected = {f"ev-{k}" for k in range(LINES)}
    lost = len(expected - ids.keys())
    duplicated = sum(n - 1 for n in ids.values() if n > 1)
    FIGURES.update(figures, lost=lost, duplicated=duplicated, rows=sum(ids.values()))
    print("ingest kill figures:", FIGURES)
    assert lost == 0 and duplicated == 0 and ids.keys() == expected
    assert leftovers(ws) == []
    assert figures["killed_mid_run"] >= KILLS // 2  # the kills did land inside runs

    # Appended lines are read once by the next run, from where the last one ended.
    write_lines(path, 1000, start=LINES)
    out = subprocess.run(ingest_cmd(ws, path), capture_output=True, text=True, env=env(), timeout=300)
    assert out.returncode == 0, out.stderr
    assert sum(stored_ids(ws).values()) == LINES + 1000
