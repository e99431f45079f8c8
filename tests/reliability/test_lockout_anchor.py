"""The lockout window starts when the genesis is written, not when it was asked for.

When the database is slow (another writer holds the lock for half a
second), the genesis row is written late. Visitors, displays and the
database all see the genesis at its ``inserted_at``; a second prompt one
lockout after the *request* must still be locked out.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
import trio

from panic_trio import Panic, Settings
from panic_trio.domain import User
from panic_trio.errors import LockedOut

LOCKOUT = 1
HOLD_SECONDS = 0.6


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, backoff="inf:1000")


async def test_a_slow_genesis_write_does_not_shorten_the_lockout(
    panic: Panic, owner: User, settings: Settings
) -> None:
    net = await panic.create_network(
        owner.id, "slow", models=["dummy-t2t"], lockout_seconds=LOCKOUT
    )
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    with trio.fail_after(10):
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        asked = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(panic.start_run, net.id, "first")
            await trio.sleep(HOLD_SECONDS)  # the other writer's transaction, not a wait
            locker.execute("ROLLBACK")
            locker.close()
        await trio.sleep_until(asked + LOCKOUT + 0.05)
        with pytest.raises(LockedOut):
            await panic.start_run(net.id, "second, inside the window of the written genesis")
