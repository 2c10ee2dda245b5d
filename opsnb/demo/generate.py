"""Build the demo workspace: plan the world, write its events to the lake, let domains seed state.

``build(ws)`` is deterministic: equal ``seed`` and ``end`` give identical events
(``end`` defaults to now, floored to the hour). The file ``<ws>/demo.json`` marks a
demo workspace and says what it holds; it reads ``"complete"`` only once
everything was written, so a build cut short is never mistaken for a demo.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from opsnb.demo.world import DemoWorld, seed_domains
from opsnb.errors import Conflict, ValidationError, WorkspaceError

MARKER = "demo.json"
KEEP = {"opsnb.toml"}  # what a rebuild leaves in place


def floor_hour(t: datetime) -> datetime:
    """``t`` in UTC, floored to the hour."""
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def info(workspace: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What ``<workspace>/demo.json`` says, or ``None`` when the workspace holds no complete demo."""
    path = Path(workspace) / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("status") == "complete" else None


def disk_usage(path: Path) -> int:
    """Bytes of every file under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue
    return total


def _validate(days: Any, seed: Any, scale: Any, end: datetime | None) -> None:
    problems = []
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
        problems.append(f"days must be a whole number from 1 to 90, got {days!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        problems.append(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < float(scale) <= 10:
        problems.append(f"scale must be a number in (0, 10], got {scale!r}")
    if end is not None and (not isinstance(end, datetime) or end.tzinfo is None):
        problems.append(f"end must be a timezone-aware datetime, got {end!r}")
    if problems:
        raise ValidationError("bad demo parameters:", problems, field="demo")


def _prepare(ws: Path, force: bool) -> None:
    """Make ``ws`` empty (but for opsnb.toml), refusing to wipe what is not a demo unless forced."""
    if ws.exists() and not ws.is_dir():
        raise WorkspaceError(f"workspace {ws} is a file, not a directory", path=str(ws))
    if not ws.exists():
        return
    entries = [p for p in ws.iterdir() if p.name not in KEEP]
    if not entries:
        return
    is_demo = (ws / MARKER).exists()
    if not is_demo and not force:
        raise Conflict(f"workspace {ws} is not empty and holds no demo; use --force to replace its contents",
                       kind="workspace", key=str(ws))
    resolved = ws.resolve()
    if resolved == Path(resolved.anchor) or resolved == Path.home().resolve() or (ws / ".git").exists():
        raise WorkspaceError(f"refusing to wipe {ws}: it looks like a home, root or repository directory",
                             path=str(ws))
    for p in entries:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _write_marker(ws: Path, data: dict[str, Any]) -> None:
    tmp = ws / f".{MARKER}.tmp"
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, ws / MARKER)


def _grant_people(ops: Any, world: DemoWorld) -> None:
    """The builder becomes the first admin (it owns this demo); the world's people get their roles."""
    from sqlalchemy import func, select

    from opsnb.access.models import UserRole

    with ops.db.session() as s:
        admins = s.scalar(select(func.count()).select_from(UserRole).where(UserRole.role == "admin"))
    if not admins:
        ops.access.grant(ops.user, "admin", reason="demo workspace owner")
    for user, role in world.users.items():
        if user != ops.user:
            ops.access.grant(user, role, reason="demo world")


def build(workspace: str | os.PathLike[str], *, days: int = 14, seed: int = 7, scale: float = 1.0,
          force: bool = False, end: datetime | None = None,
          progress: Callable[[str], None] | None = None) -> DemoWorld:
    """Build a demo workspace: a small production system with three injected incidents.

    Args:
        workspace: Directory to fill; created if missing. A previous demo there is replaced.
        days: Length of the period, ending at ``end``.
        seed: Seed of every random choice.
        scale: Multiplies the request volume (1.0: about 160,000 log events a day).
        force: Replace the contents of a non-empty workspace that holds no demo.
        end: End of the period (default: now, floored to the hour). Equal seed and end give equal data.
        progress: Called with a short line after each step (the CLI prints them).

    Returns:
        The :class:`DemoWorld`, with ``counts`` filled in.

    Raises:
        ValidationError: Bad days, seed, scale or end.
        Conflict: The workspace holds other data and ``force`` is false, or its
            database (PostgreSQL) already holds state.
    """
    from opsnb.demo.events import DayRenderer, days_of
    from opsnb.demo.plan import plan_world
    from opsnb.workbench import connect

    _validate(days, seed, scale, end)
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    end = floor_hour(datetime.now(UTC)) if end is None else end.astimezone(UTC)
    start = end - timedelta(days=days)
    ws = Path(workspace).expanduser()
    _prepare(ws, force)
    ws.mkdir(parents=True, exist_ok=True)
    slo_dir = ws / "slos"
    plan = plan_world(seed=seed, start=start, end=end, slo_dir=slo_dir)
    world = plan.world
    ops = connect(ws)
    try:
        if ops.db.dialect != "sqlite":  # a shared database is not ours to wipe
            from sqlalchemy import func, select

            from opsnb.audit.models import AuditRecord

            with ops.db.session() as s:
                if s.scalar(select(func.count()).select_from(AuditRecord)):
                    raise Conflict(f"the state database {ops.db.dialect} already holds state; "
                                   "a demo needs an empty one", kind="database", key=ops.db.dialect)
        _write_marker(ws, {"status": "building", "seed": seed, "days": days, "scale": scale,
                           "end": end.isoformat()})
        slo_dir.mkdir(exist_ok=True)
        _grant_people(ops, world)
        counts = {"logs": 0, "spans": 0, "metrics": 0}
        for i, day0 in enumerate(days_of(start, end)):
            rng = np.random.default_rng([seed, 2, i])
            for table, rows in DayRenderer(plan, day0, rng, float(scale)).render().items():
                ops.lake.write(table, rows)
                counts[table] += rows.num_rows
            say(f"day {i + 1}/{days}: {counts['logs']:,} logs, {counts['spans']:,} spans so far")
        world.counts = counts
        seeded = seed_domains(ops, world)
        say(f"seeded: {', '.join(seeded) or '(no domain seeds yet)'}")
    finally:
        ops.close()
    seconds = time.perf_counter() - t0
    _write_marker(ws, {
        "status": "complete", "seed": seed, "days": days, "scale": scale, "start": start.isoformat(),
        "end": end.isoformat(), "counts": world.counts, "seeded": seeded, "seconds": round(seconds, 2),
        "disk_bytes": disk_usage(ws), "built_at": datetime.now(UTC).isoformat(),
        "servers": [s.name for s in world.servers],
        "incidents": [{k: v for k, v in asdict(inc).items()} for inc in world.incidents],
        "deploys": len(world.deploys),
    })
    return world
