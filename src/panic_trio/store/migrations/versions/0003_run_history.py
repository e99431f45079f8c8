"""Run history: an index over each network's geneses, ended runs' totals, public run shares.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from panic_trio.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_invocations_run_history",
        "invocations",
        ["network_id", "sequence_number", "run_number"],
    )
    op.create_table(
        "run_shares",
        sa.Column("run_number", sa.Integer, autoincrement=False),
        sa.Column("network_id", sa.Integer, nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("run_number", name="pk_run_shares"),
        sa.ForeignKeyConstraint(
            ["run_number"],
            ["invocations.id"],
            name="fk_run_shares_run_number_invocations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="fk_run_shares_network_id_networks",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "run_totals",
        sa.Column("run_number", sa.Integer, autoincrement=False),
        sa.Column("network_id", sa.Integer, nullable=False),
        sa.Column("completed", sa.Integer, nullable=False),
        sa.Column("costed", sa.Integer, nullable=False),
        sa.Column("cost_total", sa.Float, nullable=True),
        sa.Column("last_sequence", sa.Integer, nullable=False),
        sa.Column("last_state", sa.String(16), nullable=False),
        sa.Column("last_metadata", sa.JSON, nullable=False),
        sa.Column("last_updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("run_number", name="pk_run_totals"),
        sa.ForeignKeyConstraint(
            ["run_number"],
            ["invocations.id"],
            name="fk_run_totals_run_number_invocations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="fk_run_totals_network_id_networks",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("run_totals")
    op.drop_table("run_shares")
    op.drop_index("ix_invocations_run_history", table_name="invocations")
