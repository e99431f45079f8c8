"""Users, token sets, API keys, networks and invocations.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from panic_trio.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "token_sets",
        sa.Column("id", sa.Integer),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_token_sets"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_token_sets_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_token_sets_user_id", "token_sets", ["user_id"])
    op.create_table(
        "platform_tokens",
        sa.Column("id", sa.Integer),
        sa.Column("token_set_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_platform_tokens"),
        sa.ForeignKeyConstraint(
            ["token_set_id"],
            ["token_sets.id"],
            name="fk_platform_tokens_token_set_id_token_sets",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("token_set_id", "name", name="uq_platform_tokens_token_set_id_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_keys_user_id_users", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "networks",
        sa.Column("id", sa.Integer),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("lockout_seconds", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_networks"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_networks_owner_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_networks_owner_id", "networks", ["owner_id"])
    op.create_table(
        "invocations",
        sa.Column("id", sa.Integer),
        sa.Column("network_id", sa.Integer, nullable=False),
        sa.Column("run_number", sa.Integer, nullable=True),
        sa.Column("sequence_number", sa.Integer, nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("inserted_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invocations"),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="fk_invocations_network_id_networks",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "network_id", "run_number", "sequence_number", name="uq_invocations_in_run"
        ),
    )
    op.create_index("ix_invocations_active", "invocations", ["state"])


def downgrade() -> None:
    op.drop_table("invocations")
    op.drop_table("networks")
    op.drop_table("api_keys")
    op.drop_table("platform_tokens")
    op.drop_table("token_sets")
    op.drop_table("users")
