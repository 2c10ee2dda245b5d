"""Honest endings after a crash: run owners, heartbeats, and recovery of runs whose owner is gone.

A run is owned by the process executing it, named ``host:pid:start`` (the start time of the
process, so a reused pid is not mistaken for the owner). The owner heartbeats every
``HEARTBEAT_S`` seconds. The next process that owns runs (first use of ``ops.runbooks`` for a
run, the scheduler, ``opsnb up``) calls :func:`recover`: a run whose owner is gone -- its pid
dead on this host, or no heartbeat for ``STALE_AFTER`` intervals from another host -- is marked
``interrupted`` with the reason, its kernel's process group is killed, its locks are released,
and its partial output notebook is kept, read-only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from opsnb.runbooks.models import RunLock, RunRecord
from opsnb.store import processes
from opsnb.store.processes import identity  # noqa: F401 - the owner id runs record
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

HEARTBEAT_S = 5.0
STALE_AFTER = 6  # heartbeats missed before a run of another host counts as orphaned
NO_OWNER_AFTER = timedelta(days=1)  # rows written before owners existed
log = logging.getLogger("opsnb.runbooks")
_HOST = processes.HOST


def kernel_identity(pid: int) -> str:
    """``host:pid:pgid:start`` of a kernel process, recorded when a run takes it."""
    st = processes.stat(pid)
    try:
        pgid = st[1] if st else os.getpgid(pid)
    except OSError:
        pgid = pid
    return f"{_HOST}:{pid}:{pgid}:{st[2] if st else ''}"


def owner_gone(owner: str, heartbeat_at: datetime | None, created_at: datetime, now: datetime) -> str:
    """Why the owner of a run is gone, or "" while it may still be executing."""
    if not owner:
        return "it has no recorded owner and was left unfinished" if created_at < now - NO_OWNER_AFTER else ""
    host, pid, ticks = owner.rsplit(":", 2)
    if host == _HOST:
        if pid.isdigit() and not processes.alive(int(pid), ticks):
            return f"its owner (pid {pid} on {host}) is gone"
        return ""
    last = heartbeat_at or created_at
    age = (now - last).total_seconds()
    if age > HEARTBEAT_S * STALE_AFTER:
        return f"no heartbeat from its owner on {host} (pid {pid}) for {age:.0f}s"
    return ""


def kill_kernel(kernel: str, timeout: float = 5.0) -> str:
    """Kill the process group of a run's kernel (on this host); say what happened."""
    if not kernel:
        return "no kernel was recorded"
    host, pid_s, pgid_s, ticks = kernel.rsplit(":", 3)
    if host != _HOST:
        return f"its kernel runs on {host}; stop it there"
    pid, pgid = int(pid_s), int(pgid_s)
    members = _group(pgid, ticks)
    if processes.alive(pid, ticks):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    for m in members:  # the leader died alone (its parent poller): its children remain in the group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(m, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (processes.alive(pid, ticks) or any(processes.alive(m) for m in members)):
        time.sleep(0.02)
    left = [m for m in [pid, *members] if processes.alive(m, ticks if m == pid else "")]
    if left:
        return f"kernel processes {', '.join(map(str, left))} did not stop"
    return f"its kernel (process group {pgid}) was killed"


def _group(pgid: int, ticks: str) -> list[int]:
    """Live processes of process group ``pgid`` started no earlier than its leader (``ticks``)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            st = processes.stat(int(entry.name))
            # A later process can reuse a dead leader's number, never start before it.
            if st and st[1] == pgid and st[0] not in ("Z", "X") and (not ticks or st[2] >= int(ticks)):
                out.append(int(entry.name))
    return out


def keep_output(path: str) -> str:
    """Make a partial output notebook read-only; its sha256, or "" when there is none."""
    p = Path(path) if path else None
    if p is None or not p.is_file():
        return ""
    with contextlib.suppress(OSError):
        os.chmod(p, 0o444)
    return hashlib.sha256(p.read_bytes()).hexdigest()


def recover(wb: Workbench) -> list[dict[str, Any]]:
    """Mark the runs of dead owners ``interrupted``: kill their kernels, free their locks.

    Safe to call from several processes at once: a run is claimed by one conditional update,
    and only the claimer cleans up after it.

    Returns:
        One dict per run interrupted here: run_id, runbook, reason.
    """
    now = utcnow()
    with wb.db.session() as s:
        rows = s.execute(select(RunRecord.id, RunRecord.runbook, RunRecord.status, RunRecord.owner,
                                RunRecord.heartbeat_at, RunRecord.created_at, RunRecord.executor)
                         .where(RunRecord.status.in_(("queued", "running")))).all()
    done: list[dict[str, Any]] = []
    for run_id, runbook, status, owner, beat, created, executor in rows:
        if status == "queued" and executor != "local" and owner and owner.rsplit(":", 2)[0] == _HOST:
            continue  # queued for a remote worker: the submitter's death does not stop it
        why = owner_gone(owner or "", beat, created, now)
        if not why:
            continue
        with wb.db.session() as s:
            res = s.execute(update(RunRecord).where(
                RunRecord.id == run_id, RunRecord.status == status, RunRecord.owner == owner)
                .values(status="interrupted", finished_at=now))
            if getattr(res, "rowcount", 0) != 1:
                continue  # another process got there first, or the run moved on
            rec = s.get(RunRecord, run_id)
            assert rec is not None
            kernel = kill_kernel(rec.kernel) if status == "running" else "it had not started"
            rec.sha256 = keep_output(rec.output_path)
            if not rec.sha256:
                rec.output_path = ""
            reason = f"interrupted: {why}; {kernel}" + ("; partial output kept" if rec.sha256 else "")
            rec.error = reason
            if rec.started_at is not None:
                rec.duration = (now - rec.started_at).total_seconds()
            s.execute(delete(RunLock).where(RunLock.run_id == run_id))
            wb.audit.record(action="runbook.interrupted", target=run_id, params={"runbook": runbook},
                            reason=reason, actor="opsnb")
        log.warning("run %s of %s %s", run_id, runbook, reason)
        done.append({"run_id": run_id, "runbook": runbook, "reason": reason})
    return done


class Heartbeats:
    """One thread per service stamping ``heartbeat_at`` on the runs this process executes."""

    def __init__(self, wb: Workbench, interval: float = HEARTBEAT_S) -> None:
        self._wb = wb
        self.interval = interval
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run_id: str) -> None:
        with self._lock:
            self._ids.add(run_id)
            if self._thread is None or not self._thread.is_alive():
                self._wake.clear()
                self._thread = threading.Thread(target=self._loop, daemon=True, name="opsnb-run-heartbeat")
                self._thread.start()

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._ids.discard(run_id)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            with self._lock:
                ids = sorted(self._ids)
                if not ids:
                    self._thread = None
                    return
            try:
                with self._wb.db.session() as s:
                    s.execute(update(RunRecord).where(RunRecord.id.in_(ids), RunRecord.status == "running")
                              .values(heartbeat_at=utcnow()))
            except Exception as exc:  # noqa: BLE001 - a transient database error must not stop the beat
                log.warning("run heartbeat failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            self._ids.clear()
        self._wake.set()
