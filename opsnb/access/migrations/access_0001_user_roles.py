"""access: user roles

Revision ID: access_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "access_0001"
down_revision = None
branch_labels = ("access",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_roles",
        sa.Column("user", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_roles")
