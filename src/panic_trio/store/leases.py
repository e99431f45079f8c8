"""Runner leases on PostgreSQL: which process runs a network, and the fencing check.

A lease is a ``runner_leases`` row ``(network_id, owner, epoch, expires_at)``.
Taking a network bumps ``epoch`` (the fencing token); its owner renews
``expires_at`` while it lives; every write of a run locks the row for share
and checks that the epoch is still the writer's, in the same transaction, so
a takeover (which updates the row) and a late write are ordered by the row
lock and the late write is refused. Expiry uses the database's clock, so the
processes' clocks never need to agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, select, text, tuple_, update

from panic_trio.domain import Fence
from panic_trio.errors import LeaseLost
from panic_trio.store.schema import runner_leases

T = TypeVar("T")
_L = runner_leases


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a network's lease, and until when (the database's clock)."""

    owner: str
    expires_at: datetime
    seconds_left: float


def fenced(conn: Connection, fence: Fence | None, fn: Callable[..., T], *args: Any) -> T:
    """Run the write ``fn(conn, *args)`` only if ``fence`` is still the network's epoch.

    ``None`` (one process, SQLite) writes unchecked.

    Raises:
        LeaseLost: another process took the network; nothing was written.
    """
    if fence is not None:
        held = conn.execute(
            select(_L.c.epoch)
            .where(_L.c.network_id == fence.network_id, _L.c.epoch == fence.epoch)
            .with_for_update(read=True)
        ).first()
        if held is None:
            raise LeaseLost(
                f"network {fence.network_id}: another process runs it now "
                f"(lease epoch {fence.epoch} is over); nothing was written"
            )
    return fn(conn, *args)


_TAKE = text(
    """
    INSERT INTO runner_leases (network_id, owner, epoch, expires_at)
    VALUES (:network, :owner, 1, now() + make_interval(secs => :seconds))
    ON CONFLICT (network_id) DO UPDATE
       SET owner = EXCLUDED.owner, epoch = runner_leases.epoch + 1,
           expires_at = EXCLUDED.expires_at
     WHERE runner_leases.expires_at <= now()
    RETURNING epoch
    """
)
_HOLDER = text(
    """
    SELECT owner, expires_at, extract(epoch FROM expires_at - now()) AS left_
      FROM runner_leases WHERE network_id = :network
    """
)


def take(conn: Connection, network_id: int, owner: str, seconds: float) -> Fence | Holder:
    """Take the network if its lease is free or expired; else say who holds it."""
    epoch = conn.execute(
        _TAKE, {"network": network_id, "owner": owner, "seconds": seconds}
    ).scalar()
    if epoch is not None:
        return Fence(network_id, int(epoch))
    row = conn.execute(_HOLDER, {"network": network_id}).one()
    return Holder(row.owner, row.expires_at, max(0.0, float(row.left_)))


def holder(conn: Connection, network_id: int) -> Holder | None:
    """Who holds the network's lease now (``None``: nobody, or it expired)."""
    row = conn.execute(_HOLDER, {"network": network_id}).first()
    if row is None or float(row.left_) <= 0:
        return None
    return Holder(row.owner, row.expires_at, float(row.left_))


def renew(conn: Connection, owner: str, held: Iterable[Fence], seconds: float) -> set[int]:
    """Extend the leases still ours (same epoch); returns their networks."""
    pairs = [(f.network_id, f.epoch) for f in held]
    if not pairs:
        return set()
    rows = conn.execute(
        update(_L)
        .where(_L.c.owner == owner, tuple_(_L.c.network_id, _L.c.epoch).in_(pairs))
        .values(
            expires_at=text("now() + make_interval(secs => :seconds)").bindparams(seconds=seconds)
        )
        .returning(_L.c.network_id)
    )
    return {int(r.network_id) for r in rows}


def release(conn: Connection, owner: str, held: Iterable[Fence]) -> int:
    """Let go of leases at once (a graceful stop): another process may take them now."""
    pairs = [(f.network_id, f.epoch) for f in held]
    if not pairs:
        return 0
    result = conn.execute(
        update(_L)
        .where(_L.c.owner == owner, tuple_(_L.c.network_id, _L.c.epoch).in_(pairs))
        .values(expires_at=text("now()"))
    )
    return int(result.rowcount)


_ORPHANS = text(
    """
    SELECT DISTINCT i.network_id FROM invocations i
      LEFT JOIN runner_leases l ON l.network_id = i.network_id
     WHERE i.state IN ('ready', 'invoking')
       AND (l.network_id IS NULL OR l.expires_at <= now())
    """
)


def orphans(conn: Connection) -> list[int]:
    """Networks with an active run and no live owner (its process died or let go)."""
    return sorted(int(r.network_id) for r in conn.execute(_ORPHANS))
