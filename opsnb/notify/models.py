"""Tables of the notify domain: channels, deliveries and every delivery attempt.

A delivery is recorded (``pending``) before its first attempt and carries its
own ``next_attempt_at``, so a process that dies mid-retry loses nothing: the
next tick of any process picks it up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime, utcnow


class Channel(Base):
    """A configured channel. Secrets are references (``env:NAME`` / ``file:/path``), never values."""

    __tablename__ = "notify_channels"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_ref: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(Base):
    """One notification to one target through one channel.

    status: ``pending`` (not yet tried, or being tried), ``retrying`` (failed, will be
    tried again at ``next_attempt_at``), ``sent``, ``failed`` (gave up).
    """

    __tablename__ = "notify_deliveries"
    __table_args__ = (
        UniqueConstraint("channel", "target_key", "dedup_key", name="uq_notify_deliveries_dedup"),
        Index("ix_notify_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str | None] = mapped_column(Text, nullable=True)
    target_key: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(String(300), default="")
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedup_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class Attempt(Base):
    """One try of a delivery: when, how it ended, how long it took."""

    __tablename__ = "notify_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notify_deliveries.id", ondelete="CASCADE"), index=True)
    n: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
