"""Scheduled SQLite backups while serving: every ``backup_every``, keep ``backup_keep``.

Each backup goes through SQLite's online backup API (``Store.backup``), so it
is a consistent snapshot even while runs write; it is written to a partial
file, checked with ``PRAGMA integrity_check`` and only then given its name.
Names sort by time (``panic-20261201T024500123Z.db``), so pruning is by name.
PostgreSQL is backed up with ``pg_dump`` instead (docs/operations.md).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Final

import trio

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import StoreError
from panic_trio.settings import Settings
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)

PREFIX: Final = "panic-"
SUFFIX: Final = ".db"


def backup_name(moment: datetime) -> str:
    """The file name of a backup made at ``moment`` (UTC, to the millisecond)."""
    return f"{PREFIX}{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}Z{SUFFIX}"


def to_prune(names: list[str], keep: int) -> list[str]:
    """The backups to delete so the newest ``keep`` remain (other files are left alone)."""
    ours = sorted(n for n in names if n.startswith(PREFIX) and n.endswith(SUFFIX))
    return ours[: max(0, len(ours) - keep)]


def check_integrity(path: Path) -> None:
    """Raise :class:`StoreError` unless SQLite finds ``path`` whole."""
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            verdict = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise StoreError(f"the backup {path} cannot be read: {exc}") from exc
    if verdict != ["ok"]:
        raise StoreError(f"the backup {path} fails the integrity check: {verdict[0]}")


def _finish(partial: Path, final: Path, keep: int) -> list[str]:
    try:
        check_integrity(partial)
        partial.replace(final)
        pruned = to_prune([p.name for p in final.parent.iterdir()], keep)
        for name in pruned:
            (final.parent / name).unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(f"could not keep the backup {final}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return pruned


class Backups:
    """Backs the database up on a timer; start :meth:`run` in the root nursery.

    ``done`` and ``failures`` count outcomes; ``last`` is the newest backup
    and ``last_at`` when it was written (wall clock).
    """

    def __init__(self, store: Store, settings: Settings, *, inline: bool = False) -> None:
        self.store = store
        self.every = settings.backup_every
        self.keep = settings.backup_keep
        self.folder = settings.backups_folder
        self.done = 0
        self.failures = 0
        self.last: Path | None = None
        self.last_at: datetime | None = None
        self._files = ThreadSeam("backup-files", 1, inline=inline)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Back up every ``backup_every`` seconds until cancelled (nothing if it is 0)."""
        if not self.every:
            task_status.started()
            return
        await self._files.run(lambda: self.folder.mkdir(parents=True, exist_ok=True))
        logger.info("backing the database up every %g s into %s", self.every, self.folder)
        task_status.started()
        while True:
            await trio.sleep(self.every)
            try:
                await self.backup_now()
            except StoreError as exc:
                self.failures += 1
                logger.error("scheduled backup failed: %s", exc)

    async def backup_now(self) -> Path:
        """Write, check and name one backup, then prune old ones; returns its path."""
        moment = self.store.now()
        final = self.folder / backup_name(moment)
        partial = final.with_name(final.name + ".partial")
        await self.store.backup(partial)
        pruned = await self._files.run(_finish, partial, final, self.keep)
        self.done += 1
        self.last, self.last_at = final, moment
        logger.info("backup written to %s%s", final, f"; pruned {len(pruned)}" if pruned else "")
        return final
