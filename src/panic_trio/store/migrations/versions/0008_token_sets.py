"""Named token sets shared between users, and the set a network's runs use.

- ``token_set_members``: the accounts a set is shared with (they may choose it
  for their own networks; only its owner changes it);
- ``networks.token_set_id``: the set a network's runs use (null: its owner's
  first set, as before).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from panic_trio.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_set_members",
        sa.Column("token_set_id", sa.Integer, autoincrement=False),
        sa.Column("user_id", sa.Integer, autoincrement=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("token_set_id", "user_id", name="pk_token_set_members"),
        sa.ForeignKeyConstraint(
            ["token_set_id"],
            ["token_sets.id"],
            name="fk_token_set_members_token_set_id_token_sets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_token_set_members_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_token_set_members_user_id", "token_set_members", ["user_id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "networks",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.add_column(sa.Column("token_set_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_networks_token_set_id_token_sets",
            "token_sets",
            ["token_set_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_constraint("fk_networks_token_set_id_token_sets", type_="foreignkey")
        batch.drop_column("token_set_id")
    op.drop_index("ix_token_set_members_user_id", "token_set_members")
    op.drop_table("token_set_members")
