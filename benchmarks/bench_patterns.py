"""Pattern mining: grouping accuracy on the eight Loghub samples, and throughput.

Accuracy, two tables. *dev*: each RAW Loghub ``<Name>_2k.log`` (the samples the miner was
developed on) goes through :func:`opsnb.logs.minefile.mine_file` (the function behind
``opsnb logs templates FILE``: header recognition, generic masking, default settings, nothing
per data set). *held-out*: the logs under ``tests/data/patterns``, not tuned to, each with its
header regex: *real* ones captured from nginx, sshd, PostgreSQL and dpkg on a machine, *generated*
ones printed from seven programs' own format strings; truth from the format strings for both. Grouping accuracy is Loghub's; template
accuracy is the share of lines whose mined template equals the true one with ``<*>`` for
variables (:mod:`opsnb.logs.patterns_eval`). drain3 (default configuration) mines the same
bodies in the same run. ``python benchmarks/bench_patterns.py --tables`` prints both as Markdown.

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


HELDOUT = HERE.parent / "tests" / "data" / "patterns"  # held-out logs and their truth (README there)
# Tables of the report: a row belongs to every table its name starts with ("held-out" holds both kinds).
TABLES = {"dev": "Loghub 2k samples, developed on", "held-out real": "captured from the programs, tests/data/patterns",
          "held-out generated": "printed from format strings, tests/data/patterns",
          "held-out": "all held-out sets"}


def _tables() -> list[tuple[str, str, Path, str | None, list[str], list[str] | None]]:
    """(table, name, log, header regex, true ids, true templates) for every data set of both tables."""
    import json

    from opsnb.logs.patterns_eval import loghub_truth, read_truth

    out: list[tuple[str, str, Path, str | None, list[str], list[str] | None]] = []
    for name in DRAIN:
        log = LOGHUB / name / f"{name}_2k.log"
        if log.exists():
            ids, tm = loghub_truth(LOGHUB, HELDOUT / "loghub", name)
            out.append(("dev", name, log, None, ids, tm))
    meta = json.loads((HELDOUT / "datasets.json").read_text(encoding="utf-8"))
    for name, m in meta.items():
        ids, tm = read_truth(HELDOUT / f"{name}_truth.csv")
        table = "held-out real" if m.get("source") == "real" else "held-out generated"
        out.append((table, name, HELDOUT / f"{name}.log", m["header_regex"], ids, tm))
    return out


def accuracy_table() -> list[dict[str, object]]:
    """One row per data set: opsnb's and drain3's grouping and template accuracy, same bodies, same run.

    opsnb mines the file with :func:`opsnb.logs.minefile.mine_file` (the path behind
    ``opsnb logs templates``): header recognition on the dev logs, the data set's header regex on the
    held-out logs (as ``--header-regex`` would). drain3 (default configuration) gets the same bodies.
    """
    from opsnb.logs.patterns_eval import bodies_of, mine_drain3, mine_opsnb, score

    try:
        import drain3  # noqa: F401
        have_d3 = True
    except ImportError:
        have_d3 = False
    rows: list[dict[str, object]] = []
    for table, name, log, rx, ids, tm in _tables():
        ours = score(name, *mine_opsnb(log, rx), ids, tm)
        row: dict[str, object] = {"table": table, "name": name, "lines": len(ids),
                                  "ga": ours.grouping, "ta": ours.template, "templates": ours.templates}
        if have_d3:
            d3 = score(name, *mine_drain3(bodies_of(log, rx)), ids, tm)
            row.update(d3_ga=d3.grouping, d3_ta=d3.template, d3_templates=d3.templates)
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    """Both tables as Markdown (the README's form)."""
    out = []
    for table in TABLES:
        sub = [r for r in rows if str(r["table"]).startswith(table)]
        out.append(f"\n{table} ({TABLES[table]}):\n")
        out.append("| data set | opsnb GA | drain3 GA | opsnb TA | drain3 TA | templates (opsnb / drain3) |")
        out.append("|---|---|---|---|---|---|")
        for r in sub if table != "held-out" else []:  # the last table is the mean of both kinds
            out.append(f"| {r['name']} | {r['ga']:.3f} | {r.get('d3_ga', float('nan')):.3f} | {r['ta']:.3f} | "
                       f"{r.get('d3_ta', float('nan')):.3f} | {r['templates']} / {r.get('d3_templates', '-')} |")
        n = max(len(sub), 1)
        mean = {k: sum(float(r.get(k, float("nan"))) for r in sub) / n for k in ("ga", "d3_ga", "ta", "d3_ta")}
        out.append(f"| **mean of {len(sub)}** | **{mean['ga']:.3f}** | {mean['d3_ga']:.3f} | **{mean['ta']:.3f}** | "
                   f"{mean['d3_ta']:.3f} | |")
    return "\n".join(out)


def accuracy_rows() -> list[tuple[str, float, str]]:
    rows = accuracy_table()
    out: list[tuple[str, float, str]] = []
    for r in rows:
        tag = f"{r['table']} {r['name']}"
        if r["table"] == "dev":
            tag += f" (Drain published {DRAIN[str(r['name'])]:.3f})"
        out.append((f"grouping accuracy {tag}", float(r["ga"]), "ratio"))  # type: ignore[arg-type]
        if "d3_ga" in r:
            out.append((f"grouping accuracy {tag}, drain3 defaults", float(r["d3_ga"]), "ratio"))  # type: ignore[arg-type]
        out.append((f"template accuracy {tag}", float(r["ta"]), "ratio"))  # type: ignore[arg-type]
        if "d3_ta" in r:
            out.append((f"template accuracy {tag}, drain3 defaults", float(r["d3_ta"]), "ratio"))  # type: ignore[arg-type]
    for table in TABLES:
        sub = [r for r in rows if str(r["table"]).startswith(table)]
        for key, what in (("ga", "grouping accuracy"), ("d3_ga", "grouping accuracy, drain3"),
                          ("ta", "template accuracy"), ("d3_ta", "template accuracy, drain3")):
            if sub and key in sub[0]:
                out.append((f"mean {what}, {table} ({len(sub)} data sets)",
                            sum(float(r[key]) for r in sub) / len(sub), "ratio"))  # type: ignore[arg-type]
    return out


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
    # The file run starts from the heap `opsnb logs templates FILE` has: the miner above and the
    # line lists held alive cost the file path ~10% in garbage-collector walks that are not its own.
    del miner, bodies
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mix.log"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        del lines
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

    if "--tables" in sys.argv:  # the README's Markdown tables
        print(markdown(accuracy_table()))
        raise SystemExit(0)
    for row in run("--quick" in sys.argv):
        print(f"{row[0]:<75} {row[1]:>14,.3f} {row[2]}")
