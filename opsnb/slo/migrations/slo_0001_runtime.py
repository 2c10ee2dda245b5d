"""slo: exclusions, budget-policy steps taken, alert tier state

Revision ID: slo_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "slo_0001"
down_revision = None
branch_labels = ("slo",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slo_exclusions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("slo", sa.String(200), nullable=False, index=True),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("every", sa.String(10), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "slo_budget_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("slo", sa.String(200), nullable=False, index=True),
        sa.Column("policy", sa.String(200), nullable=False),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("action", sa.JSON, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "slo_tier_state",
        sa.Column("slo", sa.String(200), primary_key=True),
        sa.Column("tier", sa.String(200), primary_key=True),
        sa.Column("firing", sa.Boolean, nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slo_tier_state")
    op.drop_table("slo_budget_steps")
    op.drop_table("slo_exclusions")
