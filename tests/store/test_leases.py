"""Runner leases on PostgreSQL: one owner at a time, and a stale epoch writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy

from panic_trio.domain import Fence
from panic_trio.errors import LeaseLost
from panic_trio.store import leases
from panic_trio.store.store import open_store
from tests.conftest import POSTGRES_URL, fresh_postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url() -> str:
    if POSTGRES_URL is None:
        pytest.skip("PT_TEST_POSTGRES_URL is not set (scripts/test sets it)")
    return fresh_postgres_database()


async def test_a_taken_lease_is_refused_to_others_until_released(postgres_url: str) -> None:
    async with open_store(postgres_url) as store:
        user = await store.create_user("l@example.org", "hash", False)
        net = await store.create_network(user.id, "n", "", ["dummy-t2t"], 30)
        first = await store.write(leases.take, net.id, "a", 10.0)
        assert first == Fence(net.id, 1)
        held = await store.write(leases.take, net.id, "b", 10.0)
        assert isinstance(held, leases.Holder)
        assert held.owner == "a"
        assert 8 < held.seconds_left <= 10
        assert await store.write(leases.renew, "b", [first], 10.0) == set()  # not b's
        assert await store.write(leases.renew, "a", [first], 10.0) == {net.id}
        assert await store.read(leases.orphans) == []
        await store.write(leases.release, "a", [first])
        assert await store.read(leases.holder, net.id) is None
        second = await store.write(leases.take, net.id, "b", 10.0)
        assert second == Fence(net.id, 2)


async def test_a_write_with_a_stale_epoch_writes_nothing(postgres_url: str) -> None:
    async with open_store(postgres_url) as store:
        user = await store.create_user("f@example.org", "hash", False)
        net = await store.create_network(user.id, "n", "", ["dummy-t2t"], 30)
        old = await store.write(leases.take, net.id, "a", 10.0)
        assert isinstance(old, Fence)
        genesis = await store.create_genesis(net.id, "dummy-t2t", "hello", fence=old)
        assert await store.read(leases.orphans) == []
        await store.write(leases.release, "a", [old])
        assert await store.read(leases.orphans) == [net.id]  # active run, nobody holds it
        new = await store.write(leases.take, net.id, "b", 10.0)
        assert isinstance(new, Fence)
        with pytest.raises(LeaseLost, match="another process runs it now"):
            await store.complete_and_prepare_next(genesis.id, "late", {}, fence=old)
        with pytest.raises(LeaseLost):
            await store.create_genesis(net.id, "dummy-t2t", "late prompt", fence=old)
        [row] = await store.list_run(net.id, genesis.run_number)
        assert row.state == "invoking"  # untouched by the stale owner
        done, _ = await store.complete_and_prepare_next(genesis.id, "on time", {}, fence=new)
        assert done.output == "on time"
        with store.engine.connect() as conn:
            count = conn.execute(sqlalchemy.text("SELECT count(*) FROM invocations")).scalar()
        assert count == 2
