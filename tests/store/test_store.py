"""The store on SQLite and PostgreSQL: migrations, constraints, guarded writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
import trio
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from panic_trio.errors import InvalidInput, NotFound, StoreError
from panic_trio.store import database
from panic_trio.store.schema import metadata
from panic_trio.store.store import Store, open_store


async def make_run(store: Store) -> tuple[int, int]:
    user = await store.create_user("s@example.org", "hash", False)
    net = await store.create_network(user.id, "n", "", ["dummy-t2t", "dummy-t2i", "dummy-i2t"], 30)
    return user.id, net.id


async def test_migrations_create_exactly_the_schema_the_code_uses(database_url: str) -> None:
    async with open_store(database_url) as store:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert database.current_revision(store.engine) == database.head_revision()


async def test_an_out_of_date_database_is_refused_without_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with pytest.raises(StoreError, match="panic-trio db upgrade"):
        async with open_store(url, upgrade=False):
            pass
    async with open_store(url):
        pass
    async with open_store(url, upgrade=False):
        pass


async def test_a_run_is_written_row_by_row(database_url: str) -> None:
    async with open_store(database_url) as store:
        _, net = await make_run(store)
        genesis = await store.create_genesis(net, "dummy-t2t", "hello")
        assert (genesis.run_number, genesis.state, genesis.sequence_number) == (
            genesis.id,
            "invoking",
            0,
        )
        done, following = await store.complete_and_prepare_next(
            genesis.id, "olleh", {"latency_ms": 3}
        )
        assert (done.state, done.output, done.metadata) == ("completed", "olleh", {"latency_ms": 3})
        assert (following.state, following.input, following.model) == (
            "ready",
            "olleh",
            "dummy-t2i",
        )
        assert following.sequence_number == 1
        assert following.run_number == genesis.id
        assert done.updated_at.tzinfo is not None
        failed = await store.fail(following.id, {"error": "boom"})
        assert failed.state == "failed"
        assert await store.list_run(net, genesis.run_number) == [done, failed]


async def test_with_no_backoff_the_next_step_is_created_already_invoking(
    database_url: str,
) -> None:
    async with open_store(database_url) as store:
        _, net = await make_run(store)
        genesis = await store.create_genesis(net, "dummy-t2t", "hello")
        _, following = await store.complete_and_prepare_next(
            genesis.id, "olleh", {}, start_next=True
        )
        assert following.state == "invoking"
        done, _ = await store.complete_and_prepare_next(following.id, "next", {"attempts": 1})
        assert done.metadata == {"attempts": 1}


async def test_a_failed_invocation_can_never_be_completed_afterwards(database_url: str) -> None:
    async with open_store(database_url) as store:
        _, net = await make_run(store)
        genesis = await store.create_genesis(net, "dummy-t2t", "hello")
        await store.fail(genesis.id, {"cancelled": True})
        with pytest.raises(StoreError, match="refusing to overwrite"):
            await store.complete_and_prepare_next(genesis.id, "late", {})
        [row] = await store.list_run(net, genesis.run_number)
        assert row.state == "failed"
        assert row.output is None


async def test_sequence_numbers_are_unique_within_a_run(database_url: str) -> None:
    async with open_store(database_url) as store:
        _, net = await make_run(store)
        genesis = await store.create_genesis(net, "dummy-t2t", "hello")
        await store.complete_and_prepare_next(genesis.id, "once", {})
        from panic_trio.store.schema import invocations

        def duplicate(conn: sqlalchemy.Connection) -> None:
            now = store.now()
            conn.execute(
                invocations.insert().values(
                    network_id=net,
                    run_number=genesis.id,
                    sequence_number=1,
                    model="dummy-t2t",
                    input="dup",
                    state="ready",
                    metadata={},
                    inserted_at=now,
                    updated_at=now,
                )
            )

        with pytest.raises(StoreError):
            await store.write(duplicate)
        assert len(await store.list_run(net, genesis.run_number)) == 2


async def test_emails_are_unique_regardless_of_case(database_url: str) -> None:
    async with open_store(database_url) as store:
        await store.create_user("Ada@example.org", "h", False)
        with pytest.raises(InvalidInput, match="already exists"):
            await store.create_user("ada@EXAMPLE.org", "h", False)


async def test_deleting_a_network_deletes_its_invocations(database_url: str) -> None:
    async with open_store(database_url) as store:
        _, net = await make_run(store)
        genesis = await store.create_genesis(net, "dummy-t2t", "bye")
        await store.delete_network(net)
        with pytest.raises(NotFound):
            await store.get_network(net)
        with pytest.raises(NotFound):
            await store.get_invocation(genesis.id)


async def test_concurrent_writers_do_not_collide(database_url: str) -> None:
    async with open_store(database_url) as store:
        user = await store.create_user("c@example.org", "h", False)
        nets = [
            await store.create_network(user.id, f"n{i}", "", ["dummy-t2t"], 30) for i in range(8)
        ]

        async def chain(net_id: int) -> None:
            inv = await store.create_genesis(net_id, "dummy-t2t", "go")
            for step in range(10):
                _, inv = await store.complete_and_prepare_next(inv.id, f"out {step}", {})
                inv = await store.set_invoking(inv.id)

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                for net in nets:
                    nursery.start_soon(chain, net.id)
        for net in nets:
            rows = await store.recent_invocations(100, net.id)
            assert sorted(r.sequence_number for r in rows) == list(range(11))


async def test_backup_is_a_consistent_copy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    async with open_store(url) as store:
        _, net = await make_run(store)
        await store.create_genesis(net, "dummy-t2t", "keep me")
        target = tmp_path / "backups" / "copy.db"
        await store.backup(target)
    async with open_store(f"sqlite:///{target}", upgrade=False) as copy:
        [row] = await copy.recent_invocations()
        assert row.input == "keep me"


async def test_a_failed_invocation_can_never_be_started_again(database_url: str) -> None:
    async with open_store(database_url) as store:
        _, net = await make_run(store)
        genesis = await store.create_genesis(net, "dummy-t2t", "hello")
        done, following = await store.complete_and_prepare_next(genesis.id, "next", {})
        assert following.state == "ready"
        assert (await store.set_invoking(following.id)).state == "invoking"
        await store.fail(following.id, {"cancelled": True})
        with pytest.raises(StoreError, match="not ready or invoking; refusing to overwrite it"):
            await store.set_invoking(following.id)
        rows = await store.list_run(net, genesis.run_number)
        assert [r.state for r in rows] == ["completed", "failed"]
        assert rows[0] == done


async def test_ids_of_deleted_rows_are_never_reused(database_url: str) -> None:
    # The probe: network 3 deleted, the next network got id 3 and A's stale QR
    # token with it. Every table, so installations and invocations too.
    async with open_store(database_url) as store:
        user, net = await make_run(store)
        genesis = await store.create_genesis(net, "dummy-t2t", "hello")
        await store.delete_network(net)
        again = await store.create_network(user, "n2", "", ["dummy-t2t"], 30)
        assert again.id > net
        later = await store.create_genesis(again.id, "dummy-t2t", "hello")
        assert later.id > genesis.id
        with store.engine.connect() as conn:
            conn.execute(sqlalchemy.text("DELETE FROM users"))
            conn.commit()
        newer = await store.create_user("t@example.org", "hash", False)
        assert newer.id > user


async def test_the_id_migration_keeps_every_row_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = database.create_db_engine(url)
    config = database._alembic_config()
    from alembic import command

    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.exec_driver_sql(
            "INSERT INTO users (id, email, password_hash, admin, created_at)"
            " VALUES (1, 'a@example.org', 'h', 0, '2026-01-01 00:00:00.000000')"
        )
        for net_id in (1, 2, 3):
            conn.exec_driver_sql(
                "INSERT INTO networks (id, owner_id, name, description, models,"
                " lockout_seconds, created_at, updated_at) VALUES"
                f" ({net_id}, 1, 'n', '', '[\"dummy-t2t\"]', 30,"
                " '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
            )
            conn.exec_driver_sql(
                "INSERT INTO invocations (network_id, run_number, sequence_number, model,"
                " input, output, state, metadata, inserted_at, updated_at) VALUES"
                f" ({net_id}, NULL, 0, 'dummy-t2t', 'p', NULL, 'completed', '{{}}',"
                " '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
            )
    database.upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM networks").scalar() == 3
        assert conn.exec_driver_sql("SELECT count(*) FROM invocations").scalar() == 3
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        tables = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type='table'")
        made = {name: sql for name, sql in tables}
    engine.dispose()
    for name, table in metadata.tables.items():
        own_ids = table.dialect_kwargs.get("sqlite_autoincrement", False)
        assert ("AUTOINCREMENT" in made[name]) == own_ids, name
    async with open_store(url) as store:
        assert [n.id for n in await store.list_networks(None)] == [1, 2, 3]
        await store.delete_network(3)
        assert (await store.create_network(1, "n", "", ["dummy-t2t"], 30)).id == 4
