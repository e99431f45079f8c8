"""Ids never reused, session versions and terminal-token generations.

SQLite reuses the id of a deleted row unless the table is AUTOINCREMENT, so a
deleted network's id went to the next network made, and its stale QR tokens,
sockets and display links with it. Adding AUTOINCREMENT means rebuilding each
table (batch mode copies the rows, then swaps). PostgreSQL's sequences never
reuse ids, so there only the new columns are added:

- ``users.session_version``: bumped to end every session of a user;
- ``networks.token_generation``: bumped to revoke a network's terminal tokens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Parents before children does not matter here: the store turns foreign keys
# off around migrations on SQLite (a DROP TABLE would otherwise cascade).
TABLES = (
    "users",
    "token_sets",
    "platform_tokens",
    "api_keys",
    "networks",
    "invocations",
    "installations",
)
NEW_COLUMNS = {"users": "session_version", "networks": "token_generation"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        with op.batch_alter_table(
            table,
            recreate="always" if sqlite else "auto",
            table_kwargs={"sqlite_autoincrement": True},
        ) as batch:
            if table in NEW_COLUMNS:
                batch.add_column(
                    sa.Column(NEW_COLUMNS[table], sa.Integer, nullable=False, server_default="0")
                )


def downgrade() -> None:
    for table, column in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
