"""One process runs a SQLite database's networks: a second one is refused, by name."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import utc_now
from panic_trio.settings import Settings
from panic_trio.store import usage
from panic_trio.store.database import sqlite_path


@asynccontextmanager
async def sole_runner(settings: Settings, files: ThreadSeam, runs: bool) -> AsyncIterator[None]:
    """On a SQLite file, be the one process running its networks (see ``store.usage``).

    Enter blocks briefly (a lock and a short write); nothing is held for
    PostgreSQL, for in-memory databases, or when ``runs`` is false.

    Raises:
        StoreError: another process runs this database (one line naming it).
    """
    file = sqlite_path(settings.database_url)
    if not runs or file is None:
        yield
        return
    since = f"{utc_now():%Y-%m-%d %H:%M:%S} UTC"
    holder = f"{settings.node}, pid {os.getpid()}, since {since}"
    handle = await files.run(usage.hold_runner, file, holder)
    try:
        yield
    finally:
        handle.close()
