"""Runs as artefacts: a run's summary, how it ended, what it cost, and who may see it.

A run is not a table of its own: it is its invocations, so its history is a
query over them (``store/runs.py``) and can never disagree with them. The
rules that turn the last invocation into an ending, and the steps' costs into
a total, are pure functions here so pages, the API and exports agree.
:class:`RunMethods` is the run-history half of the embedding API.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from panic_trio.domain import ACTIVE_STATES, Invocation, iso
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.store import invocations as invocation_queries
from panic_trio.store import runs as run_queries
from panic_trio.store.runs import RunRow
from panic_trio.store.store import Store

RunEnding = Literal["running", "stopped", "replaced", "failed", "interrupted"]

DEFAULT_PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 100
STEPS_PER_PAGE: Final = 200
"""Steps on one page of a run (and the most a visitor's request reads)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run of a network as the history lists it.

    ``steps`` counts completed invocations. ``reason`` says why a run
    ``failed`` (owners only: public pages never show it). ``cost_usd`` is the
    sum of the steps' ``metadata.cost.amount`` when every completed step has
    one, else ``None`` (unknown).
    """

    network_id: int
    run_number: int
    prompt: str
    started_at: datetime
    ended_at: datetime | None
    steps: int
    last_sequence_number: int
    ending: RunEnding
    reason: str | None
    cost_usd: float | None

    @property
    def running(self) -> bool:
        """True while the run goes on."""
        return self.ending == "running"

    def to_json(self) -> dict[str, Any]:
        """The JSON API's shape (owners only: it carries the failure reason)."""
        return {
            "network_id": self.network_id,
            "run_number": self.run_number,
            "prompt": self.prompt,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "steps": self.steps,
            "last_sequence_number": self.last_sequence_number,
            "ending": self.ending,
            "reason": self.reason,
            "cost": {"amount": self.cost_usd, "currency": "USD"},
        }


def ending_of(state: str, metadata: Mapping[str, Any]) -> tuple[RunEnding, str | None]:
    """How a run ended, from its last invocation's state and metadata; and why, if it failed."""
    if state in ACTIVE_STATES:
        return "running", None
    error = str(metadata.get("error") or "")
    if metadata.get("cancelled"):
        return ("replaced" if "replaced" in error else "stopped"), None
    if error.startswith("interrupted"):
        return "interrupted", None
    if state == "failed":
        return "failed", error or "unknown error"
    return "stopped", None  # a completed last row: the run was ended without a failed step


def summary_of(row: RunRow) -> RunSummary:
    """A :class:`RunSummary` from the history query's row."""
    ending, reason = ending_of(row.last_state, row.last_metadata)
    known = row.completed == row.costed
    return RunSummary(
        network_id=row.network_id,
        run_number=row.run_number,
        prompt=row.prompt,
        started_at=row.started_at,
        ended_at=None if ending == "running" else row.last_updated_at,
        steps=row.completed,
        last_sequence_number=row.last_sequence_number,
        ending=ending,
        reason=reason,
        cost_usd=(row.cost_total or 0.0) if known else None,
    )


def step_cost(invocation: Invocation) -> float | None:
    """One step's cost in USD from ``metadata.cost``, or ``None`` if unknown."""
    cost = invocation.metadata.get("cost")
    if not isinstance(cost, Mapping):
        return None
    amount = cost.get("amount")
    return float(amount) if isinstance(amount, int | float) else None


def run_cycle(genesis: Invocation, network_models: Sequence[str]) -> list[str]:
    """The models of a run: its genesis's ``metadata.cycle``, or else the network's now."""
    cycle = genesis.metadata.get("cycle")
    if isinstance(cycle, list) and cycle and all(isinstance(m, str) for m in cycle):
        return list(cycle)
    return list(network_models)


def check_page_size(value: Any) -> int:
    """A page size from a query string: 1 to :data:`MAX_PAGE_SIZE`.

    Raises:
        InvalidInput: not a whole number in range.
    """
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise InvalidInput("limit must be a whole number", field="limit") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be from 1 to {MAX_PAGE_SIZE}", field="limit")
    return size


class RunMethods:
    """Run history and public shares (mixed into ``Panic``)."""

    store: Store

    async def run_history(
        self, network_id: int, *, before: int | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[RunSummary]:
        """A page of a network's runs, newest first, older than run ``before``.

        Keyset pagination: a page never shifts when new runs start, because
        it is anchored on a run number, not an offset.
        """
        rows = await self.store.read(run_queries.history, network_id, before, limit)
        if any(not row.kept and row.last_state not in ACTIVE_STATES for row in rows):
            await self.store.write(run_queries.keep, rows)
        return [summary_of(row) for row in rows]

    async def run_summary(self, network_id: int, run_number: int) -> RunSummary:
        """One run's summary, or :class:`NotFound`."""
        rows = await self.store.read(run_queries.history, network_id, run_number + 1, 1)
        if not rows or rows[0].run_number != run_number:
            raise NotFound(f"no run {run_number} on network {network_id}")
        return summary_of(rows[0])

    async def run_steps(
        self, network_id: int, run_number: int, *, after: int = -1, limit: int = STEPS_PER_PAGE
    ) -> list[Invocation]:
        """Up to ``limit`` steps of a run after sequence number ``after``, in order.

        A run page shows a page of steps, not the whole run: a long run (10,000
        steps and more) must cost a visitor no more than a short one.
        """
        return await self.store.read(run_queries.run_batch, network_id, run_number, after, limit)

    async def latest_run_number(self, network_id: int) -> int | None:
        """The newest run of a network (one index seek), or ``None`` before its first."""
        return await self.store.read(invocation_queries.latest_run_number, network_id)

    async def last_sequence(self, network_id: int, run_number: int) -> int | None:
        """The sequence number of a run's last step (one index seek), or ``None``."""
        return await self.store.read(invocation_queries.last_sequence, network_id, run_number)

    async def run_rows(
        self, network_id: int, run_number: int, sequences: Iterable[int]
    ) -> list[Invocation]:
        """Some steps of a run by sequence number: a screen reads only what it shows."""
        return await self.store.read(
            invocation_queries.run_rows, network_id, run_number, list(sequences)
        )

    async def run_tail(self, network_id: int, run_number: int, keep: int) -> list[Invocation]:
        """A run's last ``keep`` steps in order (a live page's first paint)."""
        return await self.store.read(invocation_queries.run_tail, network_id, run_number, keep)

    async def network_of_run(self, run_number: int) -> int:
        """The network a run belongs to (run numbers are unique), or :class:`NotFound`."""
        return await self.store.read(run_queries.network_of_run, run_number)

    async def share_run(self, network_id: int, run_number: int) -> str:
        """Make a run public; returns a fresh nonce (older links stop working)."""
        await self.run_summary(network_id, run_number)
        nonce = secrets.token_urlsafe(16)
        await self.store.write(
            run_queries.put_share, network_id, run_number, nonce, self.store.now()
        )
        return nonce

    async def unshare_run(self, network_id: int, run_number: int) -> bool:
        """Make a run private again; ``True`` if it was public."""
        return await self.store.write(run_queries.delete_share, network_id, run_number)

    async def run_share(self, network_id: int, run_number: int) -> str | None:
        """The nonce of a public run, or ``None`` if it is private."""
        return await self.store.read(run_queries.share_nonce, network_id, run_number)
