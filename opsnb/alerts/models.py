"""Tables of the alerts domain.

``alerts`` holds one row per fingerprint (deduplication); ``alert_receipts`` every
payload exactly as received (stored before the sender gets its 202);
``alert_groups`` the notification state of each group (Alertmanager's
aggregation group plus its notification-log entry); ``alert_notifications`` what
the grouping engine decided to send; ``alert_pages`` the pages incident rules asked
for (an outbox: written with the incident, started after commit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsnb.store.db import Base
from opsnb.store.types import UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class AlertReceipt(Base):
    """One payload as received (raw text), kept before it is acknowledged."""

    __tablename__ = "alert_receipts"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(20))  # alertmanager | events | slo
    alerts: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)


class Alert(Base):
    """The current state of one alert (one fingerprint / dedup_key)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)  # firing | acknowledged | resolved
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    receive_count: Mapped[int] = mapped_column(Integer)
    generator_url: Mapped[str] = mapped_column(Text, default="")
    last_payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_receipt_id: Mapped[int] = mapped_column(_ID)
    group_key: Mapped[str] = mapped_column(String(512), index=True)
    grouped: Mapped[bool] = mapped_column(Boolean)  # still part of its group (AM drops resolved ones after a flush)
    pending: Mapped[bool] = mapped_column(Boolean, index=True)  # changed since tick() last looked
    incident_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)


class AlertGroup(Base):
    """One notification group and the log of what it last notified."""

    __tablename__ = "alert_groups"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), index=True)  # open | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_flush_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    flushed: Mapped[bool] = mapped_column(Boolean)
    notified: Mapped[bool] = mapped_column(Boolean)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_firing: Mapped[list[str]] = mapped_column(JSON)
    last_resolved: Mapped[list[str]] = mapped_column(JSON)


class AlertNotification(Base):
    """A notification the grouping engine sent (or recorded, without a channel)."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    group_key: Mapped[str] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(10))  # firing | resolved
    reason: Mapped[str] = mapped_column(String(20))  # new | changed | repeat | resolved
    firing: Mapped[list[str]] = mapped_column(JSON)
    resolved: Mapped[list[str]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(200), default="")
    delivery: Mapped[str] = mapped_column(String(20))  # recorded | sent | failed | unavailable
    error: Mapped[str] = mapped_column(Text, default="")


class Silence(Base):
    """A silence or (with ``recurrence``) a maintenance window: keeps alerts, holds notifications."""

    __tablename__ = "alert_silences"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # silence | maintenance
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InhibitRule(Base):
    """Mute target alerts while a matching source alert fires with the same ``equal`` labels."""

    __tablename__ = "alert_inhibit_rules"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    target_matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    equal: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentRule(Base):
    """Alerts matching ``matchers`` open an incident of ``severity`` (or join an open one).

    ``policy`` names an ``ops.oncall`` escalation policy: an incident the rule opens is paged under it.
    """

    __tablename__ = "alert_incident_rules"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(4))
    join_open: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    policy: Mapped[str | None] = mapped_column(String(100), nullable=True)  # oncall escalation policy to page


class AlertPage(Base):
    """A page an incident rule asked for when it opened an incident (written in that transaction).

    state: ``pending`` (not started yet; a tick that died after opening the incident leaves it
    so, and the next tick starts it) | ``started`` (``escalation_id`` set) | ``failed`` (``error``).
    """

    __tablename__ = "alert_pages"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    policy: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(10), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
