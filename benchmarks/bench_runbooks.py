"""Runbook benchmarks: run overhead vs papermill alone, throughput, scheduler tick.

Figures:
- median wall time of a trivial runbook through ``ops.runbooks.run`` (validation, warm kernel,
  ledger, output) and of ``papermill.execute_notebook`` on the same notebook, and their ratio;
- trivial runs a minute with the default 2 workers;
- one scheduler tick over 1,000 schedules (none due; all due and claimed; all due with jitter),
  and 1,000 cron evaluations.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat


def _trivial(directory: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('x: int = 1  # a number\n')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell('import opsnb.runbooks as rb\nrb.record("double", x * 2)\n')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["opsnb"] = {"title": "Trivial", "description": "benchmark", "category": "check",
                            "risk": "read-only", "roles": ["responder"], "timeout": 60}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "trivial.ipynb"
    nbformat.write(nb, path)
    return path


def run(quick: bool) -> list[tuple[str, float, str]]:
    import papermill

    from opsnb.runbooks.models import ScheduleRecord
    from opsnb.runbooks.scheduler import Scheduler, parse_cron
    from opsnb.workbench import connect

    n = 5 if quick else 20
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="opsnb-bench-rb-") as tmp:
        base = Path(tmp)
        for var, val in {"JUPYTER_DATA_DIR": base / "jd", "JUPYTER_RUNTIME_DIR": base / "jr",
                     "JUPYTER_CONFIG_DIR": base / "jc"}.items():
            os.environ.setdefault(var, str(val))
        nb_path = _trivial(base / "runbooks")
        ops = connect(base / "ws", runbooks_dir=str(base / "runbooks"), user="bench")
        ops.access.grant("bench", "admin")

        # papermill alone, same notebook, same process (its import is already paid)
        papermill.execute_notebook(str(nb_path), None, parameters={"x": 2}, progress_bar=False)
        pm = []
        for i in range(n):
            t0 = time.perf_counter()
            papermill.execute_notebook(str(nb_path), None, parameters={"x": i}, progress_bar=False)
            pm.append(time.perf_counter() - t0)

        ops.runbooks.warm(wait=True)
        ops.runbooks.run("trivial", x=0)
        ours = []
        for i in range(n):
            time.sleep(1.0)  # let the pool refill: we measure a run with a warm kernel waiting
            t0 = time.perf_counter()
            r = ops.runbooks.run("trivial", x=i)
            ours.append(time.perf_counter() - t0)
            assert r.ok, r.error
        med_pm, med_ours = statistics.median(pm), statistics.median(ours)
        rows += [("run overhead, trivial runbook, warm pool (median)", med_ours, "s"),
                 ("papermill.execute_notebook alone (median)", med_pm, "s"),
                 ("opsnb run / papermill ratio", med_ours / med_pm, "x")]

        m = 20 if quick else 60
        time.sleep(2.0)
        t0 = time.perf_counter()
        runs = [ops.runbooks.run("trivial", x=i, wait=False) for i in range(m)]
        done = [r.wait(300) for r in runs]
        secs = time.perf_counter() - t0
        assert all(r.ok for r in done), [r.error for r in done if not r.ok][:3]
        rows.append((f"throughput, {m} trivial runs, {ops.settings.executor_workers} workers", m / secs * 60, "runs/min"))

        # scheduler: 1,000 schedules, timed on their own: the runs above leave the warm
        # kernel pool refilling (a kernel start costs ~0.5 s of CPU), which is not the tick's cost
        ops.runbooks.close()
        now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
        exprs = ["*/5 * * * *", "0 * * * *", "30 9 * * mon-fri", "0 0 1 * *", "15,45 */2 * * *"]
        with ops.db.session() as s:
            s.add_all([ScheduleRecord(name=f"s{i}", runbook="trivial", cron=exprs[i % len(exprs)],
                                      timezone="Europe/Paris", params={}, dry_run=False, missed="skip",
                                      jitter_s=0.0, enabled=True, next_run_at=now + timedelta(days=1),
                                      created_by="bench", created_at=now, reason="")
                       for i in range(1000)])
        sched = Scheduler(ops, holder="bench")
        ticks = []
        for _ in range(5):
            t0 = time.perf_counter()
            sched.tick(now, submit=False, services=False)
            ticks.append(time.perf_counter() - t0)
        rows.append(("scheduler tick, 1,000 schedules, none due", statistics.median(ticks) * 1000, "ms"))
        due_ticks = []
        for k in range(3):
            when = now + timedelta(days=2 + k)
            with ops.db.session() as s:
                s.query(ScheduleRecord).update({ScheduleRecord.next_run_at: when - timedelta(seconds=1)})
            t0 = time.perf_counter()
            fired = sched.tick(when, submit=False, services=False)
            due_ticks.append(time.perf_counter() - t0)
            assert len(fired) == 1000
        rows.append(("scheduler tick, 1,000 schedules all due (claimed, next computed)",
                     statistics.median(due_ticks) * 1000, "ms"))
        # Jitter gives every schedule its own next fire: no shared UPDATE, one executemany instead.
        jit_ticks = []
        for k in range(3):
            when = now + timedelta(days=10 + k)
            with ops.db.session() as s:
                s.query(ScheduleRecord).update({ScheduleRecord.next_run_at: when - timedelta(seconds=1),
                                                ScheduleRecord.jitter_s: 30.0})
            t0 = time.perf_counter()
            fired = sched.tick(when, submit=False, services=False)
            jit_ticks.append(time.perf_counter() - t0)
            assert len(fired) == 1000
        rows.append(("scheduler tick, 1,000 schedules all due, 30 s jitter each",
                     statistics.median(jit_ticks) * 1000, "ms"))
        parsed = [parse_cron(exprs[i % len(exprs)]) for i in range(1000)]
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("Europe/Paris")
        t0 = time.perf_counter()
        for c in parsed:
            c.next_after(now, tz)
        rows.append(("1,000 cron next-fire evaluations", (time.perf_counter() - t0) * 1000, "ms"))
        ops.close()
    return rows
