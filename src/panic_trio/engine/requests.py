"""What runners are asked and what they share: requests with one-shot replies.

A request carries its own :class:`Reply`, so the runner loop answers exactly
the task that asked, and errors travel back to it as errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import outcome
import trio

from panic_trio.domain import Invocation, Network
from panic_trio.engine.hooks import NO_HOOKS, RunHooks
from panic_trio.events import EventBus
from panic_trio.models.prices import PriceTable
from panic_trio.platforms.base import Call, Platform, Result
from panic_trio.settings import Settings
from panic_trio.store.store import Store

T = TypeVar("T")
__all__ = [
    "CompletionHook",
    "Invoke",
    "Reply",
    "Request",
    "Resume",
    "RunnerDeps",
    "Start",
    "Stop",
    "TokenLookup",
]

Invoke = Callable[[Platform, Call], Awaitable[Result]]
CompletionHook = Callable[[Invocation, Invocation], None]
TokenLookup = Callable[[Network, str], Awaitable[str | None]]  # the token a network runs with


class Reply(Generic[T]):
    """A one-shot answer from the runner loop to the task that asked."""

    def __init__(self) -> None:
        self._done = trio.Event()
        self._outcome: outcome.Outcome[T] | None = None

    def send(self, result: outcome.Outcome[T]) -> None:
        """Deliver the answer (once)."""
        self._outcome = result
        self._done.set()

    async def wait(self) -> T:
        """The answer, or the error the request raised."""
        await self._done.wait()
        assert self._outcome is not None
        return self._outcome.unwrap()


@dataclass(frozen=True, slots=True)
class Start:
    """Start a run of ``network`` with ``prompt`` (or refuse: lockout).

    ``network`` is ``None`` when the runner was idle as the request was sent:
    it then reads the network and writes the genesis in one transaction.
    """

    network: Network | None
    prompt: str
    reply: Reply[Invocation]
    replace: bool = False  # the owner's "stop and start": no lockout


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop the active run, if any; replies whether one was stopped."""

    reason: str
    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class Resume:
    """Continue an interrupted run at ``row`` (after a restart)."""

    network: Network
    genesis: Invocation
    row: Invocation
    reply: Reply[None]


Request = Start | Stop | Resume


@dataclass(slots=True)
class RunnerDeps:
    """What every runner shares: store, platforms, settings and hooks."""

    store: Store
    platforms: dict[str, Platform]
    settings: Settings
    tokens: TokenLookup
    invoke: Invoke
    on_completed: CompletionHook
    events: EventBus
    now: Callable[[], datetime]
    prices: PriceTable
    hooks: RunHooks = NO_HOOKS  # at each step (the installations part's Vestaboards)
