"""Installations: named, ordered watchers (screens and boards) of a network.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from panic_trio.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("id", sa.Integer),
        sa.Column("network_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("watchers", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_installations"),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="fk_installations_network_id_networks",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_installations_network_id", "installations", ["network_id"])


def downgrade() -> None:
    op.drop_table("installations")
