"""Run every benchmark and print one table: benchmark, figure, value, unit.

Each ``benchmarks/bench_*.py`` defines ``run(quick: bool) -> list[tuple[str, float, str]]``
(figure, value, unit). ``--quick`` uses smaller sizes (a smoke run, not for the README).

Usage:
    python benchmarks/run.py [--quick] [--only NAME] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    import os

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--only", action="append", default=[], help="run only bench_NAME (repeatable)")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    rows: list[tuple[str, str, float, str]] = []
    failed = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem[len("bench_"):]
        if args.only and name not in args.only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        t0 = time.perf_counter()
        try:
            for figure, value, unit in mod.run(quick=args.quick):
                rows.append((name, figure, float(value), unit))
        except Exception as exc:  # a broken benchmark is reported, the others still run
            failed += 1
            rows.append((name, f"FAILED: {type(exc).__name__}: {exc}", float("nan"), ""))
        print(f"# {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    print(f"machine: {machine()}")
    w1 = max([len("benchmark")] + [len(r[0]) for r in rows])
    w2 = max([len("figure")] + [len(r[1]) for r in rows])
    print(f"{'benchmark'.ljust(w1)}  {'figure'.ljust(w2)}  {'value':>14}  unit")
    for b, f, v, u in rows:
        print(f"{b.ljust(w1)}  {f.ljust(w2)}  {v:>14,.3f}  {u}")
    if args.json:
        Path(args.json).write_text(json.dumps([dict(zip(("benchmark", "figure", "value", "unit"), r, strict=True)) for r in rows]))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
