"""notify: channels, deliveries, attempts

Revision ID: notify_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "notify_0001"
down_revision = None
branch_labels = ("notify",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_channels",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("secret_ref", sa.String(500), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "notify_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("channel", sa.String(100), nullable=False, index=True),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("target_key", sa.String(300), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("channel", "target_key", "dedup_key", name="uq_notify_deliveries_dedup"),
    )
    op.create_index("ix_notify_deliveries_status_next", "notify_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "notify_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("notify_deliveries.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notify_attempts")
    op.drop_table("notify_deliveries")
    op.drop_table("notify_channels")
