"""Invocations read in bulk: every active row (recovery, adoption), rows by id (the backplane)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from panic_trio.domain import ACTIVE_STATES, Invocation
from panic_trio.store.invocations import invocation_from_row
from panic_trio.store.schema import invocations as _T


def active_rows(conn: Connection, network_id: int | None = None) -> list[Invocation]:
    """Every ``ready`` or ``invoking`` row (of one network, or of all), oldest first."""
    query = select(_T).where(_T.c.state.in_(ACTIVE_STATES))
    if network_id is not None:
        query = query.where(_T.c.network_id == network_id)
    return [invocation_from_row(r) for r in conn.execute(query.order_by(_T.c.id))]


def by_ids(conn: Connection, ids: Sequence[int]) -> dict[int, Invocation]:
    """Some invocations by id, in one query (rows that are gone are left out)."""
    if not ids:
        return {}
    rows = conn.execute(select(_T).where(_T.c.id.in_(list(ids))))
    return {row.id: invocation_from_row(row) for row in rows}
