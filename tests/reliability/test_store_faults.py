"""Database faults during a run: locked by another writer, or full.

Both are real SQLite conditions, not mocks: another connection holds the
write lock (``BEGIN IMMEDIATE``) past our busy timeout, or ``max_page_count``
pins the file at its current size (SQLITE_FULL, "database or disk is
full"), exactly what a full disk gives. For each: the runner stays alive,
the failed invocation says why, no row is left ``invoking`` once the
database can be written again, and a new prompt runs when the fault clears.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from sqlalchemy import event

from panic_trio import Panic, Settings, open_panic
from panic_trio.domain import User
from panic_trio.errors import StoreError
from tests.reliability.conftest import GUARD, assert_settled
from tests.runs import completed_at_least, failed, start_and_wait


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, backoff="inf:0.02", dummy_delay=0.02)


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 50 ms busy timeout instead of 5 s, so a held lock fails writes quickly."""
    monkeypatch.setattr(
        "panic_trio.store.database.SQLITE_PRAGMAS",
        ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=50"),
    )


@pytest.fixture
async def panic(settings: Settings, short_busy_timeout: None) -> AsyncIterator[Panic]:
    async with open_panic(settings) as opened:
        yield opened


def db_path(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


class DiskFull:
    """While ``full``, every pooled connection may not grow the file by one page."""

    def __init__(self) -> None:
        self.full = False

    def on_checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if self.full:
            [pages] = dbapi_connection.execute("PRAGMA page_count").fetchone()
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")
        else:
            dbapi_connection.execute("PRAGMA max_page_count = 1073741823")


@pytest.fixture
def disk(panic: Panic) -> Iterator[DiskFull]:
    fault = DiskFull()
    event.listen(panic.store.engine, "checkout", fault.on_checkout)
    yield fault
    event.remove(panic.store.engine, "checkout", fault.on_checkout)


async def wait_nothing_live(panic: Panic, network_id: int) -> None:
    """Poll (bounded by the caller's guard) until no row of the network is live."""
    while [r for r in await panic.store.active_rows() if r.network_id == network_id]:
        await trio.sleep(0.02)


async def test_a_locked_database_fails_the_run_readably_and_then_runs_again(
    panic: Panic, owner: User, settings: Settings
) -> None:
    net = await panic.create_network(owner.id, "locked", models=["dummy-t2t"], lockout_seconds=300)
    with trio.fail_after(GUARD):
        async with panic.watch(net.id) as events:
            genesis = await panic.start_run(net.id, "hold the line")
            locker = sqlite3.connect(db_path(settings), isolation_level=None, timeout=5)
            try:
                locker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
                async for seen in events:
                    if failed(seen):
                        break
                assert panic.status(net.id).state == "failed"
                # Still locked: nothing can be written, and a prompt says why.
                with pytest.raises(StoreError, match="the database is busy"):
                    await panic.start_run(net.id, "while locked")
                await trio.sleep(0.3)  # the lock outlasts the runner's first attempts
            finally:
                locker.execute("ROLLBACK")
                locker.close()
        with trio.fail_after(5):  # well inside the runner's 10 s cleanup budget
            await wait_nothing_live(panic, net.id)
        rows = await panic.list_run(net.id, genesis.run_number)
        assert_settled(rows)
        reason = rows[-1].metadata["error"]
        assert "the database is busy (locked by another writer)" in reason
        assert panic.status(net.id).error == reason
        again, last = await start_and_wait(panic, net.id, "unlocked", completed_at_least(2))
        assert not failed(last), last.status.error
        assert await panic.stop_run(net.id)
        assert_settled(await panic.list_run(net.id, again.run_number))


async def test_a_full_disk_fails_the_run_readably_and_then_runs_again(
    panic: Panic, owner: User, disk: DiskFull
) -> None:
    net = await panic.create_network(owner.id, "full", models=["dummy-t2t"], lockout_seconds=300)
    other = await panic.create_network(owner.id, "other", models=["dummy-t2t"])
    with trio.fail_after(GUARD):
        async with panic.watch(net.id) as events:
            genesis = await panic.start_run(net.id, "fill it up " * 100)
            async for seen in events:
                if seen.invocation and seen.invocation.state == "completed":
                    break
            disk.full = True
            async for seen in events:
                if failed(seen):
                    break
        with pytest.raises(StoreError, match="disk full"):
            await panic.start_run(other.id, "no room " * 200)
        disk.full = False
        await wait_nothing_live(panic, net.id)
        rows = await panic.list_run(net.id, genesis.run_number)
        assert_settled(rows)
        assert all(r.state == "completed" for r in rows[:-1])
        reason = rows[-1].metadata["error"]
        assert "database or disk is full" in reason
        assert "Traceback" not in reason
        again, last = await start_and_wait(panic, net.id, "room again", completed_at_least(2))
        assert not failed(last), last.status.error
        assert await panic.stop_run(net.id)
        assert_settled(await panic.list_run(net.id, again.run_number))
        assert await panic.store.active_rows() == []
