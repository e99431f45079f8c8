"""Runner leases on PostgreSQL: one owner at a time, and a stale epoch writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from panic_trio.domain import Fence
from panic_trio.errors import LeaseLost
from panic_trio.store import leases
from panic_trio.store.store import Store, open_store

pytestmark = pytest.mark.postgres


async def leased(store: Store, email: str) -> tuple[int, Fence]:
    """A new network and process a's lease on it."""
    user = await store.create_user(email, "hash", False)
    net = await store.create_network(user.id, "n", "", ["dummy-t2t"], 30)
    fence = await store.write(leases.take, net.id, "a", 10.0)
    assert fence == Fence(net.id, 1)
    return net.id, fence


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
        net_id, old = await leased(store, "f@example.org")
        genesis = await store.create_genesis(net_id, "dummy-t2t", "hello", fence=old)
        assert await store.read(leases.orphans) == []
        await store.write(leases.release, "a", [old])
        assert await store.read(leases.orphans) == [net_id]  # active run, nobody holds it
        new = await store.write(leases.take, net_id, "b", 10.0)
        assert isinstance(new, Fence)
        with pytest.raises(LeaseLost, match="another process runs it now"):
            await store.complete_and_prepare_next(genesis.id, "late", {}, fence=old)
        with pytest.raises(LeaseLost):
            await store.create_genesis(net_id, "dummy-t2t", "late prompt", fence=old)
        [row] = await store.list_run(net_id, genesis.run_number)
        assert row.state == "invoking"  # untouched by the stale owner
        done, _ = await store.complete_and_prepare_next(genesis.id, "on time", {}, fence=new)
        assert done.output == "on time"
        with store.engine.connect() as conn:
            count = conn.execute(sqlalchemy.text("SELECT count(*) FROM invocations")).scalar()
        assert count == 2


@contextmanager
def transaction(store: Store) -> Iterator[Connection]:
    """A transaction of its own that gives up on a row lock after 0.5 s (instead of waiting)."""
    with store.engine.connect() as conn, conn.begin():
        conn.execute(sqlalchemy.text("SET LOCAL lock_timeout = '500ms'"))
        yield conn


def _write(conn: Connection) -> str:
    return "written"


async def test_renewals_claims_and_run_writes_never_wait_for_each_other(
    postgres_url: str,
) -> None:
    async with open_store(postgres_url) as store:
        net_id, fence = await leased(store, "r@example.org")
        with transaction(store) as writing:  # a run write in flight holds its fence
            assert leases.fenced(writing, fence, _write) == "written"
            with transaction(store) as renewing:  # the renewal does not wait for it...
                assert leases.renew(renewing, "a", [fence], 10.0) == {net_id}
                with transaction(store) as later:  # ...nor a write for the renewal
                    assert leases.fenced(later, fence, _write) == "written"
            with transaction(store) as claiming:  # another process's claim touches nothing
                held = leases.take(claiming, net_id, "b", 10.0)
                assert isinstance(held, leases.Holder)
                assert held.owner == "a"


async def test_a_takeover_waits_for_the_write_in_flight_and_then_refuses_it(
    postgres_url: str,
) -> None:
    async with open_store(postgres_url) as store:
        net_id, old = await leased(store, "t@example.org")
        with transaction(store) as writing:
            assert leases.fenced(writing, old, _write) == "written"
            with transaction(store) as releasing:  # expired now, without waiting
                assert leases.release(releasing, "a", [old]) == 1
            timeout = pytest.raises(OperationalError, match="lock timeout")
            with timeout, transaction(store) as taking:  # waits for the write in flight
                leases.take(taking, net_id, "b", 10.0)
        new = await store.write(leases.take, net_id, "b", 10.0)
        assert new == Fence(net_id, 2)
        with transaction(store) as late, pytest.raises(LeaseLost):
            leases.fenced(late, old, _write)
