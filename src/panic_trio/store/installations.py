"""Sync queries for installations and their watchers.

The watchers of an installation are one JSON array, so every change of the
list (add, update, remove, reorder) is a read-modify-write inside one
transaction: two edits can never interleave and lose one another. The store
keeps them as JSON; the installations part owns what they mean (its
``Installation`` and ``Watcher`` values are built from these rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from panic_trio.domain import Invocation
from panic_trio.errors import NotFound
from panic_trio.store.invocations import invocation_from_row
from panic_trio.store.schema import installations as _T
from panic_trio.store.schema import invocations, networks

WatchersJson = list[dict[str, Any]]
WatcherEdit = Callable[[WatchersJson], WatchersJson]
InstallationRow = Row[Any]


def _network_exists(conn: Connection, network_id: int) -> None:
    found = conn.execute(select(networks.c.id).where(networks.c.id == network_id)).first()
    if found is None:
        raise NotFound(f"no network with id {network_id}")


def insert_installation(
    conn: Connection, network_id: int, name: str, watchers: WatchersJson, now: datetime
) -> InstallationRow:
    """Create an installation (name and watchers checked by the caller)."""
    _network_exists(conn, network_id)
    return conn.execute(
        insert(_T)
        .values(
            network_id=network_id,
            name=name,
            watchers=watchers,
            created_at=now,
            updated_at=now,
        )
        .returning(_T)
    ).one()


def installation_by_id(conn: Connection, installation_id: int) -> InstallationRow:
    """The installation's row, or :class:`NotFound`."""
    row = conn.execute(select(_T).where(_T.c.id == installation_id)).first()
    if row is None:
        raise NotFound(f"no installation with id {installation_id}")
    return row


def list_installations(
    conn: Connection, *, owner_id: int | None = None, network_id: int | None = None
) -> list[InstallationRow]:
    """Installations of one owner's networks and/or of one network, oldest first."""
    query = select(_T).order_by(_T.c.id)
    if owner_id is not None:
        query = query.join(networks, networks.c.id == _T.c.network_id).where(
            networks.c.owner_id == owner_id
        )
    if network_id is not None:
        query = query.where(_T.c.network_id == network_id)
    return list(conn.execute(query))


def update_installation(
    conn: Connection, installation_id: int, fields: Mapping[str, Any], now: datetime
) -> InstallationRow:
    """Change ``name`` and/or ``network_id`` (checked by the caller)."""
    if "network_id" in fields:
        _network_exists(conn, fields["network_id"])
    row = conn.execute(
        update(_T)
        .where(_T.c.id == installation_id)
        .values(**dict(fields), updated_at=now)
        .returning(_T)
    ).first()
    if row is None:
        raise NotFound(f"no installation with id {installation_id}")
    return row


def edit_watchers(
    conn: Connection, installation_id: int, edit: WatcherEdit, now: datetime
) -> InstallationRow:
    """Replace the watchers with ``edit(current watchers)``, in one transaction.

    ``edit`` may raise (for example ``InvalidWatcher``); then nothing changes.
    """
    current = installation_by_id(conn, installation_id)
    watchers = edit([dict(w) for w in current.watchers])
    return conn.execute(
        update(_T)
        .where(_T.c.id == installation_id)
        .values(watchers=watchers, updated_at=now)
        .returning(_T)
    ).one()


def delete_installation(conn: Connection, installation_id: int) -> None:
    """Delete an installation, or :class:`NotFound`."""
    result = conn.execute(delete(_T).where(_T.c.id == installation_id))
    if result.rowcount == 0:
        raise NotFound(f"no installation with id {installation_id}")


def vestaboard_watchers(conn: Connection, network_id: int) -> WatchersJson:
    """Every vestaboard watcher of the network's installations (JSON), in installation order."""
    rows = conn.execute(
        select(_T.c.watchers).where(_T.c.network_id == network_id).order_by(_T.c.id)
    )
    return [w for (watchers,) in rows for w in watchers if w.get("type") == "vestaboard"]


def record_board_results(
    conn: Connection, invocation_id: int, results: Mapping[str, str], now: datetime
) -> Invocation | None:
    """Merge ``{board: result}`` into ``metadata.vestaboard`` (``None`` if the row is gone)."""
    row = conn.execute(select(invocations).where(invocations.c.id == invocation_id)).first()
    if row is None:
        return None
    metadata = dict(row.metadata)
    metadata["vestaboard"] = {**metadata.get("vestaboard", {}), **results}
    updated = conn.execute(
        update(invocations)
        .where(invocations.c.id == invocation_id)
        .values(metadata=metadata, updated_at=now)
        .returning(invocations)
    ).one()
    return invocation_from_row(updated)
