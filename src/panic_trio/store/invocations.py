"""Sync queries for invocations: the life of a run, row by row.

Every write returns the row as written, so the engine never re-reads. Writes
are guarded by the state they expect, so a late write can never resurrect an
invocation that a stop already failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, func, insert, select, update

from panic_trio.domain import ACTIVE_STATES, Invocation, Network
from panic_trio.errors import NotFound, StoreError
from panic_trio.store.networks import network_by_id
from panic_trio.store.schema import invocations, networks

_T = invocations


def invocation_from_row(row: Any) -> Invocation:
    """An :class:`Invocation` from an ``invocations`` row.

    A hidden output (``hidden_at``, migration 0007) reads with
    ``metadata.hidden = true``: the column is the truth, so no metadata write
    (an archive rewrite, say) can lose or revive the mark.
    """
    metadata = {k: v for k, v in row.metadata.items() if k != "hidden"}
    if getattr(row, "hidden_at", None) is not None:
        metadata["hidden"] = True
    return Invocation(
        id=row.id,
        network_id=row.network_id,
        run_number=row.run_number,
        sequence_number=row.sequence_number,
        model=row.model,
        input=row.input,
        output=row.output,
        state=row.state,
        metadata=metadata,
        inserted_at=row.inserted_at,
        updated_at=row.updated_at,
    )


def insert_genesis(
    conn: Connection,
    network_id: int,
    model: str,
    prompt: str,
    now: datetime,
    cycle: Sequence[str] | None = None,
) -> Invocation:
    """Create a run's first invocation, ``invoking`` at once; ``run_number`` is its id.

    ``cycle`` (the network's models when the run starts) is kept in the
    genesis's ``metadata["cycle"]``: the run follows it to the end, so an
    edit of the network can never feed a model the wrong kind of input.
    The row is returned as written, without reading it back.
    """
    metadata: dict[str, Any] = {} if cycle is None else {"cycle": list(cycle)}
    new_id = conn.execute(
        _INSERT_GENESIS,
        {"network": network_id, "new_model": model, "prompt": prompt, "meta": metadata, "now": now},
    ).scalar_one()
    conn.execute(_NUMBER_RUN, {"row_id": new_id})
    return Invocation(
        id=new_id,
        network_id=network_id,
        run_number=new_id,
        sequence_number=0,
        model=model,
        input=prompt,
        output=None,
        state="invoking",
        metadata=metadata,
        inserted_at=now,
        updated_at=now,
    )


def start_genesis(
    conn: Connection,
    network_id: int,
    prompt: str,
    now: datetime,
    admit: Callable[[Network], bool],
) -> tuple[Network, Invocation | None]:
    """The network and, if ``admit(network)``, its new run's genesis (with the cycle)."""
    network = network_by_id(conn, network_id)
    if not admit(network):
        return network, None
    genesis = insert_genesis(conn, network_id, network.models[0], prompt, now, network.models)
    return network, genesis


# A run's start and stop, built once (as the hot path below): building a
# statement per call costs about as much as executing it.
_INSERT_GENESIS: Final = (
    insert(_T)
    .values(
        network_id=bindparam("network"),
        sequence_number=0,
        model=bindparam("new_model"),
        input=bindparam("prompt"),
        state="invoking",
        metadata=bindparam("meta", type_=_T.c.metadata.type),
        inserted_at=bindparam("now", type_=_T.c.inserted_at.type),
        updated_at=bindparam("now", type_=_T.c.updated_at.type),
    )
    .returning(_T.c.id)
)
_NUMBER_RUN: Final = (
    update(_T).where(_T.c.id == bindparam("row_id")).values(run_number=bindparam("row_id"))
)
_FAIL: Final = (
    update(_T)
    .where(_T.c.id == bindparam("row_id"), _T.c.state.in_(ACTIVE_STATES))
    .values(
        state="failed",
        metadata=bindparam("merged", type_=_T.c.metadata.type),
        updated_at=bindparam("now", type_=_T.c.updated_at.type),
    )
    .returning(_T)
)


def _guarded_update(
    conn: Connection, invocation_id: int, expected: tuple[str, ...], values: dict[str, Any]
) -> Invocation:
    row = conn.execute(
        update(_T)
        .where(_T.c.id == invocation_id, _T.c.state.in_(expected))
        .values(**values)
        .returning(_T)
    ).first()
    return _written(row, invocation_id, expected)


def _written(row: Any, invocation_id: int, expected: tuple[str, ...]) -> Invocation:
    """The row a guarded write returned; none means the row was not in ``expected``."""
    if row is None:
        raise StoreError(
            f"invocation {invocation_id} is not {' or '.join(expected)}; refusing to overwrite it"
        )
    return invocation_from_row(row)


# The hot path of a run, built once: a statement built per call costs more
# than its execution (SQLAlchemy coerces every value and hashes a cache key).
_METADATA_OF: Final = select(_T.c.metadata).where(_T.c.id == bindparam("row_id"))
_COMPLETE: Final = (
    update(_T)
    .where(_T.c.id == bindparam("row_id"), _T.c.state == "invoking")
    .values(
        state="completed",
        output=bindparam("new_output"),
        metadata=bindparam("new_metadata", type_=_T.c.metadata.type),
        updated_at=bindparam("now", type_=_T.c.updated_at.type),
        cost=bindparam("new_cost", type_=_T.c.cost.type),
        cost_at=bindparam("now", type_=_T.c.cost_at.type),
    )
    .returning(_T)
)
_SET_INVOKING: Final = (
    update(_T)
    .where(_T.c.id == bindparam("row_id"), _T.c.state.in_(ACTIVE_STATES))
    .values(state="invoking", updated_at=bindparam("now", type_=_T.c.updated_at.type))
    .returning(_T)
)
_MODELS_OF: Final = select(networks.c.models).where(networks.c.id == bindparam("network"))
_INSERT_NEXT: Final = (
    insert(_T)
    .values(
        network_id=bindparam("network"),
        run_number=bindparam("run"),
        sequence_number=bindparam("sequence"),
        model=bindparam("new_model"),
        input=bindparam("new_input"),
        state=bindparam("new_state"),
        metadata=bindparam("empty", type_=_T.c.metadata.type),
        inserted_at=bindparam("now", type_=_T.c.inserted_at.type),
        updated_at=bindparam("now", type_=_T.c.updated_at.type),
    )
    .returning(_T)
)


def set_invoking(conn: Connection, invocation_id: int, now: datetime) -> Invocation:
    """``ready`` (or a resumed ``invoking``) → ``invoking``."""
    row = conn.execute(_SET_INVOKING, {"row_id": invocation_id, "now": now}).first()
    return _written(row, invocation_id, ACTIVE_STATES)


def complete_and_prepare_next(
    conn: Connection,
    invocation_id: int,
    output: str,
    metadata: Mapping[str, Any],
    now: datetime,
    *,
    start_next: bool = False,
    cost: float | None = None,
    cycle: Sequence[str] | None = None,
) -> tuple[Invocation, Invocation]:
    """Mark the invocation ``completed`` and create the next one.

    ``cost`` (USD, ``None`` when unknown) is written with ``cost_at = now``
    beside ``metadata.cost`` so spending sums are index scans.

    ``metadata`` is merged into the row's (Vestaboard results may have been
    written while it was invoking). The next row is ``ready``, or already
    ``invoking`` when
    ``start_next`` (no backoff: it starts at once, so one write does both).
    Its model comes from the run's own ``cycle``; without one (runs started
    before cycles were kept) from the network's current model list.
    """
    current = conn.execute(_METADATA_OF, {"row_id": invocation_id}).first()
    if current is None:
        raise NotFound(f"no invocation with id {invocation_id}")
    completed = conn.execute(
        _COMPLETE,
        {
            "row_id": invocation_id,
            "new_output": output,
            "new_metadata": {**current.metadata, **metadata},
            "new_cost": cost,
            "now": now,
        },
    ).first()
    done = _written(completed, invocation_id, ("invoking",))
    models = cycle or conn.execute(_MODELS_OF, {"network": done.network_id}).scalar_one()
    sequence = done.sequence_number + 1
    row = conn.execute(
        _INSERT_NEXT,
        {
            "network": done.network_id,
            "run": done.run_number,
            "sequence": sequence,
            "new_model": models[sequence % len(models)],
            "new_input": output,
            "new_state": "invoking" if start_next else "ready",
            "empty": {},
            "now": now,
        },
    ).one()
    return done, invocation_from_row(row)


def fail(
    conn: Connection, invocation_id: int, metadata: Mapping[str, Any], now: datetime
) -> Invocation:
    """Mark a ``ready`` or ``invoking`` invocation ``failed``, merging ``metadata``."""
    current = conn.execute(_METADATA_OF, {"row_id": invocation_id}).first()
    if current is None:
        raise NotFound(f"no invocation with id {invocation_id}")
    merged = {**current.metadata, **metadata}
    row = conn.execute(_FAIL, {"row_id": invocation_id, "merged": merged, "now": now}).first()
    return _written(row, invocation_id, ACTIVE_STATES)


def set_ready(conn: Connection, invocation_id: int, now: datetime) -> Invocation:
    """Put an interrupted ``invoking`` row back to ``ready`` (graceful shutdown)."""
    return _guarded_update(
        conn, invocation_id, ACTIVE_STATES, {"state": "ready", "updated_at": now}
    )


def invocation_by_id(conn: Connection, invocation_id: int) -> Invocation:
    """The invocation, or :class:`NotFound`."""
    row = conn.execute(select(_T).where(_T.c.id == invocation_id)).first()
    if row is None:
        raise NotFound(f"no invocation with id {invocation_id}")
    return invocation_from_row(row)


def list_run(conn: Connection, network_id: int, run_number: int) -> list[Invocation]:
    """Every invocation of a run, by sequence number."""
    rows = conn.execute(
        select(_T)
        .where(_T.c.network_id == network_id, _T.c.run_number == run_number)
        .order_by(_T.c.sequence_number)
    )
    return [invocation_from_row(r) for r in rows]


def last_sequence(conn: Connection, network_id: int, run_number: int) -> int | None:
    """The sequence number of a run's last row (one seek in the unique index)."""
    value = conn.execute(
        select(_T.c.sequence_number)
        .where(_T.c.network_id == network_id, _T.c.run_number == run_number)
        .order_by(_T.c.sequence_number.desc())
        .limit(1)
    ).scalar()
    return None if value is None else int(value)


def run_rows(
    conn: Connection, network_id: int, run_number: int, sequences: Iterable[int]
) -> list[Invocation]:
    """Some rows of a run, by sequence number: public pages read only what they show."""
    rows = conn.execute(
        select(_T)
        .where(
            _T.c.network_id == network_id,
            _T.c.run_number == run_number,
            _T.c.sequence_number.in_(sorted(set(sequences))),
        )
        .order_by(_T.c.sequence_number)
    )
    return [invocation_from_row(r) for r in rows]


def run_tail(conn: Connection, network_id: int, run_number: int, keep: int) -> list[Invocation]:
    """A run's last ``keep`` rows, by sequence number (the first paint of a page)."""
    rows = conn.execute(
        select(_T)
        .where(_T.c.network_id == network_id, _T.c.run_number == run_number)
        .order_by(_T.c.sequence_number.desc())
        .limit(keep)
    )
    return [invocation_from_row(r) for r in reversed(rows.all())]


def latest_run_number(conn: Connection, network_id: int) -> int | None:
    """The newest run of a network (served by the unique index)."""
    value = conn.execute(
        select(func.max(_T.c.run_number)).where(_T.c.network_id == network_id)
    ).scalar()
    return None if value is None else int(value)


def recent(conn: Connection, limit: int, network_id: int | None = None) -> list[Invocation]:
    """The newest invocations, newest first (the admin feed)."""
    query = select(_T).order_by(_T.c.id.desc()).limit(limit)
    if network_id is not None:
        query = query.where(_T.c.network_id == network_id)
    return [invocation_from_row(r) for r in conn.execute(query)]


def rewrite_urls(
    conn: Connection,
    invocation_id: int,
    output: str,
    metadata: Mapping[str, Any],
    now: datetime,
) -> tuple[Invocation, Invocation | None]:
    """Point an archived output (and the next input, if not yet invoked) at the archive."""
    done = invocation_by_id(conn, invocation_id)
    old = done.output
    row = conn.execute(
        update(_T)
        .where(_T.c.id == invocation_id)
        .values(output=output, metadata={**done.metadata, **metadata}, updated_at=now)
        .returning(_T)
    ).one()
    following = conn.execute(
        update(_T)
        .where(
            _T.c.network_id == done.network_id,
            _T.c.run_number == done.run_number,
            _T.c.sequence_number == done.sequence_number + 1,
            _T.c.state == "ready",
            _T.c.input == old,
        )
        .values(input=output, updated_at=now)
        .returning(_T)
    ).first()
    return invocation_from_row(row), (None if following is None else invocation_from_row(following))


def merge_metadata(
    conn: Connection, invocation_id: int, metadata: Mapping[str, Any], now: datetime
) -> Invocation:
    """Merge ``metadata`` into an invocation's, in any state; a ``None`` value removes its key.

    For annotations that do not change the state, such as ``archive_error``.
    """
    current = invocation_by_id(conn, invocation_id)
    merged = {**current.metadata, **metadata}
    row = conn.execute(
        update(_T)
        .where(_T.c.id == invocation_id)
        .values(
            metadata={k: v for k, v in merged.items() if v is not None},
            updated_at=now,
        )
        .returning(_T)
    ).one()
    return invocation_from_row(row)
