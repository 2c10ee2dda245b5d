"""oncall: people, schedules, overrides, escalation policies, escalations and timers

Revision ID: oncall_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "oncall_0001"
down_revision = None
branch_labels = ("oncall",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_people",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("contacts", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "oncall_schedules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("layers", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule_id", sa.Integer, sa.ForeignKey("oncall_schedules.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_oncall_overrides_schedule_end", "oncall_overrides", ["schedule_id", "end"])
    op.create_table(
        "oncall_policies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "oncall_escalations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(100), nullable=False, index=True),
        sa.Column("policy_id", sa.Integer, sa.ForeignKey("oncall_policies.id"), nullable=False),
        sa.Column("policy_name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("acked_at", UTCDateTime(), nullable=True),
        sa.Column("acked_by", sa.String(200), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "oncall_timers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("escalation_id", sa.Integer, sa.ForeignKey("oncall_escalations.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=True),
        sa.Column("result", sa.JSON, nullable=False),
    )
    op.create_index("ix_oncall_timers_status_due", "oncall_timers", ["status", "due_at"])


def downgrade() -> None:
    for t in ("oncall_timers", "oncall_escalations", "oncall_policies", "oncall_overrides", "oncall_schedules",
              "oncall_people"):
        op.drop_table(t)
