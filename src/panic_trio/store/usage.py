"""Who is using a SQLite database file: a shared lock while open, an exclusive one to restore.

Every open store holds a shared ``flock`` on ``<database>.lock``; a restore
needs the exclusive lock, so it cannot replace a file a server is using, and
a server cannot open a file while a restore writes it. The process that runs
networks (``serve``, ``run``, an embedding program) also holds an exclusive
``flock`` on ``<database>.runner`` with its name written inside: SQLite has
one writer, so a second runner would double every run, and it is refused with
that name instead. The kernel releases the locks when a process dies, so a
crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from panic_trio.errors import StoreError


def lock_file(database: Path) -> Path:
    """The lock file beside ``database``."""
    return database.with_name(database.name + ".lock")


def runner_file(database: Path) -> Path:
    """The file whose exclusive lock says which process runs the networks."""
    return database.with_name(database.name + ".runner")


def _locked(database: Path, mode: int, file: Path | None = None) -> IO[bytes] | None:
    handle = open(file or lock_file(database), "ab")  # noqa: SIM115 (held open while the store is)
    try:
        fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def hold_shared(database: Path) -> IO[bytes]:
    """The shared lock a store keeps while open (close the handle to let go).

    Raises:
        StoreError: a restore is writing this database right now.
    """
    handle = _locked(database, fcntl.LOCK_SH)
    if handle is None:
        raise StoreError(f"{database} is being restored; start again when the restore has finished")
    return handle


@contextmanager
def exclusive(database: Path) -> Iterator[None]:
    """Hold the database for a restore.

    Raises:
        StoreError: a panic-trio server or command has the database open.
    """
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner-only, as the store
    handle = _locked(database, fcntl.LOCK_EX)
    if handle is None:
        raise StoreError(
            f"a panic-trio server (or another panic-trio command) is using {database}: "
            "stop it before restoring"
        )
    with handle:
        yield


def hold_runner(database: Path, holder: str) -> IO[bytes]:
    """Become the one process that runs this database's networks (close the handle to let go).

    ``holder`` (the node name, the command, since when) is written in the
    file, so a refused process can say who is running.

    Raises:
        StoreError: another process runs them (one line naming it).
    """
    file = runner_file(database)
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner-only, as the store
    handle = _locked(database, fcntl.LOCK_EX, file)
    if handle is None:
        try:
            other = file.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
        except OSError:
            other = "unknown"
        raise StoreError(
            f"{database} is already run by another process ({other}): SQLite runs one process; "
            "stop that one first, or use PostgreSQL for several"
        )
    handle.truncate(0)
    handle.write(holder.encode())
    handle.flush()
    return handle
