"""Alembic environment: runs on the connection the store hands over.

``sqlalchemy.url`` is never hard-coded: ``panic_trio.store.migrate`` passes a
live connection in ``config.attributes["connection"]``.
"""

from alembic import context

from panic_trio.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `panic-trio db upgrade`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
