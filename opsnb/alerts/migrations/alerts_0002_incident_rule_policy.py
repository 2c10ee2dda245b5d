"""alerts: incident rules may name an escalation policy to page when they open an incident; alert_pages outbox

Revision ID: alerts_0002
Revises: alerts_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "alerts_0002"
down_revision = "alerts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ALTER TABLE ADD COLUMN on SQLite and PostgreSQL alike.
    op.add_column("alert_incident_rules", sa.Column("policy", sa.String(100), nullable=True))
    ident = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "alert_pages",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(40), nullable=False, index=True),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False, index=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("escalation_id", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_pages")
    with op.batch_alter_table("alert_incident_rules") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("policy")
