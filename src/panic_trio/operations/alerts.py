"""Alerts: tell the operator when a show needs a person, once per condition.

Conditions, each with a key so it is announced once and its recovery once:

- ``failures:network-N``: a network failed ``alert_failures`` times in a row
  (stops and replacements do not count); a completed step recovers it.
- ``auth:PLATFORM:network-N``: a provider answered 401/403 (the failed row's
  ``metadata.error_kind`` is ``auth``); a completed step on that platform
  recovers it.
- ``cap:network-N``: a spending cap ended a run (``metadata.cap``); the
  network's next completed step recovers it.
- ``archive``: ``alert_archive_failures`` archives failed in a row; the next
  archived output recovers it.
- ``disk:PATH``: less than ``alert_disk_free_percent`` of a disk is free.

The rules are :class:`AlertBook`, pure and clock-free; :class:`Alerts` feeds
it from the engine's event feed and a periodic check, and delivers through a
bounded outbox so a slow SMTP server never holds up the feed.
"""

from __future__ import annotations

import logging
import shutil
from collections import deque
from contextlib import nullcontext
from pathlib import Path
from typing import Final

import httpx
import trio

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Event, Invocation
from panic_trio.models.platform_records import display_name
from panic_trio.operations.metrics import platform_of
from panic_trio.operations.notifiers import Alert, AlertState, Notifiers
from panic_trio.panic import Panic
from panic_trio.settings import Settings
from panic_trio.store.database import sqlite_path

logger = logging.getLogger(__name__)

FEED_BUFFER: Final = 1024
OUTBOX_SIZE: Final = 64
RECENT: Final = 100


class AlertBook:
    """Which conditions are active, and whether each was announced.

    A condition that begins is announced unless the same key was announced
    less than ``cooldown`` seconds ago (so a flapping condition does not
    flood the inbox); while it lasts it is not announced again. Its end is
    announced once, and only if its beginning was.
    """

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self._active: dict[str, bool] = {}
        self._announced_at: dict[str, float] = {}

    def begin(self, key: str, now: float) -> bool:
        """The condition holds at ``now``; ``True`` if it must be announced now."""
        if key in self._active:
            return False
        last = self._announced_at.get(key)
        announce = last is None or now - last >= self.cooldown
        self._active[key] = announce
        if announce:
            self._announced_at[key] = now
        return announce

    def end(self, key: str) -> bool:
        """The condition no longer holds; ``True`` if its recovery must be announced."""
        return self._active.pop(key, False)


class Alerts:
    """Watches the engine and the machine; start :meth:`run` in the root nursery."""

    def __init__(
        self,
        panic: Panic,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        inline: bool = False,
    ) -> None:
        self.panic = panic
        self.settings = settings
        self.book = AlertBook(settings.alert_cooldown)
        # The latest announcements, oldest first, and those handed to the channels.
        self.queued: deque[Alert] = deque(maxlen=RECENT)
        self.sent: deque[Alert] = deque(maxlen=RECENT)
        self._http = http
        self._inline = inline
        self._in_a_row: dict[int, int] = {}
        self._last_failure: dict[int, int] = {}  # a re-published row counts once
        self._disk = ThreadSeam("disk-usage", 1, inline=inline)
        self._outbox, self._outbox_receive = trio.open_memory_channel[Alert](OUTBOX_SIZE)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch and deliver until cancelled; ready once subscribed to the feed."""
        async with (
            httpx.AsyncClient() if self._http is None else nullcontext(self._http) as http,
            trio.open_nursery() as nursery,
        ):
            notifiers = Notifiers.from_settings(self.settings, http, inline=self._inline)
            if not notifiers.channels:
                logger.info("alerts are not configured (PANIC_ALERT_EMAIL_TO / _WEBHOOK_URL)")
            nursery.start_soon(self._deliver, notifiers)
            with self.panic.watch_all(FEED_BUFFER) as events:
                nursery.start_soon(self._check_periodically)
                task_status.started()
                async for event in events:
                    self.observe(event)

    def failures_in_a_row(self, network_id: int) -> int:
        """The network's failed steps since its last completed one."""
        return self._in_a_row.get(network_id, 0)

    def observe(self, event: Event) -> None:
        """Update the conditions from one engine event (synchronous)."""
        row = event.invocation
        if event.kind != "invocation" or row is None:
            return
        if row.state == "completed":
            self._completed(row)
        elif row.state == "failed" and not row.metadata.get("cancelled"):
            if self._last_failure.get(row.network_id) == row.id:
                return
            self._last_failure[row.network_id] = row.id
            self._failed(row)

    def _completed(self, row: Invocation) -> None:
        network = row.network_id
        self._in_a_row.pop(network, None)
        self._end(f"failures:network-{network}", f"network {network} is running again")
        platform = platform_of(row.model)
        self._end(
            f"auth:{platform}:network-{network}",
            f"{display_name(platform)} accepts the API key of network {network} again",
        )
        self._end(f"cap:network-{network}", f"network {network} is running again after its cap")

    def _failed(self, row: Invocation) -> None:
        network = row.network_id
        meta = row.metadata
        error = str(meta.get("error") or "no reason recorded")
        count = self._in_a_row[network] = self._in_a_row.get(network, 0) + 1
        if count >= self.settings.alert_failures:
            self._begin(
                f"failures:network-{network}",
                f"network {network} failed {count} times in a row",
                f"The last failure ({row.model}, invocation {row.id}): {error}",
            )
        platform = platform_of(row.model)
        if meta.get("error_kind") == "auth":
            name = display_name(platform)
            self._begin(
                f"auth:{platform}:network-{network}",
                f"{name} refused the API key of network {network}",
                f"The key was rejected (expired or revoked?): {error}. "
                "The owner can set a new one on their dashboard.",
            )
        cap = meta.get("cap")
        if isinstance(cap, dict):
            self._begin(
                f"cap:network-{network}",
                f"a spending cap stopped network {network}",
                f"{error} (scope {cap.get('scope')}, limit {cap.get('limit')} "
                f"{cap.get('currency', 'USD')}; accepts prompts again at {cap.get('resumes_at')})",
            )

    async def check(self) -> None:
        """The periodic conditions: the archive and free disk space."""
        archive = self.panic.archive
        if archive is not None:
            failing = archive.failures_in_a_row
            if failing >= self.settings.alert_archive_failures:
                self._begin(
                    "archive",
                    f"the archive failed {failing} times in a row",
                    "Outputs keep their provider URLs, which expire. See the log, then run "
                    "`panic-trio archive retry` once the storage works.",
                )
            elif failing == 0:
                self._end("archive", "the archive works again")
        for path, (total, _, available) in await self._disk.run(
            _usage_by_disk, self._watched_paths()
        ):
            free = 100.0 * available / total if total else 100.0
            key = f"disk:{path}"
            if free < self.settings.alert_disk_free_percent:
                self._begin(
                    key,
                    f"the disk of {path} is nearly full ({free:.1f}% free)",
                    f"{available / 1e9:.2f} GB of {total / 1e9:.2f} GB free. The "
                    "database, archive and backups need room: free some space.",
                )
            else:
                self._end(key, f"the disk of {path} has room again ({free:.1f}% free)")

    def _watched_paths(self) -> list[Path]:
        candidates = [self.settings.data_dir]
        database = sqlite_path(self.settings.database_url)
        if database is not None:
            candidates.append(database.parent)
        if self.settings.backup_every:
            candidates.append(self.settings.backups_folder)
        return [candidate.absolute() for candidate in candidates]

    async def _check_periodically(self) -> None:
        while True:
            try:
                await self.check()
            except OSError as exc:
                logger.warning("alerts: could not check the disk: %s", exc)
            await trio.sleep(self.settings.alert_check_every)

    def _begin(self, key: str, title: str, detail: str) -> None:
        if self.book.begin(key, trio.current_time()):
            self._queue(key, "firing", title, detail)

    def _end(self, key: str, title: str) -> None:
        if self.book.end(key):
            self._queue(key, "recovered", title, f"Recovered: {title}.")

    def _queue(self, key: str, state: AlertState, title: str, detail: str) -> None:
        alert = Alert(key, state, title, detail, self.panic.now())
        logger.warning("alert %s %s: %s", key, state, title)
        self.queued.append(alert)
        try:
            self._outbox.send_nowait(alert)
        except trio.WouldBlock:
            logger.error("alert %s dropped: %d alerts already wait to be sent", key, OUTBOX_SIZE)

    async def _deliver(self, notifiers: Notifiers) -> None:
        async with self._outbox_receive:
            async for alert in self._outbox_receive:
                await notifiers.send(alert)
                self.sent.append(alert)


def _usage_by_disk(paths: list[Path]) -> list[tuple[Path, tuple[int, int, int]]]:
    """Each file system once (by device), named by the first of ``paths`` on it.

    Runs in the disk seam's thread: a folder not made yet counts by its nearest
    existing parent, and every ``stat`` is file-system I/O.
    """
    seen: set[int] = set()
    found: list[tuple[Path, tuple[int, int, int]]] = []
    for path in map(_existing, paths):
        device = path.stat().st_dev
        if device not in seen:
            seen.add(device)
            total, used, free = shutil.disk_usage(path)
            found.append((path, (total, used, free)))
    return found


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
