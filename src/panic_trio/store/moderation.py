"""Sync queries for moderation: blocked patterns, the prompt log, hidden outputs.

Each function takes a connection inside an open transaction; the async
:class:`~panic_trio.store.store.Store` runs them in its thread seam.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from panic_trio.domain import Invocation
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.store.invocations import invocation_from_row
from panic_trio.store.schema import invocations, prompt_blocks, prompt_log

LOG_KEPT: Final = 5000  # prompts kept per network; older ones are pruned as new ones come
_PRUNE_EVERY: Final = 100


def patterns_of(conn: Connection, network_id: int) -> list[dict[str, Any]]:
    """The network's blocked patterns, oldest first: ``id``, ``pattern``, ``created_at``."""
    rows = conn.execute(
        select(prompt_blocks.c.id, prompt_blocks.c.pattern, prompt_blocks.c.created_at)
        .where(prompt_blocks.c.network_id == network_id)
        .order_by(prompt_blocks.c.id)
    )
    return [dict(r._mapping) for r in rows]


def add_pattern(conn: Connection, network_id: int, pattern: str, limit: int, now: datetime) -> int:
    """Block ``pattern`` (checked by the caller); refused when known or past ``limit``."""
    known = conn.execute(
        select(prompt_blocks.c.pattern).where(prompt_blocks.c.network_id == network_id)
    ).scalars()
    patterns = set(known)
    if pattern in patterns:
        raise InvalidInput(f"“{pattern}” is already blocked", field="pattern")
    if len(patterns) >= limit:
        raise InvalidInput(f"a network blocks at most {limit} patterns", field="pattern")
    return int(
        conn.execute(
            insert(prompt_blocks)
            .values(network_id=network_id, pattern=pattern, created_at=now)
            .returning(prompt_blocks.c.id)
        ).scalar_one()
    )


def remove_pattern(conn: Connection, network_id: int, block_id: int) -> bool:
    """Unblock one of the network's patterns; ``False`` if it was not there."""
    result = conn.execute(
        prompt_blocks.delete().where(
            prompt_blocks.c.id == block_id, prompt_blocks.c.network_id == network_id
        )
    )
    return result.rowcount > 0


def log_prompt(conn: Connection, entry: dict[str, Any], now: datetime) -> None:
    """Record one prompt; every hundredth write prunes the network's log to the newest kept."""
    new_id = conn.execute(
        insert(prompt_log).values(**entry, created_at=now).returning(prompt_log.c.id)
    ).scalar_one()
    if new_id % _PRUNE_EVERY:
        return
    network_id = entry["network_id"]
    oldest_kept = conn.execute(
        select(prompt_log.c.id)
        .where(prompt_log.c.network_id == network_id)
        .order_by(prompt_log.c.id.desc())
        .offset(LOG_KEPT - 1)
        .limit(1)
    ).scalar()
    if oldest_kept is not None:
        conn.execute(
            prompt_log.delete().where(
                prompt_log.c.network_id == network_id, prompt_log.c.id < oldest_kept
            )
        )


def prompts_of(
    conn: Connection, network_id: int, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """A page of the network's prompt log, newest first (keyset: ids below ``before``)."""
    query = select(prompt_log).where(prompt_log.c.network_id == network_id)
    if before is not None:
        query = query.where(prompt_log.c.id < before)
    rows = conn.execute(query.order_by(prompt_log.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def set_hidden(conn: Connection, invocation_id: int, hidden_at: datetime | None) -> Invocation:
    """Hide (``hidden_at``) or show again an output; the row and the output stay."""
    row = conn.execute(
        update(invocations)
        .where(invocations.c.id == invocation_id)
        .values(hidden_at=hidden_at)
        .returning(invocations)
    ).first()
    if row is None:
        raise NotFound(f"no invocation with id {invocation_id}")
    return invocation_from_row(row)


def all_hidden(conn: Connection) -> list[Invocation]:
    """Every hidden output (an index range scan: hidden ones are few)."""
    rows = conn.execute(select(invocations).where(invocations.c.hidden_at.is_not(None)))
    return [invocation_from_row(r) for r in rows]


def hidden_of(conn: Connection, network_id: int, limit: int) -> list[Invocation]:
    """The network's hidden outputs, most recently hidden first."""
    rows = conn.execute(
        select(invocations)
        .where(invocations.c.network_id == network_id, invocations.c.hidden_at.is_not(None))
        .order_by(invocations.c.hidden_at.desc(), invocations.c.id.desc())
        .limit(limit)
    )
    return [invocation_from_row(r) for r in rows]
