"""servers: inventory and fact snapshots

Revision ID: servers_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "servers_0001"
down_revision = None
branch_labels = ("servers",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "servers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("platform", sa.String(100), nullable=False),
        sa.Column("credential", sa.String(500), nullable=False),
        sa.Column("proxy_jump", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("name", name="uq_servers_name"),
    )
    op.create_table(
        "server_facts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id", ondelete="CASCADE",
                                                          name="fk_server_facts_server_id_servers"),
                  nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("os", sa.String(200), nullable=False),
        sa.Column("kernel", sa.String(200), nullable=False),
        sa.Column("uptime_s", sa.Float, nullable=True),
        sa.Column("load1", sa.Float, nullable=True),
        sa.Column("load5", sa.Float, nullable=True),
        sa.Column("load15", sa.Float, nullable=True),
        sa.Column("mem_total", sa.Float, nullable=True),
        sa.Column("mem_available", sa.Float, nullable=True),
        sa.Column("disks", sa.JSON, nullable=False),
        sa.Column("failed_units", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_index("ix_server_facts_server_id", "server_facts", ["server_id"])
    op.create_index("ix_server_facts_host", "server_facts", ["host"])
    op.create_index("ix_server_facts_taken_at", "server_facts", ["taken_at"])


def downgrade() -> None:
    op.drop_table("server_facts")
    op.drop_table("servers")
