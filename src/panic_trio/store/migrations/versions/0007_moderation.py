"""Moderation: hidden outputs, prompt blocklists and the prompt log.

- ``invocations.hidden_at``: when an operator hid the output from every
  screen; the row and its output stay (the owner's JSON API still has them).
- ``prompt_blocks``: a network's blocked words and patterns.
- ``prompt_log``: every prompt sent through the web, with its source (the
  terminal token's id for visitors), the client address and what became of it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from panic_trio.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invocations", sa.Column("hidden_at", UTCDateTime, nullable=True))
    op.create_index("ix_invocations_hidden_at", "invocations", ["hidden_at"])
    op.create_table(
        "prompt_blocks",
        sa.Column("id", sa.Integer),
        sa.Column("network_id", sa.Integer, nullable=False),
        sa.Column("pattern", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prompt_blocks"),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="fk_prompt_blocks_network_id_networks",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("network_id", "pattern", name="uq_prompt_blocks_network_id_pattern"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "prompt_log",
        sa.Column("id", sa.Integer),
        sa.Column("network_id", sa.Integer, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("token", sa.String(64), nullable=True),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("run_number", sa.Integer, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prompt_log"),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="fk_prompt_log_network_id_networks",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_prompt_log_network_id_id", "prompt_log", ["network_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_prompt_log_network_id_id", "prompt_log")
    op.drop_table("prompt_log")
    op.drop_table("prompt_blocks")
    op.drop_index("ix_invocations_hidden_at", "invocations")
    with op.batch_alter_table("invocations") as batch:
        batch.drop_column("hidden_at")
