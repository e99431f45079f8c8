"""Sync queries for networks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from panic_trio.domain import Network
from panic_trio.errors import NotFound
from panic_trio.store.schema import invocations, networks


def network_from_row(row: Any) -> Network:
    """A :class:`Network` from a ``networks`` row."""
    return Network(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        description=row.description,
        models=tuple(row.models),
        lockout_seconds=row.lockout_seconds,
        daily_cap=row.daily_cap,
        run_cap=row.run_cap,
        created_at=row.created_at,
        token_generation=row.token_generation,
        qr_mode="printed" if row.qr_mode == "printed" else "screen",
        sign_generation=row.sign_generation,
    )


def insert_network(
    conn: Connection,
    owner_id: int,
    name: str,
    description: str,
    models: list[str],
    lockout_seconds: int,
    now: datetime,
    caps: dict[str, float | None] | None = None,
) -> Network:
    """Create a network (already validated by the caller)."""
    row = conn.execute(
        insert(networks)
        .values(
            owner_id=owner_id,
            name=name,
            description=description,
            models=models,
            lockout_seconds=lockout_seconds,
            **(caps or {}),
            created_at=now,
            updated_at=now,
        )
        .returning(networks)
    ).one()
    return network_from_row(row)


_BY_ID: Final = select(networks).where(networks.c.id == bindparam("network"))  # built once


def network_by_id(conn: Connection, network_id: int) -> Network:
    """The network, or :class:`NotFound` (read at every start: its statement is built once)."""
    row = conn.execute(_BY_ID, {"network": network_id}).first()
    if row is None:
        raise NotFound(f"no network with id {network_id}")
    return network_from_row(row)


def list_networks(conn: Connection, owner_id: int | None) -> list[Network]:
    """Networks of one owner (or all, for admins), oldest first."""
    query = select(networks).order_by(networks.c.id)
    if owner_id is not None:
        query = query.where(networks.c.owner_id == owner_id)
    return [network_from_row(r) for r in conn.execute(query)]


def update_network(
    conn: Connection, network_id: int, fields: dict[str, Any], now: datetime
) -> Network:
    """Change some fields (already validated); returns the network as saved."""
    row = conn.execute(
        update(networks)
        .where(networks.c.id == network_id)
        .values(**fields, updated_at=now)
        .returning(networks)
    ).first()
    if row is None:
        raise NotFound(f"no network with id {network_id}")
    return network_from_row(row)


def delete_network(conn: Connection, network_id: int) -> None:
    """Delete a network and all its invocations."""
    conn.execute(delete(invocations).where(invocations.c.network_id == network_id))
    result = conn.execute(delete(networks).where(networks.c.id == network_id))
    if result.rowcount == 0:
        raise NotFound(f"no network with id {network_id}")


def bump_token_generation(conn: Connection, network_id: int) -> Network:
    """Revoke every terminal token of a network issued so far."""
    row = conn.execute(
        update(networks)
        .where(networks.c.id == network_id)
        .values(token_generation=networks.c.token_generation + 1)
        .returning(networks)
    ).first()
    if row is None:
        raise NotFound(f"no network with id {network_id}")
    return network_from_row(row)


def set_qr_mode(conn: Connection, network_id: int, mode: str, *, rotate: bool) -> Network:
    """Set how the network's QR is shown; ``rotate`` gives its lasting link a new generation.

    Leaving ``printed`` always bumps the generation, so a printed sign that
    was revoked never works again, even if printing is chosen once more.
    """
    current = conn.execute(select(networks).where(networks.c.id == network_id)).first()
    if current is None:
        raise NotFound(f"no network with id {network_id}")
    bump = rotate or (current.qr_mode == "printed" and mode != "printed")
    row = conn.execute(
        update(networks)
        .where(networks.c.id == network_id)
        .values(
            qr_mode=mode,
            sign_generation=networks.c.sign_generation + (1 if bump else 0),
        )
        .returning(networks)
    ).one()
    return network_from_row(row)
