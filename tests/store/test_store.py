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
