"""On-call benchmark: who is on call for a year of 15-minute instants (target: under 1 s).

Figures: one vectorised ``ops.oncall.who_is_on_call(schedule, instants)`` over a
year (35,040 instants) of a two-layer New York schedule with 50 overrides,
including loading the schedule from the state database; the pure evaluation
alone; ``final_shifts`` for the year; and the cost of one scalar call.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def run(quick: bool) -> list[tuple[str, float, str]]:
    import pandas as pd

    from opsnb.oncall import rotation
    from opsnb.workbench import connect

    with tempfile.TemporaryDirectory() as tmp:
        ops = connect(Path(tmp) / "ws", user="bench")
        try:
            ops.access.grant("bench", "admin")
            ops.oncall.create_schedule(name="primary", timezone="America/New_York", layers=[
                {"name": "weekly", "rotation": "weekly", "first_handoff": "2024-12-30T09:00",
                 "members": ["alice", "bob", "carol", "dave", "erin"]},
                {"name": "business", "rotation": "daily", "first_handoff": "2024-12-30T09:00",
                 "members": ["frank", "gina"], "window": ["09:00", "17:00"]}])
            start = datetime(2025, 1, 1, tzinfo=UTC)
            for k in range(10 if quick else 50):
                s = start + timedelta(days=7 * k + 2)
                ops.oncall.add_override("primary", person=f"cover{k}", start=s, end=s + timedelta(hours=12))
            n = 35_040 // (4 if quick else 1)
            instants = pd.date_range(start, periods=n, freq="15min")
            rotation._handoffs_ns.cache_clear()
            t0 = time.perf_counter()
            out = ops.oncall.who_is_on_call("primary", instants)
            whole = time.perf_counter() - t0
            assert len(out) == n and out.notna().all()
            spec = ops.oncall.spec("primary", instants[0], instants[-1])
            rotation._handoffs_ns.cache_clear()
            t0 = time.perf_counter()
            rotation.who(spec, instants)
            pure = time.perf_counter() - t0
            t0 = time.perf_counter()
            shifts = ops.oncall.final_shifts("primary", instants[0], instants[-1])
            shift_s = time.perf_counter() - t0
            k = 50 if quick else 200
            t0 = time.perf_counter()
            for ts in instants[:: max(1, n // k)][:k]:
                ops.oncall.who_is_on_call("primary", ts)
            scalar_ms = (time.perf_counter() - t0) / k * 1000
        finally:
            ops.close()
    label = "year" if not quick else "quarter-year"
    return [
        (f"who_is_on_call, {n} instants ({label} of 15 min), from DB", whole, "s"),
        (f"who_is_on_call, {n} instants, pure evaluation", pure, "s"),
        (f"final_shifts for the {label} ({len(shifts)} shifts)", shift_s, "s"),
        ("who_is_on_call, one instant, from DB", scalar_ms, "ms"),
    ]


if __name__ == "__main__":
    for row in run(quick=False):
        print(*row)
