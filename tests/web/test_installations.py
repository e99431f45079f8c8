"""Installation pages: CRUD, watchers with the original's messages, owner only."""

from __future__ import annotations

import json
import re
from typing import Any

import trio
from quart.typing import TestClientProtocol as Client

from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in, text_of

GRID = {"type": "grid", "name": "main-grid", "rows": "2", "columns": "3"}


async def post(test_client: Client, path: str, form: dict[str, str]) -> Any:
    token = await csrf_of(test_client, "/installations")
    return await test_client.post(path, form={**form, "csrf_token": token})


async def test_the_owner_creates_edits_and_deletes_an_installation(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        index = await text_of(await owner.get("/installations"))
        assert "<h1>Installations</h1>" in index
        assert "New Installation" in index
        form = await text_of(await owner.get("/installations/new"))
        assert "Loop" in form
        fields = {"name": "Test Installation", "network_id": str(world.network.id)}
        made = await post(owner, "/installations/new", fields)
        assert made.status_code == 303
        [installation] = await world.panic.installations.find(owner_id=world.owner.id)
        show = await text_of(await owner.get(made.headers["Location"]))
        assert "Installation created successfully" in show
        assert "No watchers configured. Add one to start displaying invocations." in show
        listing = await text_of(await owner.get("/installations"))
        assert "Test Installation" in listing
        assert "Loop" in listing
        edited = await post(owner, f"/installations/{installation.id}/edit",
                            {"name": "Renamed", "network_id": str(world.network.id)})  # fmt: skip
        assert edited.status_code == 303
        assert "<h1>Renamed</h1>" in await text_of(await owner.get(edited.headers["Location"]))
        confirm = await text_of(await owner.get(f"/installations/{installation.id}/delete"))
        assert "Are you sure?" in confirm
        gone = await post(owner, f"/installations/{installation.id}/delete", {"confirm": "yes"})
        assert gone.status_code == 303
        assert await world.panic.installations.find(owner_id=world.owner.id) == []


async def test_a_blank_name_or_someone_elses_network_is_refused(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        theirs = await world.panic.create_network(world.other.id, "Theirs", models=["dummy-t2t"])
        owner = await signed_in(world, world.owner)
        blank = await post(owner, "/installations/new",
                           {"name": " ", "network_id": str(world.network.id)})  # fmt: skip
        assert blank.status_code == 422
        assert "name is required" in await text_of(blank)
        stolen = await post(owner, "/installations/new",
                            {"name": "Mine", "network_id": str(theirs.id)})  # fmt: skip
        assert stolen.status_code == 422
        assert "choose one of your networks" in await text_of(stolen)
        assert await world.panic.installations.find() == []


async def test_watchers_are_added_edited_reordered_and_removed(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery")
        owner = await signed_in(world, world.owner)
        base = f"/installations/{made.id}"
        form = await text_of(await owner.get(f"{base}/watchers/new"))
        assert "Grid - Display invocations in a grid layout" in form
        assert "Only letters, numbers, and hyphens allowed" in form
        for fields in (
            GRID,
            {"type": "single", "name": "spotlight", "stride": "3", "offset": "1"},
            {"type": "single", "name": "live-view", "stride": "2", "offset": "0",
             "show_invoking": "on"},
            {"type": "vestaboard", "name": "board-1", "stride": "2", "offset": "0",
             "vestaboard_name": "panic_1"},
        ):  # fmt: skip
            response = await post(owner, f"{base}/watchers/new", fields)
            assert response.status_code == 303, await text_of(response)
        page = await text_of(await owner.get(base))
        assert "Watcher added successfully" in page
        assert "2 \N{MULTIPLICATION SIGN} 3 grid" in page
        assert "Shows every 3rd invocation, offset 1" in page
        assert "Shows every 2nd invocation, offset 0 (shows invoking)" in page
        assert "Panic 1 - every 2nd, offset 0" in page
        assert f"View display (/i/{made.public_id}/main-grid) →" in page
        assert page.count("0 viewers") == 4
        installation = await world.panic.installations.get(made.id)
        assert installation.watcher("live-view").show_invoking  # type: ignore[union-attr]
        bigger = {**GRID, "name": "updated-grid", "rows": "3", "columns": "4"}
        edited = await post(owner, f"{base}/watchers/main-grid/edit", bigger)
        assert edited.status_code == 303
        assert "3 \N{MULTIPLICATION SIGN} 4 grid" in await text_of(await owner.get(base))
        await post(owner, f"{base}/watchers/board-1/move", {"direction": "up"})
        installation = await world.panic.installations.get(made.id)
        assert [w.name for w in installation.watchers] == [
            "updated-grid", "spotlight", "board-1", "live-view"
        ]  # fmt: skip
        confirm = await text_of(await owner.get(f"{base}/watchers/spotlight/delete"))
        assert "Are you sure you want to delete this watcher?" in confirm
        for name in ("updated-grid", "spotlight", "board-1", "live-view"):
            await post(owner, f"{base}/watchers/{name}/delete", {"confirm": "yes"})
        assert "No watchers configured" in await text_of(await owner.get(base))


async def test_invalid_watchers_show_the_original_messages_and_change_nothing(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID])
        owner = await signed_in(world, world.owner)
        path = f"/installations/{made.id}/watchers/new"
        cases = [
            ({"type": "single", "name": "s", "stride": "3", "offset": "3"},
             "offset must be less than stride"),
            ({"type": "grid", "name": "g", "rows": "2"},
             "rows and columns are required for grid type"),
            ({"type": "grid", "name": "bad name", "rows": "1", "columns": "1"},
             "Only letters, numbers, and hyphens allowed"),
            ({**GRID}, "Config names must be unique. Duplicates found: main-grid"),
            ({"type": "vestaboard", "name": "v", "stride": "1", "offset": "0"},
             "stride, offset, and vestaboard_name are required for vestaboard type"),
        ]  # fmt: skip
        for fields, message in cases:
            response = await post(owner, path, fields)
            assert response.status_code == 422
            assert message in await text_of(response)
        assert (await world.panic.installations.get(made.id)).watchers == made.watchers


async def test_only_the_network_owner_sees_or_changes_installations(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Private", [GRID])
        other = await signed_in(world, world.other)
        assert "Private" not in await text_of(await other.get("/installations"))
        for path in ("", "/edit", "/delete", "/watchers/new", "/watchers/main-grid/edit"):
            response = await other.get(f"/installations/{made.id}{path}")
            assert response.status_code == 404, path
        response = await post(other, f"/installations/{made.id}/delete", {"confirm": "yes"})
        assert response.status_code == 404
        assert await world.panic.installations.get(made.id) == made
        anonymous = await client(world).get("/installations")
        assert anonymous.status_code == 302
        assert re.search(r"/sign-in", anonymous.headers["Location"])
        display = await client(world).get(f"/i/{made.public_id}/main-grid")
        assert display.status_code == 200
        assert "<title>Private - main-grid · PANIC!</title>" in await text_of(display)


async def test_every_signed_in_page_links_to_the_installations(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(f"/users/{world.owner.id}"))
        link = re.search(r'id="nav-installations" href="([^"]+)"', page)
        assert link, page
        assert (await owner.get(link.group(1))).status_code == 200
        anonymous = await text_of(await client(world).get("/about"))
        assert "nav-installations" not in anonymous


async def test_open_screens_reload_when_their_installation_changes(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(
            world.network.id, "Gallery", [{"type": "grid", "name": "wall", "rows": 2, "columns": 2}]
        )
        other = await world.panic.installations.create(
            world.network.id,
            "Elsewhere",
            [{"type": "grid", "name": "wall", "rows": 1, "columns": 1}],
        )
        owner = await signed_in(world, world.owner)
        wall = client(world).websocket(f"/ws/displays/{made.public_id}/wall")
        elsewhere = client(world).websocket(f"/ws/displays/{other.public_id}/wall")
        async with wall as screen, elsewhere as untouched:
            assert json.loads(await screen.receive())["type"] == "screen"
            assert json.loads(await untouched.receive())["type"] == "screen"
            bigger = {"type": "grid", "name": "wall", "rows": "3", "columns": "3"}
            edited = await post(owner, f"/installations/{made.id}/watchers/wall/edit", bigger)
            assert edited.status_code == 303
            assert json.loads(await screen.receive()) == {"type": "reload"}
            with trio.move_on_after(0.5) as quiet:  # another installation's screen: nothing
                await untouched.receive()
            assert quiet.cancelled_caught
        page = await text_of(await client(world).get(f"/i/{made.public_id}/wall"))
        assert 'data-rows="3"' in page  # what the reloaded screen gets
