"""The database lock: an open store and a restore exclude each other; a closed store lets go."""

from __future__ import annotations

from pathlib import Path

import pytest

from panic_trio.errors import StoreError
from panic_trio.store import usage
from panic_trio.store.store import open_store


async def test_an_open_store_holds_off_a_restore_until_it_closes(tmp_path: Path) -> None:
    database = tmp_path / "panic.db"
    async with open_store(f"sqlite:///{database}"):
        with pytest.raises(StoreError, match="stop it before restoring"), usage.exclusive(database):
            pass
    with usage.exclusive(database):  # closed: free
        pass


async def test_a_store_does_not_open_while_a_restore_writes(tmp_path: Path) -> None:
    database = tmp_path / "panic.db"
    with usage.exclusive(database), pytest.raises(StoreError, match="is being restored"):
        async with open_store(f"sqlite:///{database}"):
            pass
    async with open_store(f"sqlite:///{database}"):
        pass


def test_two_stores_may_share_a_database(tmp_path: Path) -> None:
    database = tmp_path / "panic.db"
    first = usage.hold_shared(database)
    second = usage.hold_shared(database)
    first.close()
    second.close()


def test_a_second_runner_is_refused_with_the_name_of_the_first(tmp_path: Path) -> None:
    database = tmp_path / "panic.db"
    first = usage.hold_runner(database, "stage-left, pid 41, since 05:00 UTC")
    with pytest.raises(StoreError) as refused:
        usage.hold_runner(database, "stage-right")
    message = str(refused.value)
    assert "stage-left, pid 41, since 05:00 UTC" in message
    assert "\n" not in message
    first.close()
    usage.hold_runner(database, "stage-right").close()  # let go: free again
