"""alerts: alerts, raw receipts, groups, notifications, silences, inhibit and incident rules

Revision ID: alerts_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "alerts_0001"
down_revision = None
branch_labels = ("alerts",)
depends_on = None


def upgrade() -> None:
    ident = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "alert_receipts",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("received_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(255), nullable=False, unique=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("first_received_at", UTCDateTime(), nullable=False),
        sa.Column("last_received_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("receive_count", sa.Integer, nullable=False),
        sa.Column("generator_url", sa.Text, nullable=False),
        sa.Column("last_payload", sa.JSON, nullable=False),
        sa.Column("last_receipt_id", ident, nullable=False),
        sa.Column("group_key", sa.String(512), nullable=False, index=True),
        sa.Column("grouped", sa.Boolean, nullable=False),
        sa.Column("pending", sa.Boolean, nullable=False, index=True),
        sa.Column("incident_id", sa.String(40), nullable=True, index=True),
    )
    op.create_table(
        "alert_groups",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("state", sa.String(10), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_flush_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("flushed", sa.Boolean, nullable=False),
        sa.Column("notified", sa.Boolean, nullable=False),
        sa.Column("last_notified_at", UTCDateTime(), nullable=True),
        sa.Column("last_firing", sa.JSON, nullable=False),
        sa.Column("last_resolved", sa.JSON, nullable=False),
    )
    op.create_table(
        "alert_notifications",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False, index=True),
        sa.Column("group_key", sa.String(512), nullable=False, index=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("firing", sa.JSON, nullable=False),
        sa.Column("resolved", sa.JSON, nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("delivery", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("recurrence", sa.JSON, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("expired_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "alert_inhibit_rules",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("source_matchers", sa.JSON, nullable=False),
        sa.Column("target_matchers", sa.JSON, nullable=False),
        sa.Column("equal", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "alert_incident_rules",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("severity", sa.String(4), nullable=False),
        sa.Column("join_open", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    # Raw receipts are evidence: append-only in the database itself.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER alert_receipts_no_{verb.lower()} BEFORE {verb} ON alert_receipts "
                "BEGIN SELECT RAISE(ABORT, 'alert receipts are append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION alert_receipts_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'alert receipts are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER alert_receipts_append_only BEFORE UPDATE OR DELETE ON alert_receipts "
            "FOR EACH ROW EXECUTE FUNCTION alert_receipts_append_only()"
        )


def downgrade() -> None:
    for t in ("alert_incident_rules", "alert_inhibit_rules", "alert_silences", "alert_notifications",
              "alert_groups", "alerts", "alert_receipts"):
        op.drop_table(t)
