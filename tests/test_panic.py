"""The embedding API, as the contract shows it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from panic_trio import Panic, Settings, open_panic
from panic_trio.domain import Network, User
from panic_trio.errors import InvalidInput, InvalidNetwork, NotFound
from panic_trio.models import all_models, get_model


async def test_the_contract_example_runs(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}", data_dir=tmp_path, backoff="inf:0"
    )
    with trio.fail_after(20):
        async with open_panic(settings) as panic:
            user = await panic.create_user("ada@example.org", "a long password")
            net = await panic.create_network(
                user.id, "loop", models=["dummy-t2i", "dummy-i2t"], lockout_seconds=30
            )
            genesis = await panic.start_run(net.id, "a red balloon")
            async with panic.watch(net.id) as events:
                async for event in events:
                    if event.kind == "invocation" and event.invocation.sequence_number >= 3:  # type: ignore[union-attr]
                        break
            assert await panic.stop_run(net.id) is True
            run = await panic.list_run(net.id, genesis.run_number)
    assert run[0].id == genesis.id
    assert len(run) >= 4


async def test_invalid_networks_are_refused_and_nothing_changes(panic: Panic, owner: User) -> None:
    with pytest.raises(InvalidNetwork, match="network must contain at least one model"):
        await panic.create_network(owner.id, "empty", models=[])
    with pytest.raises(InvalidNetwork, match="does not match"):
        await panic.create_network(owner.id, "bad", models=["dummy-t2i", "dummy-t2t"])
    assert await panic.list_networks(owner.id) == []
    net = await panic.create_network(owner.id, "good", models=["dummy-t2t"])
    with pytest.raises(InvalidNetwork):
        await panic.update_network(net.id, models=["dummy-i2i"])
    with pytest.raises(InvalidInput, match="lockout seconds"):
        await panic.update_network(net.id, lockout_seconds=-1)
    with pytest.raises(InvalidInput, match="name must not be empty"):
        await panic.update_network(net.id, name="  ")
    with pytest.raises(InvalidInput, match="unknown network field"):
        await panic.update_network(net.id, owner_id=99)
    assert await panic.get_network(net.id) == net


async def test_networks_default_to_a_30_second_lockout(panic: Panic, owner: User) -> None:
    net = await panic.create_network(owner.id, "n", models=["dummy-t2t"])
    assert net.lockout_seconds == 30
    updated = await panic.update_network(net.id, lockout_seconds=120, description="*hi*")
    assert (updated.lockout_seconds, updated.description) == (120, "*hi*")


async def test_deleting_a_network_stops_its_run(panic: Panic, loop_network: Network) -> None:
    await panic.start_run(loop_network.id, "doomed")
    await panic.delete_network(loop_network.id)
    assert panic.status(loop_network.id).state == "idle"
    with pytest.raises(NotFound):
        await panic.get_network(loop_network.id)
    with pytest.raises(NotFound):
        await panic.start_run(loop_network.id, "again")


def read_ciphertext(database_file: Path) -> bytes:
    with sqlite3.connect(database_file) as conn:
        [(ciphertext,)] = conn.execute("select ciphertext from platform_tokens").fetchall()
    return bytes(ciphertext)


async def test_platform_tokens_are_encrypted_at_rest(
    panic: Panic, owner: User, settings: Settings
) -> None:
    await panic.set_platform_token(owner.id, "replicate", "r8_secret_value_1234")
    assert await panic.platform_token(owner.id, "replicate") == "r8_secret_value_1234"
    assert await panic.masked_tokens(owner.id) == {"replicate": "••••••••1234"}
    database_file = Path(settings.database_url.removeprefix("sqlite:///"))
    ciphertext = await trio.to_thread.run_sync(read_ciphertext, database_file)
    assert b"r8_secret" not in ciphertext
    assert b"r8_secret_value" not in await trio.to_thread.run_sync(database_file.read_bytes)
    await panic.set_platform_token(owner.id, "replicate", "")
    assert await panic.platform_token(owner.id, "replicate") is None
    with pytest.raises(InvalidInput, match="unknown token name"):
        await panic.set_platform_token(owner.id, "dropbox", "x")


async def test_passwords_and_api_keys_authenticate(panic: Panic, owner: User) -> None:
    assert await panic.authenticate("OWNER@example.org", "correct horse battery") == owner
    assert await panic.authenticate("owner@example.org", "wrong password") is None
    assert await panic.authenticate("nobody@example.org", "correct horse battery") is None
    key = await panic.create_api_key(owner.id, "script")
    assert await panic.user_for_api_key(key) == owner
    assert await panic.user_for_api_key(key + "x") is None


async def test_bad_account_input_is_refused(panic: Panic) -> None:
    with pytest.raises(InvalidInput, match="valid email"):
        await panic.create_user("not-an-email", "correct horse battery")
    with pytest.raises(InvalidInput, match="at least 8"):
        await panic.create_user("a@example.org", "short")


def test_the_catalog_is_reachable_as_the_contract_says() -> None:
    model = get_model("dummy-t2i")
    assert (model.input_type, model.output_type, model.platform) == ("text", "image", "dummy")
    assert len(all_models()) == 50


async def test_find_user_by_email(panic: Panic, owner: User) -> None:
    assert await panic.find_user(f"  {owner.email} ") == owner
    with pytest.raises(NotFound, match=r"no user with email nobody@example\.org"):
        await panic.find_user("nobody@example.org")


async def test_what_screens_and_feeds_need_is_asked_of_panic(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}", data_dir=tmp_path, backoff="inf:0"
    )
    with trio.fail_after(20):
        async with open_panic(settings) as panic:
            user = await panic.create_user("ada@example.org", "a long password")
            net = await panic.create_network(user.id, "loop", models=["dummy-t2i", "dummy-i2t"])
            assert await panic.latest_run_number(net.id) is None
            with panic.watch_all() as feed:
                genesis = await panic.start_run(net.id, "a red balloon")
                async for event in feed:
                    if event.invocation is not None and event.invocation.sequence_number >= 2:
                        break
            assert await panic.stop_run(net.id)
            run = genesis.run_number
            assert await panic.latest_run_number(net.id) == run
            last = await panic.last_sequence(net.id, run)
            assert last is not None
            assert last >= 2
            rows = await panic.run_rows(net.id, run, [0, 2])
            assert [r.sequence_number for r in rows] == [0, 2]
            tail = await panic.run_tail(net.id, run, 2)
            assert [r.sequence_number for r in tail] == [last - 1, last]
            assert panic.statuses()[net.id].state == "idle"
            assert abs((panic.now() - genesis.inserted_at).total_seconds()) < 60
            image = rows[0].output  # the dummy image the first step made
            assert image is not None
            found = panic.media_file(image)
            assert found is not None
            assert found.is_file()
            assert panic.media_file("https://elsewhere.example/dummy/x.png") is None
