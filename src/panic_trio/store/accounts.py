"""Sync queries for users, platform tokens and personal API keys.

Each function takes a connection inside an open transaction; the async
:class:`~panic_trio.store.store.Store` runs them in its thread seam.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from panic_trio.domain import User
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.store.schema import api_keys, platform_tokens, token_sets, users

DEFAULT_TOKEN_SET: Final = "Personal tokens"


def _user(row: Any) -> User:
    return User(id=row.id, email=row.email, admin=row.admin, session_version=row.session_version)


def insert_user(
    conn: Connection, email: str, password_hash: str, admin: bool, now: datetime
) -> User:
    """Create a user; emails are unique, compared case-insensitively."""
    exists = conn.execute(select(users.c.id).where(func.lower(users.c.email) == email.lower()))
    if exists.first() is not None:
        raise InvalidInput(f"a user with email {email} already exists", field="email")
    try:
        row = conn.execute(
            insert(users)
            .values(email=email, password_hash=password_hash, admin=admin, created_at=now)
            .returning(users)
        ).one()
    except IntegrityError:
        raise InvalidInput(f"a user with email {email} already exists", field="email") from None
    return _user(row)


def user_by_id(conn: Connection, user_id: int) -> User | None:
    """The user, or ``None``."""
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return None if row is None else _user(row)


def user_credentials(conn: Connection, email: str) -> tuple[User, str] | None:
    """The user with this email (any case) and their password hash."""
    row = conn.execute(select(users).where(func.lower(users.c.email) == email.lower())).first()
    return None if row is None else (_user(row), row.password_hash)


def end_sessions(conn: Connection, user_id: int, password_hash: str | None = None) -> User:
    """Bump the user's session version (every session ends), setting a new password if given."""
    values: dict[str, Any] = {"session_version": users.c.session_version + 1}
    if password_hash is not None:
        values["password_hash"] = password_hash
    row = conn.execute(
        update(users).where(users.c.id == user_id).values(**values).returning(users)
    ).first()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return _user(row)


def list_users(conn: Connection) -> list[User]:
    """Every user, oldest first."""
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.id))]


def set_admin(conn: Connection, user_id: int, admin: bool) -> User:
    """Grant or revoke admin rights; the last admin keeps theirs.

    The admins' rows are locked first (``FOR UPDATE`` on PostgreSQL; SQLite has
    one writer), so two admins demoting each other at once cannot leave none.
    """
    admins = conn.execute(select(users.c.id).where(users.c.admin).with_for_update()).scalars()
    if not admin and set(admins) <= {user_id}:
        raise InvalidInput(
            "the last admin cannot give up admin rights: make someone else an admin first",
            field="admin",
        )
    row = conn.execute(
        update(users).where(users.c.id == user_id).values(admin=admin).returning(users)
    ).first()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return _user(row)


def _default_token_set(conn: Connection, user_id: int, now: datetime) -> int:
    set_id = conn.execute(
        select(token_sets.c.id).where(token_sets.c.user_id == user_id).order_by(token_sets.c.id)
    ).scalar()
    if set_id is None:
        set_id = conn.execute(
            insert(token_sets)
            .values(user_id=user_id, name=DEFAULT_TOKEN_SET, created_at=now)
            .returning(token_sets.c.id)
        ).scalar_one()
    return int(set_id)


def store_platform_token(
    conn: Connection, user_id: int, name: str, ciphertext: bytes | None, now: datetime
) -> None:
    """Set (or with ``None`` remove) one encrypted token in the user's first token set."""
    set_id = _default_token_set(conn, user_id, now)
    where = (platform_tokens.c.token_set_id == set_id) & (platform_tokens.c.name == name)
    conn.execute(platform_tokens.delete().where(where))
    if ciphertext is not None:
        conn.execute(
            insert(platform_tokens).values(
                token_set_id=set_id, name=name, ciphertext=ciphertext, updated_at=now
            )
        )


def platform_token(conn: Connection, user_id: int, name: str) -> bytes | None:
    """The first stored ciphertext for ``name`` across the user's token sets."""
    row = conn.execute(
        select(platform_tokens.c.ciphertext)
        .join(token_sets, token_sets.c.id == platform_tokens.c.token_set_id)
        .where(token_sets.c.user_id == user_id, platform_tokens.c.name == name)
        .order_by(token_sets.c.id)
    ).first()
    return None if row is None else bytes(row.ciphertext)


def platform_tokens_of(conn: Connection, user_id: int) -> dict[str, bytes]:
    """Every token name the user has, with its ciphertext (first set wins)."""
    rows = conn.execute(
        select(platform_tokens.c.name, platform_tokens.c.ciphertext)
        .join(token_sets, token_sets.c.id == platform_tokens.c.token_set_id)
        .where(token_sets.c.user_id == user_id)
        .order_by(token_sets.c.id.desc())
    )
    return {r.name: bytes(r.ciphertext) for r in rows}


def insert_api_key(
    conn: Connection, user_id: int, name: str, prefix: str, key_hash: str, now: datetime
) -> int:
    """Record a new API key (only its hash); returns its id."""
    return int(
        conn.execute(
            insert(api_keys)
            .values(user_id=user_id, name=name, prefix=prefix, key_hash=key_hash, created_at=now)
            .returning(api_keys.c.id)
        ).scalar_one()
    )


def user_by_api_key(conn: Connection, key_hash: str, now: datetime) -> User | None:
    """The owner of the key with this hash (and note its use), or ``None``."""
    row = conn.execute(
        select(users, api_keys.c.id.label("key_id"))
        .join(api_keys, api_keys.c.user_id == users.c.id)
        .where(api_keys.c.key_hash == key_hash)
    ).first()
    if row is None:
        return None
    conn.execute(update(api_keys).where(api_keys.c.id == row.key_id).values(last_used_at=now))
    return _user(row)


def api_keys_of(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The user's API keys as shown on the dashboard (never the key itself)."""
    rows = conn.execute(
        select(
            api_keys.c.id,
            api_keys.c.name,
            api_keys.c.prefix,
            api_keys.c.created_at,
            api_keys.c.last_used_at,
        )
        .where(api_keys.c.user_id == user_id)
        .order_by(api_keys.c.id)
    )
    return [dict(r._mapping) for r in rows]


def delete_api_key(conn: Connection, user_id: int, key_id: int) -> bool:
    """Revoke one of the user's keys; ``False`` if it was not theirs."""
    result = conn.execute(
        api_keys.delete().where(api_keys.c.id == key_id, api_keys.c.user_id == user_id)
    )
    return result.rowcount > 0
