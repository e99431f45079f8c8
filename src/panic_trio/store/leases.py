"""Runner leases on PostgreSQL: which process runs a network, and the fencing check.

A lease is a ``runner_leases`` row ``(network_id, owner, epoch, expires_at)``.
Taking a network bumps ``epoch`` (the fencing token); its owner renews
``expires_at`` while it lives; every write of a run checks, in the same
transaction, that the epoch is still the writer's. Expiry uses the
database's clock, so the processes' clocks never need to agree.

The row locks are chosen so that renewals and run writes never wait for each
other, while a takeover and a late write are still ordered (PostgreSQL's
row-lock conflict table):

- a run write locks the row ``FOR KEY SHARE``;
- a renewal or a release is an ``UPDATE`` of ``expires_at`` only, which takes
  ``FOR NO KEY UPDATE``: no conflict with ``FOR KEY SHARE`` either way;
- a takeover locks the expired row ``FOR UPDATE`` (conflicts with
  ``FOR KEY SHARE``) before it bumps the epoch: it waits for a write in
  flight, and a write that comes later waits for it, then finds the new epoch
  and is refused.

A ``FOR SHARE`` fence (the first design) conflicted with the renewal's
``UPDATE``: a process's renewal waited on its own run writes, and its writes
on its renewal.
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
            .with_for_update(read=True, key_share=True)
        ).first()
        if held is None:
            raise LeaseLost(
                f"network {fence.network_id}: another process runs it now "
                f"(lease epoch {fence.epoch} is over); nothing was written"
            )
    return fn(conn, *args)


_INSERT = text(
    """
    INSERT INTO runner_leases (network_id, owner, epoch, expires_at)
    VALUES (:network, :owner, 1, now() + make_interval(secs => :seconds))
    ON CONFLICT (network_id) DO NOTHING
    RETURNING epoch
    """
)
# Locks the row only if it expired (a live owner's row is not touched), and
# FOR UPDATE: it waits for the old owner's write in flight (FOR KEY SHARE).
_LOCK_EXPIRED = text(
    """
    SELECT epoch FROM runner_leases
     WHERE network_id = :network AND expires_at <= now()
       FOR UPDATE
    """
)
_TAKE_OVER = text(
    """
    UPDATE runner_leases
       SET owner = :owner, epoch = epoch + 1,
           expires_at = now() + make_interval(secs => :seconds)
     WHERE network_id = :network
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
    params = {"network": network_id, "owner": owner, "seconds": seconds}
    epoch = conn.execute(_INSERT, params).scalar()
    if epoch is None and conn.execute(_LOCK_EXPIRED, params).first() is not None:
        epoch = conn.execute(_TAKE_OVER, params).scalar()
    if epoch is not None:
        return Fence(network_id, int(epoch))
    row = conn.execute(_HOLDER, params).one()
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
