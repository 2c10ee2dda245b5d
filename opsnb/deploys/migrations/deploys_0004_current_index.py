"""deploys: index for "the current deploy of a service in an environment"

Revision ID: deploys_0004
Revises: deploys_0003

Every new deploy looks up the one it replaces (for ``previous_version`` and rollback
recognition); without this index that was a sort of every deploy of the service, so webhook
ingest slowed as history grew.
"""

from __future__ import annotations

from alembic import op

revision = "deploys_0004"
down_revision = "deploys_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deploys_service_env_started", "deploys", ["service", "env", "started_at"])
    op.create_index("ix_deploys_service_env_version", "deploys", ["service", "env", "version"])


def downgrade() -> None:
    op.drop_index("ix_deploys_service_env_version", "deploys")
    op.drop_index("ix_deploys_service_env_started", "deploys")
