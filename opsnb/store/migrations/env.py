"""Alembic environment: runs on the connection opsnb hands it (never from a URL in an ini)."""

from __future__ import annotations

from alembic import context

from opsnb.store.db import import_models

target_metadata = import_models()
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for `alembic revision --autogenerate` by developers
    raise SystemExit("run migrations through opsnb.store.db.Database.upgrade()")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
