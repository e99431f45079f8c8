"""Moderation for prompts from strangers: a blocklist, a prompt log, hidden outputs.

:class:`Moderation` is a part of ``Panic`` (``panic.moderation``). Each
network's blocklist is read from the database and kept for five seconds (so a
prompt to an idle runner stays one write): a change applies at once in this
process and within five seconds in the others. Hiding an output marks its row
and publishes a ``hidden`` event; every process's :class:`Concealed` learns it
from that event (through the backplane on PostgreSQL), and every open screen
drops the output at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import trio

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Event, Invocation
from panic_trio.errors import (
    InvalidInput,
    LockedOut,
    PanicError,
    PromptBlocked,
    SpendingCapReached,
    StoreError,
)
from panic_trio.events import EventBus
from panic_trio.inputs import check_prompt
from panic_trio.moderation.blocklist import MAX_PATTERNS, Blocklist, check_pattern
from panic_trio.moderation.concealed import Concealed
from panic_trio.store import moderation as queries
from panic_trio.store.store import Store

__all__ = ["Concealed", "Moderation", "PromptSource"]

logger = logging.getLogger(__name__)

HIDDEN_LISTED: Final = 200
BLOCKLIST_FRESH_SECONDS: Final = 5.0  # how long a process trusts the blocklist it read
Outcome = Literal["started", "blocked", "locked_out", "capped", "invalid", "refused"]


@dataclass(frozen=True, slots=True)
class PromptSource:
    """Where a prompt came from, for the log: who, and for visitors which QR code.

    ``kind`` is ``token`` (a visitor with a terminal token), ``owner``,
    ``admin`` or ``api key``; ``token`` is the terminal token's id (its issue
    time and nonce, never the signature, so the log holds no credential).
    """

    kind: str
    token: str | None = None
    client: str | None = None


def outcome_of(error: PanicError) -> Outcome:
    """What a refused prompt is logged as."""
    if isinstance(error, PromptBlocked):
        return "blocked"
    if isinstance(error, LockedOut):
        return "locked_out"
    if isinstance(error, SpendingCapReached):
        return "capped"
    if isinstance(error, InvalidInput):
        return "invalid"
    return "refused"


class Moderation:
    """A network's blocklist and prompt log, and hiding outputs from every screen."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        self.events = events
        self.concealed = Concealed()
        events.observe(self._heard)  # hides made here and, on PostgreSQL, elsewhere
        # Each network's blocklist as read at a Trio time: a prompt to an idle
        # runner is one database write, and the blocklist adds no read to it.
        self._blocklists: dict[int, tuple[float, Blocklist]] = {}
        self._matching = ThreadSeam("blocklist-matching", 1, inline=store.reads.inline)

    async def load(self) -> None:
        """Learn which outputs are hidden (at start-up)."""
        self.concealed.load(await self.store.read(queries.all_hidden))

    # The blocklist

    async def patterns(self, network_id: int) -> list[dict[str, Any]]:
        """The network's blocked patterns: ``id``, ``pattern``, ``created_at``."""
        return await self.store.read(queries.patterns_of, network_id)

    async def block(self, network_id: int, text: str) -> str:
        """Block a word or pattern for the network's prompts; returns it as kept.

        Raises:
            InvalidInput: not a pattern, already blocked, or too many.
        """
        pattern = check_pattern(text)
        await self.store.write(
            queries.add_pattern, network_id, pattern, MAX_PATTERNS, self.store.now()
        )
        self._blocklists.pop(network_id, None)
        return pattern

    async def unblock(self, network_id: int, block_id: int) -> bool:
        """Remove one of the network's patterns; ``False`` if it was not there."""
        removed = await self.store.write(queries.remove_pattern, network_id, block_id)
        self._blocklists.pop(network_id, None)
        return removed

    async def check(self, network_id: int, prompt: str) -> None:
        """Refuse a prompt the network's blocklist catches (before anything is written).

        Raises:
            PromptBlocked: with a neutral message for the visitor.
        """
        blocklist = await self._blocklist(network_id)
        if not blocklist.patterns:
            return
        if blocklist.literal:
            pattern = blocklist.match(prompt)  # dictionary lookups: microseconds
        else:  # wildcards against a long prompt can take tens of milliseconds
            pattern = await self._matching.run(blocklist.match, prompt)
        if pattern is not None:
            raise PromptBlocked(pattern)

    async def _blocklist(self, network_id: int) -> Blocklist:
        """The network's blocklist, read again when older than ``BLOCKLIST_FRESH_SECONDS``.

        A change made here applies to the next prompt; one made by another
        process within those seconds.
        """
        now = trio.current_time()
        cached = self._blocklists.get(network_id)
        if cached is not None and now - cached[0] < BLOCKLIST_FRESH_SECONDS:
            return cached[1]
        blocklist = Blocklist.of(r["pattern"] for r in await self.patterns(network_id))
        self._blocklists[network_id] = (now, blocklist)
        return blocklist

    async def screened(
        self,
        network_id: int,
        prompt: str,
        source: PromptSource | None,
        start: Callable[[], Awaitable[Invocation]],
    ) -> Invocation:
        """Check ``prompt`` against the blocklist, then ``start`` the run; log it with a source.

        Raises:
            InvalidPrompt: empty, too long or not text (not logged).
            PromptBlocked: the blocklist caught it; nothing was started.
            Whatever ``start`` raises (logged with what it means).
        """
        check_prompt(prompt)  # empty, too long or not text: refused, and not worth a log line
        try:
            await self.check(network_id, prompt)
            genesis = await start()
        except PanicError as exc:
            if source is not None:
                await self.log(network_id, prompt, source, outcome_of(exc))
            raise
        if source is not None:
            await self.log(network_id, prompt, source, "started", genesis.run_number)
        return genesis

    # The prompt log

    async def log(
        self,
        network_id: int,
        prompt: str,
        source: PromptSource,
        outcome: Outcome,
        run_number: int | None = None,
    ) -> None:
        """Record a prompt; a database failure is logged, never raised (the run goes on)."""
        entry = {
            "network_id": network_id,
            "prompt": prompt,
            "source": source.kind[:20],
            "token": source.token[:64] if source.token else None,
            "client": source.client[:100] if source.client else None,
            "outcome": outcome,
            "run_number": run_number,
        }
        try:
            await self.store.write(queries.log_prompt, entry, self.store.now())
        except StoreError as exc:
            logger.warning("network %s: a prompt was not logged: %s", network_id, exc)

    async def prompts(
        self, network_id: int, *, before: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """A page of the network's prompt log, newest first (``before``: an entry id)."""
        return await self.store.read(queries.prompts_of, network_id, before, limit)

    # Hidden outputs

    async def hide(self, invocation_id: int, *, hidden: bool = True) -> Invocation:
        """Hide an output from every screen (or, with ``hidden=False``, show it again).

        The row and its output stay in the database, marked. Open screens are
        told at once through a ``hidden`` event.

        Raises:
            NotFound: no such invocation.
        """
        when = self.store.now() if hidden else None
        invocation = await self.store.write(queries.set_hidden, invocation_id, when)
        status = self.events.status(invocation.network_id)
        self.events.publish(
            invocation.network_id,
            Event(kind="hidden", invocation=invocation, status=status),
        )
        return invocation

    def _heard(self, network_id: int, event: Event) -> None:
        if event.kind == "hidden" and event.invocation is not None:
            hidden = event.invocation.metadata.get("hidden") is True
            self.concealed.mark(event.invocation, hidden=hidden)

    async def recent(self, network_id: int, limit: int) -> list[Invocation]:
        """The network's newest invocations, newest first, as stored (hidden ones marked)."""
        return await self.store.recent_invocations(limit, network_id)

    async def hidden(self, network_id: int) -> list[Invocation]:
        """The network's hidden outputs, most recently hidden first (as stored)."""
        return await self.store.read(queries.hidden_of, network_id, HIDDEN_LISTED)
