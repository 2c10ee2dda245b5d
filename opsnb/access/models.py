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
