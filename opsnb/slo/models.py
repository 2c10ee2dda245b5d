"""Tables of the SLO domain: exclusions (maintenance windows), budget-policy steps taken, tier state.

SLO definitions themselves live in OpenSLO YAML files (the source of truth an SRE
reviews in git); only what happens at run time is stored here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime


class Exclusion(Base):
    """A maintenance window left out of an SLO's budget; ``every`` day/week makes it recur."""

    __tablename__ = "slo_exclusions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slo: Mapped[str] = mapped_column(String(200), index=True)  # an SLO name, or "*" for every SLO
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    every: Mapped[str] = mapped_column(String(10), default="")  # "" | day | week
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # recurrences keep local wall time
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetStepTaken(Base):
    """One error-budget-policy step taken for an SLO; ``cleared_at`` is set when its condition clears."""

    __tablename__ = "slo_budget_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slo: Mapped[str] = mapped_column(String(200), index=True)
    policy: Mapped[str] = mapped_column(String(200))
    step: Mapped[str] = mapped_column(String(200))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[float] = mapped_column()
    action: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[str] = mapped_column(Text, default="")
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TierState(Base):
    """Whether an SLO's alert tier was firing at the last evaluation (to send trigger/resolve once)."""

    __tablename__ = "slo_tier_state"

    slo: Mapped[str] = mapped_column(String(200), primary_key=True)
    tier: Mapped[str] = mapped_column(String(200), primary_key=True)
    firing: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
