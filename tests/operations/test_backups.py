"""Scheduled backups: consistent, integrity-checked copies while runs write; the newest N kept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from panic_trio import open_panic
from panic_trio.errors import ConfigError, StoreError
from panic_trio.operations import Backups
from panic_trio.operations.backups import backup_name, check_integrity, to_prune
from panic_trio.settings import Settings
from panic_trio.store.restore import inspect
from tests.operations.conftest import GUARD, ops_settings, until


def test_names_sort_by_time_and_pruning_keeps_the_newest() -> None:
    moment = datetime(2026, 12, 1, 2, 45, 0, 123456, tzinfo=UTC)
    assert backup_name(moment) == "panic-20261201T024500123Z.db"
    names = [
        "panic-20261201T000000000Z.db",
        "panic-20261130T230000000Z.db",
        "panic-20261201T010000000Z.db",
        "panic-20261201T010000000Z.db.partial",  # being written: not ours to delete
        "notes.txt",
    ]
    assert to_prune(names, keep=2) == ["panic-20261130T230000000Z.db"]
    assert to_prune(names, keep=5) == []


def test_backups_of_postgresql_are_pg_dumps_job() -> None:
    with pytest.raises(ConfigError, match="pg_dump"):
        Settings(database_url="postgresql+psycopg://x@localhost/panic", backup_every=3600)
    assert Settings.from_env({"PANIC_BACKUP_EVERY": "6h"}).backup_every == 21600
    assert Settings.from_env({"PANIC_BACKUP_EVERY": "30m"}).backup_every == 1800
    with pytest.raises(ConfigError, match="PANIC_BACKUP_EVERY"):
        Settings.from_env({"PANIC_BACKUP_EVERY": "often"})
    with pytest.raises(ConfigError, match="backup_keep"):
        Settings(backup_keep=0)


def count_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM invocations").fetchone()[0])


async def test_backups_every_interval_under_load_are_whole_and_only_the_newest_are_kept(
    tmp_path: Path,
) -> None:
    settings = ops_settings(tmp_path, backoff="inf:0", backup_every=0.2, backup_keep=3)
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        networks = [
            await panic.create_network(owner.id, f"busy {i}", models=["dummy-t2t"])
            for i in range(3)
        ]
        for network in networks:  # three runs writing as fast as SQLite lets them
            await panic.start_run(network.id, "again and again")
        backups = Backups(panic.store, settings)
        await nursery.start(backups.run)
        with trio.fail_after(GUARD):
            await until(lambda: backups.done >= 6)
        nursery.cancel_scope.cancel()
        await panic.stop_all()
    kept = sorted(settings.backups_folder.iterdir())
    assert [p.name for p in kept] == sorted(p.name for p in kept if p.suffix == ".db")
    assert len(kept) == 3
    assert backups.failures == 0
    counts = []
    for path in kept:
        check_integrity(path)
        contents = inspect(path)  # a PANIC database at this release's migration
        assert (contents.users, contents.networks) == (1, 3)
        counts.append(count_rows(path))
    assert counts == sorted(counts)  # each later copy holds as much or more
    assert counts[0] > 0


async def test_a_damaged_copy_is_not_kept(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(StoreError, match=r"damaged\.db"):
        await trio.to_thread.run_sync(check_integrity, damaged)
