"""Tables and value objects of the changes domain."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime, utcnow

KINDS: tuple[str, ...] = ("config", "feature_flag", "maintenance", "infrastructure", "other")
"""What changed. A deploy is not a change record: it lives in ``ops.deploys``."""


class ChangeRow(Base):
    """One change event, shaped like a PagerDuty change event (summary, timestamp, source, details, links)."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    service: Mapped[str] = mapped_column(String(100), index=True)
    env: Mapped[str] = mapped_column(String(50))
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True)
class Change:
    """A change record, as :meth:`Changes.get` returns it."""

    id: str
    kind: str
    service: str
    env: str
    summary: str
    source: str
    actor: str
    at: datetime
    details: dict[str, Any]
    links: list[dict[str, Any]]

    @classmethod
    def of(cls, row: ChangeRow) -> Change:
        return cls(id=row.id, kind=row.kind, service=row.service, env=row.env, summary=row.summary,
                   source=row.source or "", actor=row.actor, at=row.at, details=dict(row.details or {}),
                   links=list(row.links or []))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
