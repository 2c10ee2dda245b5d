"""Tables and value objects of the postmortems domain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime, utcnow

STATUSES: tuple[str, ...] = ("draft", "in_review", "published")
"""Where a postmortem can be; a published one is frozen."""

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("in_review",),
    "in_review": ("draft", "published"),
    "published": (),
}

ACTION_TYPES: tuple[str, ...] = ("prevent", "mitigate", "process")
ACTION_STATUSES: tuple[str, ...] = ("open", "done", "wontfix")


class PostmortemRow(Base):
    """One postmortem per incident: its template, state and working copy."""

    __tablename__ = "postmortems"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    template: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    path: Mapped[str] = mapped_column(Text)  # working copy, relative to the workspace
    authors: Mapped[str] = mapped_column(Text, default="")  # comma-separated user names
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PostmortemVersionRow(Base):
    """One immutable drafted version (``versions/v<n>.ipynb`` beside the working copy)."""

    __tablename__ = "postmortem_versions"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    postmortem_seq: Mapped[int] = mapped_column(ForeignKey("postmortems.seq", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ActionItemRow(Base):
    """A follow-up of a postmortem (title, type, owner, due, status, ticket link)."""

    __tablename__ = "postmortem_action_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    postmortem_seq: Mapped[int] = mapped_column(ForeignKey("postmortems.seq", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20), default="prevent")
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    link: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True)
class Version:
    """One drafted version of a postmortem."""

    version: int
    sha256: str
    path: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: PostmortemVersionRow) -> Version:
        return cls(version=row.version, sha256=row.sha256, path=row.path, created_by=row.created_by,
                   created_at=row.created_at)


@dataclass(frozen=True)
class Postmortem:
    """A postmortem, as :meth:`Postmortems.get` returns it."""

    incident_id: str
    template: str
    status: str
    path: str
    authors: list[str]
    created_at: datetime
    updated_at: datetime
    versions: list[Version] = field(default_factory=list)

    @property
    def current_version(self) -> int | None:
        return self.versions[-1].version if self.versions else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
