"""Tables and value objects of the deploys domain."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime, utcnow

STATUSES: tuple[str, ...] = ("running", "succeeded", "failed", "rolled_back")
"""Where a deploy can be. ``running`` may become any other; ``succeeded`` only ``rolled_back``."""

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "running": ("succeeded", "failed", "rolled_back"),
    "succeeded": ("rolled_back",),
    "failed": (),
    "rolled_back": (),
}


class DeployRow(Base):
    """One deployment of one service version to one environment."""

    __tablename__ = "deploys"
    __table_args__ = (Index("ix_deploys_service_env_started", "service", "env", "started_at"),
                      Index("ix_deploys_service_env_version", "service", "env", "version"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    service: Mapped[str] = mapped_column(String(100), index=True)
    env: Mapped[str] = mapped_column(String(50), index=True)
    version: Mapped[str] = mapped_column(String(100))
    previous_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rollback_of: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # for DORA lead time
    source: Mapped[str] = mapped_column(String(50), default="")  # "github", "gitlab", "api", "" (library/CLI)


class DeployReceiptRow(Base):
    """One webhook delivery, stored before it is acknowledged; ``delivery`` deduplicates redeliveries."""

    __tablename__ = "deploy_receipts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    provider: Mapped[str] = mapped_column(String(20))
    delivery: Mapped[str] = mapped_column(String(200), unique=True)  # provider:delivery-id
    event: Mapped[str] = mapped_column(String(50))
    deploy_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # created | updated | unchanged | ignored
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True)
class Deploy:
    """A deploy record, as :meth:`Deploys.get` returns it."""

    id: str
    service: str
    env: str
    version: str
    previous_version: str | None
    commit: str | None
    actor: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rollback_of: str | None = None
    reason: str = ""
    committed_at: datetime | None = None
    source: str = ""

    @classmethod
    def of(cls, row: DeployRow) -> Deploy:
        return cls(id=row.id, service=row.service, env=row.env, version=row.version,
                   previous_version=row.previous_version, commit=row.commit, actor=row.actor,
                   status=row.status, started_at=row.started_at, finished_at=row.finished_at,
                   rollback_of=row.rollback_of, reason=row.reason or "", committed_at=row.committed_at,
                   source=row.source or "")

    @property
    def is_rollback(self) -> bool:
        return self.rollback_of is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_html_(self) -> str:
        colour = {"succeeded": "#1e8449", "failed": "#c0392b", "rolled_back": "#b9770e"}.get(self.status, "#555")
        prev = f" (from {html.escape(self.previous_version)})" if self.previous_version else ""
        when = self.started_at.strftime("%Y-%m-%d %H:%M UTC")
        extra = f" &middot; rollback of {html.escape(self.rollback_of)}" if self.rollback_of else ""
        return (f"<b>{html.escape(self.id)}</b> {html.escape(self.service)}@{html.escape(self.env)} "
                f"<code>{html.escape(self.version)}</code>{prev} &middot; "
                f"<span style='color:{colour}'>{html.escape(self.status)}</span> &middot; {when} "
                f"by {html.escape(self.actor)}{extra}")


class FreezeRow(Base):
    """A deploy freeze: no new deploy of ``service`` (``*`` = every service) to ``env`` while active."""

    __tablename__ = "deploy_freezes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    service: Mapped[str] = mapped_column(String(100), index=True)
    env: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), default="")  # e.g. "slo:checkout-availability"
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
