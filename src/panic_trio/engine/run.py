"""One run's state, owned by one object: the runner keeps only what outlives a run.

A run is one task in one cancel scope. Everything that belongs to it (the
scope, the event set when its task has ended, the row it would leave behind
if cancelled now, when its genesis was written, why it was cancelled) lives
here and is dropped with it, so nothing of one run can leak into the next.
"""

from __future__ import annotations

from typing import Final

import trio

from panic_trio.domain import Invocation

STOPPED: Final = "stopped"
REPLACED: Final = "replaced by a new run"
SHUTDOWN: Final = "server shutting down"


class Run:
    """One run of a network, from its launch until its task has ended.

    ``genesis_at`` is the Trio time the genesis was written (the lockout and
    the backoff count from it); ``pending`` is the row a cancel must settle
    (the one being invoked, or the prepared ``ready`` one), ``None`` once it
    is settled. A cancel nobody asked for through :meth:`cancel` is a
    shutdown, so ``cancel_reason`` starts as :data:`SHUTDOWN`.
    """

    def __init__(
        self, genesis: Invocation, first: Invocation, *, genesis_at: float, lockout_seconds: float
    ) -> None:
        self.scope = trio.CancelScope()
        self.done = trio.Event()
        self.genesis = genesis
        self.pending: Invocation | None = first
        self.genesis_at = genesis_at
        self.lockout_until = genesis_at + lockout_seconds
        self.cancel_reason = SHUTDOWN

    @property
    def active(self) -> bool:
        """True until the run's task has ended (cleanup included)."""
        return not self.done.is_set()

    def cancel(self, reason: str) -> None:
        """Cancel the run's scope; its task settles ``pending`` on the way out."""
        self.cancel_reason = reason
        self.scope.cancel(reason=reason)

    def take_pending(self) -> Invocation | None:
        """The row to settle, once: later callers get ``None``."""
        pending, self.pending = self.pending, None
        return pending
