"""postmortems: action items remember the notebook table row they were last synced with

Revision ID: postmortems_0003
Revises: postmortems_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "postmortems_0003"
down_revision = "postmortems_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postmortem_action_items") as batch:
        batch.add_column(sa.Column("notebook_row", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("postmortem_action_items") as batch:
        batch.drop_column("notebook_row")
