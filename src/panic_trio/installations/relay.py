"""The installations part's line to the other processes on the same database.

With one process (SQLite, or a program that does not run networks) there is
no relay and every wake-up stays in this process. With several, the
composition root gives :class:`~panic_trio.installations.Installations` a
:class:`Relay` (the ``nodes`` part's, over PostgreSQL ``NOTIFY``) and hands
it what the others say (:meth:`Installations.heard`): an installation
changed, an operator's request for the screens, viewer counts. Messages are
small (ids, names, counts) and lossy like every fan-out: a screen that
misses a reload catches up when it reconnects, a lost count is corrected by
the next announcement.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Relay"]


class Relay(Protocol):
    """Sends this process's messages to every other process (never back to this one)."""

    @property
    def dropped(self) -> int:
        """Messages lost: a full queue, a failed send, an unreadable one heard."""
        ...

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` (JSON-able, small) for the others; never waits, may drop it."""
        ...
