"""Installations in the store through the embedding API: CRUD, watchers, migrations."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from panic_trio import Panic
from panic_trio.domain import Network, User
from panic_trio.errors import InvalidInput, InvalidWatcher, NotFound
from panic_trio.installations.part import ALL_SCREENS, ScreenRequest
from panic_trio.store import installations as queries

GRID = {"type": "grid", "name": "main-grid", "rows": 2, "columns": 3}
SPOT = {"type": "single", "name": "spotlight", "stride": 3, "offset": 1}
BOARD = {"type": "vestaboard", "name": "board-1", "stride": 2, "offset": 0,
         "vestaboard_name": "panic_1", "initial_prompt": True}  # fmt: skip


async def test_create_round_trips_watchers_and_lists_by_owner_and_network(
    panic: Panic, owner: User, loop_network: Network
) -> None:
    with trio.fail_after(10):
        other = await panic.create_user("other@example.org", "correct horse battery")
        theirs = await panic.create_network(other.id, "theirs", models=["dummy-t2t"])
        made = await panic.installations.create(loop_network.id, " Gallery ", [GRID, SPOT])
        await panic.installations.create(theirs.id, "Elsewhere")
        assert made.name == "Gallery"
        assert [w.name for w in made.watchers] == ["main-grid", "spotlight"]
        assert (await panic.installations.get(made.id)) == made
        mine = await panic.installations.find(owner_id=owner.id)
        assert [i.id for i in mine] == [made.id]
        by_network = await panic.installations.find(network_id=theirs.id)
        assert [i.name for i in by_network] == ["Elsewhere"]
        assert (await panic.installations.create(loop_network.id, "empty")).watchers == ()


async def test_bad_input_changes_nothing(panic: Panic, loop_network: Network) -> None:
    with trio.fail_after(10):
        with pytest.raises(InvalidInput, match="name is required"):
            await panic.installations.create(loop_network.id, "  ")
        with pytest.raises(NotFound):
            await panic.installations.create(9999, "nowhere")
        with pytest.raises(InvalidWatcher, match="Duplicates found: main-grid"):
            await panic.installations.create(loop_network.id, "dupes", [GRID, GRID])
        with pytest.raises(InvalidWatcher, match="rows and columns are required"):
            await panic.installations.create(
                loop_network.id, "bad", [{"type": "grid", "name": "g"}]
            )
        assert await panic.installations.find(network_id=loop_network.id) == []


async def test_watchers_are_added_updated_removed_and_reordered(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(10):
        made = await panic.installations.create(loop_network.id, "Gallery", [GRID])
        added = await panic.installations.add_watcher(made.id, SPOT)
        added = await panic.installations.add_watcher(made.id, BOARD)
        assert [w.name for w in added.watchers] == ["main-grid", "spotlight", "board-1"]
        with pytest.raises(InvalidWatcher, match="Duplicates found: spotlight"):
            await panic.installations.add_watcher(made.id, SPOT)
        with pytest.raises(InvalidWatcher, match="offset must be less than stride"):
            await panic.installations.add_watcher(made.id, {**SPOT, "name": "x", "offset": 3})
        updated = await panic.installations.update_watcher(
            made.id, "main-grid", {**GRID, "name": "updated-grid", "rows": 3, "columns": 4}
        )
        assert updated.watchers[0].summary() == "3 \N{MULTIPLICATION SIGN} 4 grid"
        assert updated.watcher("main-grid") is None
        with pytest.raises(InvalidWatcher, match="Duplicates found: spotlight"):
            await panic.installations.update_watcher(
                made.id, "updated-grid", {**GRID, "name": "spotlight"}
            )
        reordered = await panic.installations.reorder_watchers(
            made.id, ["board-1", "updated-grid", "spotlight"]
        )
        assert [w.name for w in reordered.watchers] == ["board-1", "updated-grid", "spotlight"]
        with pytest.raises(InvalidWatcher, match="exactly once"):
            await panic.installations.reorder_watchers(made.id, ["board-1"])
        removed = await panic.installations.remove_watcher(made.id, "spotlight")
        assert [w.name for w in removed.watchers] == ["board-1", "updated-grid"]
        with pytest.raises(InvalidWatcher, match="watcher with name 'spotlight' not found"):
            await panic.installations.remove_watcher(made.id, "spotlight")
        assert (await panic.installations.get(made.id)) == removed


async def test_rename_move_and_delete(panic: Panic, owner: User, loop_network: Network) -> None:
    with trio.fail_after(10):
        second = await panic.create_network(owner.id, "second", models=["dummy-t2t"])
        made = await panic.installations.create(loop_network.id, "Gallery", [BOARD])
        moved = await panic.installations.update(made.id, name="Foyer", network_id=second.id)
        assert (moved.name, moved.network_id) == ("Foyer", second.id)
        boards = await panic.store.read(queries.vestaboard_watchers, second.id)
        assert [w["name"] for w in boards] == ["board-1"]
        await panic.installations.delete(made.id)
        with pytest.raises(NotFound):
            await panic.installations.get(made.id)
        with pytest.raises(NotFound):
            await panic.installations.delete(made.id)


async def test_deleting_the_network_deletes_its_installations(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(10):
        made = await panic.installations.create(loop_network.id, "Gallery", [GRID])
        await panic.delete_network(loop_network.id)
        with pytest.raises(NotFound):
            await panic.installations.get(made.id)


async def test_waiters_wake_when_their_installation_changes_and_only_then(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(10):
        made = await panic.installations.create(loop_network.id, "Gallery", [GRID])
        other = await panic.installations.create(loop_network.id, "Elsewhere", [GRID])
        woken: list[str] = []

        async def wait(name: str, installation_id: int) -> None:
            await panic.installations.changed(installation_id)
            woken.append(name)

        async with trio.open_nursery() as nursery:
            for name, installation in (("made", made), ("other", other)):
                nursery.start_soon(wait, name, installation.id)
            await trio.testing.wait_all_tasks_blocked()
            await panic.installations.update_watcher(made.id, "main-grid", {**GRID, "rows": 3})
            await trio.testing.wait_all_tasks_blocked()
            assert woken == ["made"]  # the other installation did not change
            await panic.delete_network(loop_network.id)  # its installations went with it
        assert woken == ["made", "other"]


async def test_identify_wakes_the_screens_waiting_and_checks_what_it_names(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(10):
        made = await panic.installations.create(loop_network.id, "Foyer", [GRID])
        heard: list[list[ScreenRequest]] = []

        async def screen() -> None:
            heard.append(await panic.installations.screen_requests(made.id))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(screen)
            nursery.start_soon(screen)
            await trio.testing.wait_all_tasks_blocked()
            await panic.installations.identify(made.id, "main-grid")
        asked = [ScreenRequest("identify", "main-grid")]
        assert heard == [asked, asked]
        with pytest.raises(InvalidWatcher):
            await panic.installations.identify(made.id, "nope")
        with pytest.raises(NotFound):
            await panic.installations.identify(made.id + 1000)


async def test_screens_are_asked_to_reload_or_try_sound_and_bad_requests_change_nothing(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(10):
        made = await panic.installations.create(loop_network.id, "Foyer", [GRID])
        heard: list[list[ScreenRequest]] = []

        async def screen() -> None:
            heard.append(await panic.installations.screen_requests(made.id))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(screen)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(InvalidInput):
                await panic.installations.ask_screens(made.id, "explode")
            await trio.testing.wait_all_tasks_blocked()
            assert heard == []  # a refused request wakes nobody
            await panic.installations.ask_screens(made.id, "sound")
        assert heard == [[ScreenRequest("sound", ALL_SCREENS)]]
        with pytest.raises(InvalidWatcher):
            await panic.installations.ask_screens(made.id, "reload", "nope")
