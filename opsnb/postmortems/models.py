"""Tables and value objects of the postmortems domain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
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

CHECKLIST: dict[str, str] = {
    "data_collected": "Data collected: the figures, timeline and logs are complete and correct",
    "impact_complete": "Impact complete: users, requests, error budget and duration are stated",
    "root_cause_deep": "Root cause deep enough: asked why until it was actionable",
    "actions_owned": "Action items owned: every item has an owner and a due date",
}
"""Review criteria a reviewer ticks before a postmortem can be published."""

TRIGGERS: tuple[str, ...] = ("binary push", "config push", "traffic", "dependency", "hardware", "capacity",
                             "data", "human error", "unknown")
"""The fixed vocabulary the proposed trigger comes from."""


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
    owner: Mapped[str] = mapped_column(String(200), default="")
    reviewers: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    checklist: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # criterion -> {by, at}
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PostmortemRunRow(Base):
    """One execution of a template (a draft), failed ones included."""

    __tablename__ = "postmortem_runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    template: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # succeeded | failed
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


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
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The notebook table row's values as last synced (opsnb.postmortems.table); None: not from the table.
    notebook_row: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


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
    owner: str = ""
    reviewers: list[str] = field(default_factory=list)
    checklist: dict[str, Any] = field(default_factory=dict)  # criterion -> {"by", "at"} once ticked
    published_version: int | None = None
    published_at: datetime | None = None
    published_by: str | None = None
    open_action_items: int = 0

    @property
    def current_version(self) -> int | None:
        return self.versions[-1].version if self.versions else None

    @property
    def checklist_missing(self) -> list[str]:
        """Review criteria not ticked yet."""
        return [k for k in CHECKLIST if k not in self.checklist]

    @property
    def published_path(self) -> str | None:
        """The frozen, published version's file (relative to the workspace), if published."""
        return next((v.path for v in self.versions if v.version == self.published_version), None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ActionItem:
    """A postmortem's follow-up, as :meth:`Postmortems.action_items` lists it."""

    id: int
    incident_id: str
    title: str
    type: str
    owner: str | None
    due: datetime | None
    status: str
    link: str | None
    created_at: datetime
    closed_at: datetime | None

    def overdue(self, now: datetime) -> bool:
        return self.status == "open" and self.due is not None and self.due < now

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
