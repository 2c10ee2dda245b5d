"""Pattern mining: grouping accuracy on the eight Loghub samples, and throughput.

Accuracy: each RAW ``<Name>_2k.log`` goes through :func:`opsnb.logs.minefile.mine_file`
(the function behind ``opsnb logs templates FILE``: header recognition, generic masking,
default settings, nothing per data set); the ids are then scored against the
ground-truth ``EventId`` column with Loghub's grouping accuracy. The figure name
carries Drain's published score (Zhu et al., ICSE-SEIP 2019) for comparison.

When the ``drain3`` package is installed, the same message bodies are also mined with
drain3 (its default configuration) for a side-by-side accuracy and speed ratio.

Throughput (wall clock, and per CPU-second, which a busy shared machine disturbs less): a mix of synthetic application logs (random ids, IPs, durations) and the
Loghub lines with their digits re-randomised, so values rarely repeat exactly:
``miner lines/s`` is TemplateMiner.add on message bodies; ``file lines/s`` is the whole
path from a file on disk (read, decode, header split, mine).

Both caches key on a line's *digit shape* (digits turned into 1: masking and the header
shapes read no digit's value), so a line whose shape was seen skips header recognition and
masking; the mix repeats shapes the way real logs do (about one line in five is a new shape).
The worst case, ``unique trace id``, puts a fresh 32-hex-digit trace id in every line, so no
shape ever repeats and every line takes the full path.
"""

from __future__ import annotations

import csv
import random
import re
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOGHUB = HERE.parent / "tests" / "data" / "loghub"  # the samples the tests ship (LICENSE there)
DRAIN = {"HDFS": 0.998, "Apache": 1.000, "OpenSSH": 0.788, "Linux": 0.690, "Zookeeper": 0.967,
         "Hadoop": 0.948, "Spark": 0.920, "BGL": 0.963}

_TEMPLATES = [
    "GET /api/v1/orders/{id} returned {code} in {ms}ms",
    "user {uid} logged in from {ip}",
    "connection to {ip}:{port} timed out after {s}s",
    "cache miss for key session:{hex}",
    "worker {n} processed batch {uuid} with {n} items",
    "retrying request {uuid} attempt {n} of 5",
    "payment {id} declined: insufficient funds",
    "Started GC pause {ms}ms heap {n}MB",
    "queue depth {n} exceeds threshold {n}",
    "slow query took {ms}ms: SELECT * FROM orders WHERE id = {id}",
    "health check ok",
    "upstream {ip}:{port} returned 503 for /checkout/{id}",
]
_LEVELS = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]


def synthetic(n: int, seed: int = 7) -> list[str]:
    """``n`` log4j-style lines with random variable parts."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = rnd.choice(_TEMPLATES)
        msg = t.format(
            id=rnd.randrange(10**7), code=rnd.choice([200, 404, 500]), ms=rnd.randrange(2000),
            uid=rnd.randrange(10**6), ip=f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}",
            port=rnd.randrange(1024, 65535), s=rnd.randrange(60), hex=f"{rnd.getrandbits(48):012x}",
            n=rnd.randrange(1000),
            uuid=f"{rnd.getrandbits(32):08x}-{rnd.getrandbits(16):04x}-4{rnd.getrandbits(12):03x}-"
                 f"a{rnd.getrandbits(12):03x}-{rnd.getrandbits(48):012x}")
        out.append(f"2026-11-22 07:{i // 60000 % 60:02d}:{i // 1000 % 60:02d},{i % 1000:03d} "
                   f"{rnd.choice(_LEVELS)} [worker-{rnd.randrange(8)}] com.shop.Service{rnd.randrange(5)}: {msg}")
    return out


def loghub_lines(seed: int = 7) -> list[str]:
    """All Loghub sample lines, digits re-randomised (same shapes, fresh values)."""
    rnd = random.Random(seed)
    out: list[str] = []
    for name in DRAIN:
        path = LOGHUB / name / f"{name}_2k.log"
        if path.exists():
            out += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [re.sub(r"\d", lambda _m: str(rnd.randrange(10)), line) for line in out]


def _truth(name: str) -> list[str]:
    with open(LOGHUB / name / f"{name}_2k.log_eventids.csv", encoding="utf-8", newline="") as fh:
        return [row["EventId"] for row in csv.DictReader(fh)]


def accuracy_rows() -> list[tuple[str, float, str]]:
    from opsnb.logs.headers import HeaderSplitter
    from opsnb.logs.minefile import mine_file
    from opsnb.logs.patterns import TemplateMiner, grouping_accuracy

    try:
        import logging

        from drain3 import TemplateMiner as Drain3
        from drain3.template_miner_config import TemplateMinerConfig

        logging.getLogger("drain3").setLevel(logging.ERROR)
    except ImportError:
        Drain3 = None  # noqa: N806
    rows = []
    ours_t = d3_t = 0.0
    for name, drain in DRAIN.items():
        log = LOGHUB / name / f"{name}_2k.log"
        if not log.exists():
            rows.append((f"accuracy {name} (Drain {drain:.3f}): data missing at {log}", float("nan"), "ratio"))
            continue
        truth = _truth(name)
        mined = mine_file(log)
        rows.append((f"accuracy {name} (Drain {drain:.3f})", grouping_accuracy(mined.ids, truth), "ratio"))
        if Drain3 is not None:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            hs = HeaderSplitter(sample=lines[:200])
            bodies = [hs.body(x) for x in lines]
            c = time.process_time()
            TemplateMiner().mine(bodies)
            ours_t += time.process_time() - c
            cfg = TemplateMinerConfig()
            cfg.profiling_enabled = False
            d3 = Drain3(config=cfg)
            c = time.process_time()
            ids = [d3.add_log_message(b)["cluster_id"] for b in bodies]
            d3_t += time.process_time() - c
            rows.append((f"accuracy {name}, drain3 0.9 defaults on the same bodies", grouping_accuracy(ids, truth),
                         "ratio"))
    if Drain3 is not None and d3_t and ours_t:
        rows.append(("speed on the 16k Loghub bodies: opsnb miner / drain3 (CPU time)", d3_t / ours_t, "x"))
    return rows


def throughput_rows(quick: bool) -> list[tuple[str, float, str]]:
    from opsnb.logs.headers import HeaderSplitter
    from opsnb.logs.minefile import mine_file
    from opsnb.logs.patterns import TemplateMiner

    n = 100_000 if quick else 1_000_000
    hub = loghub_lines()
    lines = synthetic(n - min(len(hub), n // 2))
    reps = max(1, (n // 2) // max(len(hub), 1))
    lines += [x for k in range(reps) for x in (hub if k == 0 else loghub_lines(seed=k))]
    random.Random(3).shuffle(lines)
    lines = lines[:n]
    rows = []
    hs = HeaderSplitter(sample=lines[:200])
    bodies = [hs.body(x) for x in lines]
    miner = TemplateMiner()
    t, c = time.perf_counter(), time.process_time()
    for b in bodies:
        miner.add(b)
    el, cpu = time.perf_counter() - t, time.process_time() - c
    what = f"{len(bodies):,} bodies, {len(miner)} templates"
    rows.append((f"miner lines/s ({what})", len(bodies) / el, "lines/s"))
    rows.append((f"miner lines per CPU-second ({what})", len(bodies) / cpu, "lines/s"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mix.log"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        size = path.stat().st_size
        t, c = time.perf_counter(), time.process_time()
        mined = mine_file(path)
        el, cpu = time.perf_counter() - t, time.process_time() - c
    rows.append((f"file lines/s (read+header+mine, {size / 1e6:.0f} MB)", len(mined.ids) / el, "lines/s"))
    rows.append((f"file lines per CPU-second (read+header+mine, {size / 1e6:.0f} MB)", len(mined.ids) / cpu,
                 "lines/s"))
    # Worst case: a unique trace id (hex with letters) after each header, so no shape repeats;
    # fresh lines (other seeds), so no value was seen in the runs above either.
    rnd = random.Random(11)
    hub_fresh: list[str] = []
    while len(hub_fresh) < n // 10 and hub:
        hub_fresh += loghub_lines(seed=1000 + len(hub_fresh))
    fresh = synthetic(n // 10, seed=101) + hub_fresh[: n // 10]
    rnd.shuffle(fresh)
    worst = [_with_trace(x, rnd) for x in fresh]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.log"
        path.write_text("\n".join(worst) + "\n", encoding="utf-8")
        t, c = time.perf_counter(), time.process_time()
        mined = mine_file(path)
        el, cpu = time.perf_counter() - t, time.process_time() - c
    what = f"{len(worst):,} lines, unique trace id per line"
    rows.append((f"file lines/s, worst case ({what})", len(mined.ids) / el, "lines/s"))
    rows.append((f"file lines per CPU-second, worst case ({what})", len(mined.ids) / cpu, "lines/s"))
    return rows


def _with_trace(line: str, rnd: random.Random) -> str:
    """``line`` with ``trace=<32 hex digits, letters included>`` put before its message."""
    trace = f"{rnd.getrandbits(124):031x}a"
    for sep in (": ", "] "):
        i = line.find(sep)
        if i >= 0:
            return f"{line[:i + len(sep)]}trace={trace} {line[i + len(sep):]}"
    return f"trace={trace} {line}"


def run(quick: bool) -> list[tuple[str, float, str]]:
    return accuracy_rows() + throughput_rows(quick)


if __name__ == "__main__":
    import sys

    for row in run("--quick" in sys.argv):
        print(f"{row[0]:<75} {row[1]:>14,.3f} {row[2]}")
