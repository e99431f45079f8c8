"""Account rules the database keeps, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import trio

from panic_trio.domain import utc_now
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.store import accounts, database
from panic_trio.store.store import open_store
from tests.conftest import POSTGRES_URL, fresh_postgres_database


async def test_two_admins_demoting_each_other_at_once_leave_one(database_url: str) -> None:
    with trio.fail_after(30):
        async with open_store(database_url) as store:
            first = await store.create_user("a@example.org", "hash", True)
            second = await store.create_user("b@example.org", "hash", True)
            outcomes: list[str] = []

            async def demote(user_id: int) -> None:
                try:
                    await store.write(accounts.set_admin, user_id, False)
                except InvalidInput as exc:
                    outcomes.append(exc.message)
                else:
                    outcomes.append("demoted")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(demote, first.id)
                nursery.start_soon(demote, second.id)
            admins = [u for u in await store.read(accounts.list_users) if u.admin]
            assert len(admins) == 1
            assert sorted(outcomes)[0] == "demoted"
            assert "last admin" in sorted(outcomes)[1]


async def test_set_admin_on_nobody_is_not_found(database_url: str) -> None:
    async with open_store(database_url) as store:
        await store.create_user("a@example.org", "hash", True)
        with pytest.raises(NotFound):
            await store.write(accounts.set_admin, 4242, True)


@pytest.mark.skipif(POSTGRES_URL is None, reason="PT_TEST_POSTGRES_URL is not set")
def test_a_demotion_waits_for_another_in_progress_on_postgres() -> None:
    """Read committed alone let each see the other still admin, and both went."""
    engine = database.create_db_engine(fresh_postgres_database())
    try:
        database.upgrade(engine)
        with engine.begin() as conn:
            first = accounts.insert_user(conn, "a@example.org", "hash", True, utc_now())
            second = accounts.insert_user(conn, "b@example.org", "hash", True, utc_now())
        outcome: list[str] = []

        def demote_second() -> None:
            with engine.begin() as conn:
                try:
                    accounts.set_admin(conn, second.id, False)
                except InvalidInput as exc:
                    outcome.append(exc.message)
                else:
                    outcome.append("demoted")

        with engine.connect() as conn, conn.begin():
            accounts.set_admin(conn, first.id, False)  # not committed yet
            racer = threading.Thread(target=demote_second)
            racer.start()
            racer.join(1.0)  # unguarded, it finished by now; guarded, it waits for us
        racer.join(10.0)
        assert not racer.is_alive()
        assert len(outcome) == 1
        assert "last admin" in outcome[0]
        with engine.connect() as conn:
            assert [u.email for u in accounts.list_users(conn) if u.admin] == ["b@example.org"]
    finally:
        engine.dispose()
