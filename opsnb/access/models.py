"""Tables of the access domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime, utcnow

ROLES: tuple[str, ...] = ("viewer", "responder", "operator", "admin")
"""Roles in increasing order of power: each role may do what the ones before it may."""


class UserRole(Base):
    """The role granted to one user."""

    __tablename__ = "user_roles"

    user: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiToken(Base):
    """An API token: a user's credential for the HTTP API, capped by scopes. Only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class WebhookSender(Base):
    """A system that posts signed webhooks (Alertmanager, CI); its secret is a reference, never a value."""

    __tablename__ = "webhook_senders"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    secret_ref: Mapped[str] = mapped_column(String(500))
    scopes: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookDelivery(Base):
    """A delivery id a sender used, kept while its signature could still be replayed (5 minutes and a margin)."""

    __tablename__ = "webhook_deliveries"

    sender: Mapped[str] = mapped_column(String(100), primary_key=True)
    delivery: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
