"""Sync queries for runs as a whole: history pages, run batches and public shares.

A page of history reads the geneses of the page through
``ix_invocations_run_history`` (network, sequence 0, run number), then the
totals of ended runs it listed before from ``run_totals``, and aggregates
only the others (the running run, runs never listed) over their
invocations through the ``uq_invocations_in_run`` index. An ended run never
changes, so its totals are computed once; a running one is always read live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from panic_trio.domain import ACTIVE_STATES, Invocation
from panic_trio.errors import NotFound
from panic_trio.store.invocations import invocation_from_row
from panic_trio.store.schema import invocations, run_shares, run_totals

_T = invocations


@dataclass(frozen=True, slots=True)
class RunRow:
    """What the history query knows of one run (``runs.summary_of`` interprets it)."""

    network_id: int
    run_number: int
    prompt: str
    started_at: datetime
    completed: int
    costed: int
    cost_total: float | None
    last_sequence_number: int
    last_state: str
    last_metadata: Mapping[str, Any]
    last_updated_at: datetime
    kept: bool = False


def history(conn: Connection, network_id: int, before: int | None, limit: int) -> list[RunRow]:
    """Up to ``limit`` runs of a network with run numbers below ``before``, newest first.

    Ended runs listed before come from ``run_totals``; the others are
    aggregated over their invocations (``RunRow.kept`` is false: the caller
    may :func:`keep` the ended ones).
    """
    geneses = (
        select(_T.c.run_number, _T.c.input, _T.c.inserted_at)
        .where(_T.c.network_id == network_id, _T.c.sequence_number == 0)
        .order_by(_T.c.run_number.desc())
        .limit(limit)
    )
    if before is not None:
        geneses = geneses.where(_T.c.run_number < before)
    firsts = conn.execute(geneses).all()
    if not firsts:
        return []
    numbers = [r.run_number for r in firsts]
    totals: dict[int, tuple[Any, bool]] = {
        row.run_number: (row, True)
        for row in conn.execute(select(run_totals).where(run_totals.c.run_number.in_(numbers)))
    }
    missing = [n for n in numbers if n not in totals]
    if missing:
        totals.update(
            (row.run_number, (row, False)) for row in _aggregate(conn, network_id, missing)
        )
    # A run deleted between the reads (its network was) is left out.
    return [
        _run_row(network_id, first, *totals[first.run_number])
        for first in firsts
        if first.run_number in totals
    ]


def _aggregate(conn: Connection, network_id: int, numbers: list[int]) -> Sequence[Any]:
    """Counts, cost and last row of some runs, read from all their invocations."""
    amount = _T.c.metadata[("cost", "amount")].as_float()
    completed = _T.c.state == "completed"
    sums = (
        select(
            _T.c.run_number,
            func.max(_T.c.sequence_number).label("last_sequence"),
            func.sum(case((completed, 1), else_=0)).label("completed"),
            func.sum(case((and_(completed, amount.is_not(None)), 1), else_=0)).label("costed"),
            func.sum(amount).label("cost_total"),
        )
        .where(_T.c.network_id == network_id, _T.c.run_number.in_(numbers))
        .group_by(_T.c.run_number)
        .subquery()
    )
    last = _T.alias("last")
    return conn.execute(
        select(
            sums,
            last.c.state.label("last_state"),
            last.c.metadata.label("last_metadata"),
            last.c.updated_at.label("last_updated_at"),
        ).join(
            last,
            and_(
                last.c.network_id == network_id,
                last.c.run_number == sums.c.run_number,
                last.c.sequence_number == sums.c.last_sequence,
            ),
        )
    ).all()


def _run_row(network_id: int, first: Any, totals: Any, kept: bool) -> RunRow:
    return RunRow(
        network_id=network_id,
        run_number=first.run_number,
        prompt=first.input,
        started_at=first.inserted_at,
        completed=int(totals.completed or 0),
        costed=int(totals.costed or 0),
        cost_total=_float_or_none(totals.cost_total),
        last_sequence_number=int(totals.last_sequence),
        last_state=totals.last_state,
        last_metadata=dict(totals.last_metadata),
        last_updated_at=totals.last_updated_at,
        kept=kept,
    )


def keep(conn: Connection, rows: Sequence[RunRow]) -> None:
    """Remember the totals of ended runs (``kept`` false), so later pages skip their steps."""
    values = [
        {
            "run_number": r.run_number,
            "network_id": r.network_id,
            "completed": r.completed,
            "costed": r.costed,
            "cost_total": r.cost_total,
            "last_sequence": r.last_sequence_number,
            "last_state": r.last_state,
            "last_metadata": dict(r.last_metadata),
            "last_updated_at": r.last_updated_at,
        }
        for r in rows
        if not r.kept and r.last_state not in ACTIVE_STATES
    ]
    if not values:
        return
    dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    # Two readers may keep the same run at once: both computed the same totals.
    conn.execute(dialect_insert(run_totals).on_conflict_do_nothing(), values)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def network_of_run(conn: Connection, run_number: int) -> int:
    """The network of a run (its genesis's id is its number), or :class:`NotFound`."""
    value = conn.execute(
        select(_T.c.network_id).where(_T.c.id == run_number, _T.c.sequence_number == 0)
    ).scalar()
    if value is None:
        raise NotFound(f"no run {run_number}")
    return int(value)


def run_batch(
    conn: Connection, network_id: int, run_number: int, after_sequence: int, limit: int
) -> list[Invocation]:
    """Up to ``limit`` invocations of a run after ``after_sequence``, in order (for exports)."""
    rows = conn.execute(
        select(_T)
        .where(
            _T.c.network_id == network_id,
            _T.c.run_number == run_number,
            _T.c.sequence_number > after_sequence,
        )
        .order_by(_T.c.sequence_number)
        .limit(limit)
    )
    return [invocation_from_row(r) for r in rows]


def put_share(
    conn: Connection, network_id: int, run_number: int, nonce: str, now: datetime
) -> None:
    """Make a run public under a new nonce (replacing any older one)."""
    conn.execute(delete(run_shares).where(run_shares.c.run_number == run_number))
    conn.execute(
        insert(run_shares).values(
            run_number=run_number, network_id=network_id, nonce=nonce, created_at=now
        )
    )


def delete_share(conn: Connection, network_id: int, run_number: int) -> bool:
    """Make a run private; ``True`` if it was public."""
    result = conn.execute(
        delete(run_shares).where(
            run_shares.c.run_number == run_number, run_shares.c.network_id == network_id
        )
    )
    return bool(result.rowcount)


def share_nonce(conn: Connection, network_id: int, run_number: int) -> str | None:
    """The nonce of a public run, or ``None``."""
    value = conn.execute(
        select(run_shares.c.nonce).where(
            run_shares.c.run_number == run_number, run_shares.c.network_id == network_id
        )
    ).scalar()
    return None if value is None else str(value)
