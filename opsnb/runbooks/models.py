"""Tables of the runbooks domain: the run ledger, cell timings, locks, schedules, leases, triggers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime


class RunRecord(Base):
    """One runbook run: who, when, why, with what (secrets redacted), on what, and how it ended."""

    __tablename__ = "runbook_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    runbook: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[str] = mapped_column(String(20))  # manual | schedule | alert | rerun | api
    trigger_ref: Mapped[str] = mapped_column(String(300), default="")
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    dry_run: Mapped[bool] = mapped_column(Boolean)
    risk: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    targets: Mapped[list[str]] = mapped_column(JSON)
    approve: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    output_path: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    failed_cell: Mapped[str] = mapped_column(String(100), default="")
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    executor: Mapped[str] = mapped_column(String(200), default="local")
    rerun_of: Mapped[str | None] = mapped_column(String(40), nullable=True)
    incident_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who executes the run (``host:pid:start``) and when it last said so: a run whose owner is
    # gone is marked ``interrupted`` by the next process that owns runs (see recovery.py).
    owner: Mapped[str] = mapped_column(String(200), default="")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    kernel: Mapped[str] = mapped_column(String(200), default="")  # host:pid:pgid:start of its kernel


class RunCell(Base):
    """Timing of one executed cell of a run (written as each cell finishes)."""

    __tablename__ = "runbook_run_cells"

    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runbook_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)


class RunLock(Base):
    """One run per runbook and target at a time; ``expires_at`` frees the lock of a crashed worker."""

    __tablename__ = "runbook_locks"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduleRecord(Base):
    """A cron (with time zone) or interval schedule of a runbook."""

    __tablename__ = "runbook_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    runbook: Mapped[str] = mapped_column(String(200))
    cron: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    missed: Mapped[str] = mapped_column(String(20), default="skip")  # skip | catchup
    jitter_s: Mapped[float] = mapped_column(Float, default=0.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class Lease(Base):
    """A named lease: one holder at a time until it expires (scheduler leadership)."""

    __tablename__ = "runbook_leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TriggerRecord(Base):
    """An alert rule: alerts whose labels match run a runbook with parameters mapped from the alert."""

    __tablename__ = "runbook_triggers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    runbook: Mapped[str] = mapped_column(String(200))
    match: Mapped[dict[str, str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    cooldown_s: Mapped[float] = mapped_column(Float, default=3600.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class ApprovalRecord(Base):
    """A ``confirm()`` step of a run waiting for (or given) a human's decision."""

    __tablename__ = "runbook_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    step: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # pending | approved | denied | expired
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
