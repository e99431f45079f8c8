"""How many screens watch each watcher: this process's sockets, plus what the others announce.

One process counts its own display sockets (:meth:`Viewers.track`). With
several processes on one database (a :class:`~panic_trio.installations.relay.Relay`),
each process says its counts to the others: at once for the installation
whose count changed, and every :data:`ANNOUNCE_SECONDS` all of its nonzero
counts (while it has any, and once more after they changed, so a process
restarted under the same name replaces what its predecessor said). A
process heard from is counted until :data:`FORGET_SECONDS` after the last
thing it said (measured on this process's clock, so the machines'
clocks need not agree): one that dies, or is cut off, stops being counted
within that time, and a lost message is corrected by the next announcement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, Final

import trio

from panic_trio.installations.installation import Installation
from panic_trio.installations.relay import Relay

ANNOUNCE_SECONDS: Final = 2.0
FORGET_SECONDS: Final = 6.0  # three announcements missed: the process is gone
VIEWERS: Final = "viewers"  # the relayed message's kind

Counts = dict[int, dict[str, int]]  # installation id → watcher name → screens


class Viewers:
    """Display sockets per watcher, summed over the processes, with a change signal."""

    def __init__(self, relay: Relay | None = None) -> None:
        self._relay = relay
        self._local: Counter[tuple[int, str]] = Counter()
        self._heard: dict[str, tuple[float, Counts]] = {}  # node → (forget at, its counts)
        self._changed = trio.Event()
        self._unannounced = False  # a count changed since the last announcement

    def counts(self, installation: Installation) -> dict[str, int]:
        """Viewers per watcher name of ``installation`` (0 for unwatched ones), every process's."""
        now = trio.current_time()
        elsewhere = [
            counts.get(installation.id, {})
            for until, counts in self._heard.values()
            if until > now  # forgotten at once, even before the keeper's next look
        ]
        return {
            w.name: self._local[(installation.id, w.name)]
            + sum(there.get(w.name, 0) for there in elsewhere)
            for w in installation.watchers
        }

    @contextmanager
    def track(self, installation_id: int, name: str) -> Iterator[None]:
        """Count one viewer for the duration of the block."""
        self._count(installation_id, name, 1)
        try:
            yield
        finally:
            self._count(installation_id, name, -1)

    async def changes(self) -> AsyncIterator[None]:
        """Yields now and after every change (coalesced if the reader is slow)."""
        while True:
            changed = self._changed
            yield
            await changed.wait()

    def heard(self, node: str, message: dict[str, Any]) -> None:
        """Another process's counts: every one of them (``all``) or the installations named."""
        counts: Counts = {
            int(installation): {str(w): int(n) for w, n in watchers.items() if int(n) > 0}
            for installation, watchers in dict(message.get("counts", {})).items()
        }
        _, before = self._heard.get(node, (0.0, {}))
        after = counts if message.get("all") else {**before, **counts}
        after = {installation: watchers for installation, watchers in after.items() if watchers}
        self._heard[node] = (trio.current_time() + FORGET_SECONDS, after)
        if after != before:
            self._signal()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Announce this process's counts and forget silent processes, until cancelled."""
        task_status.started()
        announce_at = trio.current_time()
        while True:
            now = trio.current_time()
            if now >= announce_at:
                self._announce()
                announce_at = now + ANNOUNCE_SECONDS
            self._forget_silent(now)
            wake = min([announce_at, *(until for until, _ in self._heard.values())])
            await trio.sleep_until(wake)

    def _announce(self) -> None:
        """Every nonzero count of this process (none, and none changed: nothing to say)."""
        if self._relay is None or not (self._local or self._unannounced):
            return
        self._unannounced = False
        counts: Counts = {}
        for (installation, name), count in self._local.items():
            counts.setdefault(installation, {})[name] = count
        self._relay.send({"kind": VIEWERS, "all": True, "counts": counts})

    def _forget_silent(self, now: float) -> None:
        gone = [node for node, (until, _) in self._heard.items() if until <= now]
        forgotten = [self._heard.pop(node)[1] for node in gone]
        if any(forgotten):
            self._signal()

    def _count(self, installation_id: int, name: str, change: int) -> None:
        key = (installation_id, name)
        self._local[key] += change
        if self._local[key] <= 0:
            del self._local[key]
        self._signal()
        self._unannounced = True
        if self._relay is not None:
            mine = {n: c for (i, n), c in self._local.items() if i == installation_id}
            self._relay.send({"kind": VIEWERS, "counts": {installation_id: mine}})

    def _signal(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
