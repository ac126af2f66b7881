"""Alembic environment: migrations run on a connection that `migrate.upgrade` hands in."""

from __future__ import annotations

from alembic import context

from workflow_core.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
