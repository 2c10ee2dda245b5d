"""The demo lives: while ``opsnb up`` serves a demo workspace, its world keeps going.

Each tick (a minute by default) renders the minutes since the last one from the same model that
built the demo (:class:`opsnb.demo.events.DayRenderer` over a :func:`opsnb.demo.plan.plan_world`
plan), writes the new logs, spans and metrics to the lake, and runs the SLO alert rules
(``ops.slos.sync_alerts``), so budgets burn and alerts fire as they would in production. The plan
covers the week after the demo was built, so its injected incidents (a bad deploy, a full disk, a
latency regression) happen now and then while the demo runs. ``opsnb up --no-live`` turns it off.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TICK_SECONDS = 60.0
HORIZON = timedelta(days=7)  # how far ahead the live plan reaches (and so where its incidents fall)


class Live:
    """Keeps one demo workspace's world going (see the module docstring)."""

    def __init__(self, ops: Any, *, seed: int, scale: float, start: datetime, tick: float = TICK_SECONDS) -> None:
        from opsnb.demo.plan import plan_world

        self.ops, self.seed, self.scale, self.tick = ops, int(seed), float(scale), float(tick)
        self._tmp = tempfile.TemporaryDirectory(prefix="opsnb-live-")
        # the plan's SLO files go to a scratch dir: the workspace's own definitions stay as they are
        self.plan = plan_world(seed=self.seed + 1, start=start, end=start + HORIZON, slo_dir=Path(self._tmp.name))
        self.start = start
        latest = ops.logs.last_seen()
        self.last = max(start, latest.to_pydatetime() + timedelta(microseconds=1)) if latest is not None else start
        self.written = {"logs": 0, "spans": 0, "metrics": 0}
        self.ticks = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, now: datetime | None = None) -> dict[str, int]:
        """Write the world's events of ``[last, now)`` and run the SLO alert rules; returns rows written."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from opsnb.demo.events import DayRenderer

        now = (now or datetime.now(UTC)).astimezone(UTC)
        end = min(now, self.start + HORIZON)
        if end <= self.last:
            return {}
        out: dict[str, int] = {}
        day0 = self.last.replace(hour=0, minute=0, second=0, microsecond=0)
        while day0 < end:
            index = (day0 - self.start.replace(hour=0, minute=0, second=0, microsecond=0)).days
            rng = np.random.default_rng([self.seed, 3, index])
            for table, rows in DayRenderer(self.plan, day0, rng, self.scale).render().items():
                ts = rows.column("Timestamp")
                lo, hi = pa.scalar(self.last, type=ts.type), pa.scalar(end, type=ts.type)
                part = rows.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))
                if part.num_rows:
                    self.ops.lake.write(table, part)
                    out[table] = out.get(table, 0) + part.num_rows
                    self.written[table] = self.written.get(table, 0) + part.num_rows
            day0 += timedelta(days=1)
        self.last = end
        self.ticks += 1
        self.ops.slos.sync_alerts(at=end)  # the real alert rules, on the data just written
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.step()
            except Exception as exc:  # a bad tick is logged and the next one tries again
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                del self.errors[:-20]

    def start_thread(self) -> None:
        """Tick in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="opsnb-demo-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (waits for a tick in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self._tmp.cleanup()


def start_background(ops: Any, *, tick: float | None = None) -> Live | None:
    """Start keeping ``ops``'s demo world going; None when the workspace holds no complete demo.

    ``tick`` defaults to the ``demo_live_tick`` setting (60 s).
    """
    from opsnb.demo.generate import info

    if tick is None:
        tick = max(1.0, float(ops.settings.demo_live_tick))
    meta = info(ops.workspace)
    if meta is None or not meta.get("end"):
        return None
    start = datetime.fromisoformat(str(meta["end"])).astimezone(UTC)
    live = Live(ops, seed=int(meta.get("seed", 7)), scale=float(meta.get("scale", 1.0)), start=start, tick=tick)
    live.start_thread()
    return live
