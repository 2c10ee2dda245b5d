"""runbooks: run owner, heartbeat and kernel, so a crashed owner's runs end honestly

Revision ID: runbooks_0003
Revises: runbooks_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "runbooks_0003"
down_revision = "runbooks_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add constrained columns in place; PostgreSQL alters directly.
    with op.batch_alter_table("runbook_runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("kernel", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("runbook_runs") as batch:
        for col in ("kernel", "heartbeat_at", "owner"):
            batch.drop_column(col)
