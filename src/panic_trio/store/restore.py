"""Checking a SQLite backup and putting it in place of the database.

:func:`inspect` says in one line what is wrong with a file that is not a
usable PANIC backup (not SQLite, damaged, another application's database, a
migration newer than this release). :func:`restore` copies a checked backup
over the database while holding it exclusively (see :mod:`.usage`), keeping
the database it replaces beside it. Both are blocking; the CLI calls them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from panic_trio.errors import InvalidInput, StoreError
from panic_trio.store import database, usage

SQLITE_HEADER: Final = b"SQLite format 3\x00"
PANIC_TABLES: Final = ("alembic_version", "users", "networks", "invocations", "platform_tokens")


@dataclass(frozen=True, slots=True)
class BackupContents:
    """What a checked backup holds."""

    revision: str
    users: int
    networks: int
    runs: int
    invocations: int
    tokens: tuple[bytes, ...]  # encrypted platform tokens

    def summary(self) -> str:
        """One line: how many of each, and the migration."""
        return (
            f"{self.users} users, {self.networks} networks, {self.runs} runs, "
            f"{self.invocations} invocations, {len(self.tokens)} platform tokens "
            f"(migration {self.revision})"
        )


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def inspect(path: Path) -> BackupContents:
    """Check ``path`` is a whole PANIC database this release can open.

    Raises:
        InvalidInput: one line saying what is wrong with the file.
    """
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    with path.open("rb") as file:
        if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise InvalidInput(f"{path} is not an SQLite database")
    try:
        with _read_only(path) as db:
            verdict = [row[0] for row in db.execute("PRAGMA integrity_check")]
            if verdict != ["ok"]:
                raise InvalidInput(f"{path} fails SQLite's integrity check: {verdict[0]}")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            missing = [t for t in PANIC_TABLES if t not in tables]
            if missing:
                raise InvalidInput(f"{path} is not a PANIC database (it has no {missing[0]} table)")
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = str(row[0]) if row else ""
            if revision not in database.known_revisions():
                raise InvalidInput(
                    f"{path} was written by a newer panic-trio (migration {revision or 'none'}; "
                    f"this release knows up to {database.head_revision()}): upgrade first"
                )

            def count(sql: str) -> int:
                return int(db.execute(sql).fetchone()[0])

            return BackupContents(
                revision=revision,
                users=count("SELECT count(*) FROM users"),
                networks=count("SELECT count(*) FROM networks"),
                runs=count("SELECT count(*) FROM invocations WHERE sequence_number = 0"),
                invocations=count("SELECT count(*) FROM invocations"),
                tokens=tuple(
                    bytes(r[0]) for r in db.execute("SELECT ciphertext FROM platform_tokens")
                ),
            )
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{path} is damaged: {exc}") from None


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """A consistent copy through SQLite's backup API (a live WAL is included)."""
    target.unlink(missing_ok=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
        destination.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    finally:
        destination.close()


def _set_aside(target: Path, stamp: str) -> Path:
    aside = target.with_name(f"{target.name}.replaced-{stamp}")
    try:
        source = sqlite3.connect(target)
        try:
            _copy(source, aside)
        finally:
            source.close()
    except sqlite3.DatabaseError:
        # Unreadable (the very reason to restore?): keep the files as they are.
        for suffix in ("", "-wal"):
            current = target.with_name(target.name + suffix)
            if current.exists():
                os.replace(current, aside.with_name(aside.name + suffix))
    return aside


def restore(backup: Path, target: Path, now: datetime) -> tuple[BackupContents, Path | None]:
    """Put ``backup`` in place of the database ``target``.

    Returns:
        What was restored, and where the replaced database was kept (``None``
        if there was none).

    Raises:
        InvalidInput: the backup is unusable (nothing was changed).
        StoreError: the database is in use, or writing failed.
    """
    contents = inspect(backup)
    if target.exists() and backup.resolve() == target.resolve():
        raise InvalidInput(f"{backup} is the database itself; restore from a copy")
    with usage.exclusive(target):
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        aside = _set_aside(target, stamp) if target.exists() else None
        partial = target.with_name(target.name + ".restoring")
        try:
            with _read_only(backup) as source:
                _copy(source, partial)
            for suffix in ("-wal", "-shm"):
                target.with_name(target.name + suffix).unlink(missing_ok=True)
            os.replace(partial, target)
        except (sqlite3.Error, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise StoreError(f"restoring {backup} failed: {exc}") from exc
    return contents, aside
