"""The thread seam: how blocking libraries (SQLAlchemy, boto3, Pillow) are called.

Each blocking library gets one :class:`ThreadSeam` with its own named
``CapacityLimiter``, so its threads queue inside Trio (cancellably) rather than
inside the library's own pool. ``inline=True`` runs the function on the event
loop instead; only deterministic tests use it, because Trio's autojump clock
does not wait for worker threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import trio

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class ThreadSeam:
    """Runs blocking calls of one library in worker threads, at most ``capacity`` at once.

    Calls are not abandoned on cancellation: a write that started finishes,
    so the database never sees half a transaction.
    """

    def __init__(self, name: str, capacity: int, *, inline: bool = False) -> None:
        self.name = name
        self.limiter = trio.CapacityLimiter(capacity)
        self.inline = inline

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Call ``fn(*args)`` in a worker thread (a checkpoint either way)."""
        if self.inline:
            await trio.lowlevel.checkpoint()
            return fn(*args)
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def __repr__(self) -> str:
        return f"ThreadSeam({self.name!r}, capacity={self.limiter.total_tokens})"
