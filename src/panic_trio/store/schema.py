"""The database schema as SQLAlchemy Core tables.

Tables with their own ids are AUTOINCREMENT on SQLite (migration 0005): an id, once used,
never names another row, so a stale link or token cannot reach a stranger's.

Core, not the ORM: every write returns what it wrote (``RETURNING``), so the
engine never re-reads a row it just changed. Alembic migrations in
``migrations/versions`` create exactly these tables; a test checks they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite keeps no zone, so naive values read back are known to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware datetimes as UTC; refuse naive ones (their zone is unknown)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use panic_trio.domain.utc_now()")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC, whatever the backend kept."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("admin", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Bumped to end every session of this user at once (migration 0005).
    Column("session_version", Integer, nullable=False, default=0, server_default="0"),
    sqlite_autoincrement=True,
)

token_sets = Table(
    "token_sets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "user_id"),
    sqlite_autoincrement=True,
)

# Who else may use a token set (migration 0008): its members choose it for
# their own networks; only the set's owner (token_sets.user_id) changes it.
token_set_members = Table(
    "token_set_members",
    metadata,
    Column(
        "token_set_id",
        Integer,
        ForeignKey("token_sets.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column(
        "user_id",
        Integer,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "user_id"),
)

platform_tokens = Table(
    "platform_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "token_set_id", Integer, ForeignKey("token_sets.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(40), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("token_set_id", "name"),
    sqlite_autoincrement=True,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Index(None, "user_id"),
    sqlite_autoincrement=True,
)

networks = Table(
    "networks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("models", JSON, nullable=False),
    Column("lockout_seconds", Integer, nullable=False, default=30),
    Column("daily_cap", Float, nullable=True),  # USD per day (migration 0004)
    Column("run_cap", Float, nullable=True),  # USD per run
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Bumped to revoke every terminal token of this network (migration 0005).
    Column("token_generation", Integer, nullable=False, default=0, server_default="0"),
    # How its QR is shown, and the lasting (printed) link's generation (migration 0006).
    Column("qr_mode", String(16), nullable=False, default="screen", server_default="screen"),
    Column("sign_generation", Integer, nullable=False, default=0, server_default="0"),
    # The token set this network's runs use (migration 0008; null: the owner's first set).
    Column(
        "token_set_id", Integer, ForeignKey("token_sets.id", ondelete="SET NULL"), nullable=True
    ),
    Index(None, "owner_id"),
    sqlite_autoincrement=True,
)

invocations = Table(
    "invocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("network_id", Integer, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
    Column("run_number", Integer, nullable=True),
    Column("sequence_number", Integer, nullable=False),
    Column("model", String(100), nullable=False),
    Column("input", Text, nullable=False),
    Column("output", Text, nullable=True),
    Column("state", String(16), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("inserted_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Migration 0004: metadata.cost.amount (USD) and when it was spent, for
    # index-served sums (caps, burn rates); see docs/architecture.md.
    Column("cost", Float, nullable=True),
    Column("cost_at", UTCDateTime, nullable=True),
    # Migration 0006: when an operator hid this output from every screen (the row stays).
    Column("hidden_at", UTCDateTime, nullable=True),
    # Also the index behind "latest run of a network": (network_id, max run_number).
    UniqueConstraint("network_id", "run_number", "sequence_number", name="uq_invocations_in_run"),
    Index("ix_invocations_active", "state"),
    # Run history (migration 0003): a network's geneses by run number, so a
    # page of runs reads about as many index entries as it shows.
    Index("ix_invocations_run_history", "network_id", "sequence_number", "run_number"),
    Index("ix_invocations_spend", "network_id", "cost_at"),
    Index("ix_invocations_cost_at", "cost_at"),
    Index("ix_invocations_hidden_at", "hidden_at"),
    sqlite_autoincrement=True,
)

# Run shares (migration 0003): a run the owner made public. The link carries
# the nonce signed with the server's key; revoking deletes the row, and the
# row goes with its run (and so with its network).
run_shares = Table(
    "run_shares",
    metadata,
    Column(
        "run_number",
        Integer,
        ForeignKey("invocations.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("network_id", Integer, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Run totals (migration 0003): what the history shows of a run that has
# ended, kept once it is first listed. An ended run never changes, so this
# cannot go stale, and a page of long runs no longer reads every step.
run_totals = Table(
    "run_totals",
    metadata,
    Column(
        "run_number",
        Integer,
        ForeignKey("invocations.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("network_id", Integer, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
    Column("completed", Integer, nullable=False),
    Column("costed", Integer, nullable=False),
    Column("cost_total", Float, nullable=True),
    Column("last_sequence", Integer, nullable=False),
    Column("last_state", String(16), nullable=False),
    Column("last_metadata", JSON, nullable=False),
    Column("last_updated_at", UTCDateTime, nullable=False),
)

# Installations (migration 0002): a named, ordered list of watchers for one
# network. The watchers are a JSON array of the fields of
# ``panic_trio.watchers.Watcher``, validated before every write.
installations = Table(
    "installations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("network_id", Integer, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("watchers", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "network_id"),
    sqlite_autoincrement=True,
)

# Moderation (migration 0007): words and patterns no prompt to a network may
# contain (checked before a run starts), and the log of prompts sent to it
# with where each came from (the terminal token's id, never the token).
prompt_blocks = Table(
    "prompt_blocks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("network_id", Integer, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
    Column("pattern", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("network_id", "pattern"),
    sqlite_autoincrement=True,
)

prompt_log = Table(
    "prompt_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("network_id", Integer, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("source", String(20), nullable=False),
    Column("token", String(64), nullable=True),
    Column("client", String(100), nullable=True),
    Column("outcome", String(20), nullable=False),
    Column("run_number", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "network_id", "id"),
    sqlite_autoincrement=True,
)

# Runner leases (migration 0009): which process runs a network when several
# share one PostgreSQL. ``epoch`` is the fencing token: bumped at every change
# of owner, checked by every write of a run (see docs/architecture.md).
runner_leases = Table(
    "runner_leases",
    metadata,
    Column(
        "network_id",
        Integer,
        ForeignKey("networks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("owner", String(200), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
