"""Spending: each invocation's cost as a column, and per-network spending caps.

``invocations.cost`` repeats ``metadata.cost.amount`` (USD, null when
unknown) and ``cost_at`` is when it was spent (completion), so the sums the
caps and burn rates need are index range scans, not JSON reads: one index
serves "this network since midnight", the other "every network since
midnight". ``networks.daily_cap`` and ``run_cap`` are USD limits (null: none).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from panic_trio.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invocations", sa.Column("cost", sa.Float, nullable=True))
    op.add_column("invocations", sa.Column("cost_at", UTCDateTime, nullable=True))
    op.create_index("ix_invocations_spend", "invocations", ["network_id", "cost_at"])
    op.create_index("ix_invocations_cost_at", "invocations", ["cost_at"])
    op.add_column("networks", sa.Column("daily_cap", sa.Float, nullable=True))
    op.add_column("networks", sa.Column("run_cap", sa.Float, nullable=True))


def downgrade() -> None:
    op.drop_index("ix_invocations_cost_at", "invocations")
    op.drop_index("ix_invocations_spend", "invocations")
    with op.batch_alter_table("invocations") as batch:
        batch.drop_column("cost_at")
        batch.drop_column("cost")
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("run_cap")
        batch.drop_column("daily_cap")
