"""What another part may do at a run's steps, without the engine knowing it.

The installations part drives Vestaboards from here: it sends a new run's
prompt, decides what each output sends (and the delay floor that implies),
and starts the sends in the run's own nursery, so a stop cancels them. The
engine defines the protocol and a default that does nothing, so it never
imports that part.
"""

from __future__ import annotations

from typing import Final, Protocol

import trio

from panic_trio.domain import Invocation, Network


class StepHooks(Protocol):
    """One run's hooks, called by its runner in this order at each step."""

    async def announce(self, genesis: Invocation) -> float | None:
        """A new run starts: the hold (seconds) before invoking its genesis, or ``None``."""
        ...

    async def prepare(self, invocation: Invocation, output: str) -> float:
        """``invocation`` produced ``output``: the least delay before the next step."""
        ...

    def dispatch(self, done: Invocation) -> None:
        """``done`` is stored: act on what :meth:`prepare` decided (must return at once)."""
        ...


class RunHooks(Protocol):
    """What the engine is given: hooks for each run it starts."""

    def for_run(self, nursery: trio.Nursery, network: Network) -> StepHooks:
        """Hooks for one run; ``nursery`` is the run's own, cancelled with it."""
        ...


class NoHooks:
    """The default: nothing to announce, no delay floor, nothing to send."""

    def for_run(self, nursery: trio.Nursery, network: Network) -> StepHooks:
        """The same do-nothing hooks for every run."""
        return self

    async def announce(self, genesis: Invocation) -> float | None:
        """No hold."""
        return None

    async def prepare(self, invocation: Invocation, output: str) -> float:
        """No floor."""
        return 0.0

    def dispatch(self, done: Invocation) -> None:
        """Nothing to send."""


NO_HOOKS: Final = NoHooks()
