"""Watcher displays: the page, the draw frames of its socket, viewer counts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
import trio
import trio.testing
from quart.testing.connections import WebsocketResponseError
from quart.typing import TestWebsocketConnectionProtocol as Socket

from panic_trio.domain import Event, Invocation, RunnerStatus
from panic_trio.panic import open_panic
from panic_trio.web import create_app
from panic_trio.web.displays import DisplaySocket, tile
from panic_trio.web.state import EXTENSION, WebState
from tests.web.conftest import (
    SECRET,
    TIMEOUT,
    World,
    client,
    csrf_of,
    make_settings,
    signed_in,
    text_of,
)

GRID = {"type": "grid", "name": "wall", "rows": 2, "columns": 2}
SPOT = {"type": "single", "name": "spot", "stride": 3, "offset": 1}

Message = dict[str, Any]


async def receive(ws: Socket) -> Message:
    message: Message = json.loads(await ws.receive())
    return message


def slots(frame: Message) -> dict[int, int]:
    return {t["slot"]: t["tile"]["sequence"] for t in frame["tiles"]}


async def test_the_display_page_is_public_full_screen_and_scriptless_inline(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID, SPOT])
        page = await client(world).get(f"/i/{made.public_id}/wall")
        html = await text_of(page)
        assert page.status_code == 200
        assert "<title>Gallery - wall · PANIC!</title>" in html
        assert "Last prompt:" in html
        assert "⊞" not in html  # no codes: an idle screen explains itself
        assert 'id="attract"' in html
        assert "scan to prompt" in html
        assert world.network.name in html
        assert 'class="site-header"' not in html
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        scripts = [s for s in html.split("<script")[1:] if "src=" not in s.split(">")[0]]
        assert all('type="application/json"' in s.split(">")[0] for s in scripts)
        single = await text_of(await client(world).get(f"/i/{made.public_id}/spot"))
        assert "□" not in single
        assert "Last prompt:" not in single
        assert (await client(world).get(f"/i/{made.public_id}/nope")).status_code == 404
        stamp = made.public_id.partition("-")[2]
        for wrong in (f"{made.id + 1}-{stamp}", str(made.id), f"{made.id}-0", f"{made.id}-"):
            assert (await client(world).get(f"/i/{wrong}/wall")).status_code == 404, wrong


async def test_a_new_genesis_resets_the_screen_and_a_late_viewer_catches_up(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID, SPOT])
        async with client(world).websocket(f"/ws/displays/{made.public_id}/spot") as ws:
            assert await receive(ws) == {
                "type": "screen",
                "idle": True,
                "prompt": None,
                "tiles": [],
            }
            genesis = await world.panic.start_run(world.network.id, "a *red* balloon")
            first = await receive(ws)
            assert first["type"] == "reset"
            assert first["idle"] is False  # a run: the attract state goes
            assert first["prompt"] == "a *red* balloon"
            assert first["tile"]["id"] == genesis.id
            while (frame := await receive(ws))["tile"]["state"] != "completed":
                assert frame["type"] == "reset"
            assert frame["tile"]["kind"] == "image"
            assert frame["tile"]["src"].startswith("/dummy/")
        async with client(world).websocket(f"/ws/displays/{made.public_id}/wall") as late:
            joined = await receive(late)
            assert joined["prompt"] == "a *red* balloon"
            assert slots(joined) == {0: 0}
            assert joined["tiles"][0]["tile"]["state"] == "completed"


async def test_frames_follow_the_watcher_rules_and_ignore_archive_rewrites(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID, SPOT])
        genesis = await world.panic.start_run(world.network.id, "rules")
        state = cast(WebState, world.app.extensions[EXTENSION])
        grid = DisplaySocket(state, made, made.watchers[0])
        spot = DisplaySocket(state, made, made.watchers[1])
        grid.run_number = spot.run_number = genesis.run_number

        def event(seq: int, state: str = "completed", kind: str = "invocation") -> Event:
            invocation = replace(genesis, id=genesis.id + seq, sequence_number=seq,
                                 state=state, output="x")  # type: ignore[arg-type]  # fmt: skip
            return Event(kind, invocation, RunnerStatus())  # type: ignore[arg-type]

        placed = [await grid.frame_for(event(s)) for s in range(1, 7)]
        assert [f["slot"] for f in placed if f] == [1, 2, 3, 0, 1, 2]
        shown = [s for s in range(1, 11) if await spot.frame_for(event(s))]
        assert shown == [1, 4, 7, 10]
        assert await spot.frame_for(event(4, "invoking")) is None
        assert await grid.frame_for(event(2, kind="archived")) is None
        assert await grid.frame_for(Event("status", None, RunnerStatus())) is None
        other_run = replace(genesis, id=999, run_number=999, sequence_number=3)
        catch_up = await grid.frame_for(Event("invocation", other_run, RunnerStatus()))
        assert catch_up is not None
        assert catch_up["type"] == "screen"  # a run it never saw start: redraw from the store
        await world.panic.stop_run(world.network.id)


async def test_a_viewer_joining_a_long_run_sees_each_slot_at_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, backoff="inf:0")
    with trio.fail_after(TIMEOUT):
        async with open_panic(settings) as panic:
            app = create_app(panic, settings, secret_key=SECRET)
            owner = await panic.create_user("long@example.org", "correct horse battery")
            network = await panic.create_network(owner.id, "t", models=["dummy-t2t"])
            made = await panic.installations.create(network.id, "Gallery", [GRID, SPOT])
            genesis = await panic.start_run(network.id, "go")
            async with panic.watch(network.id) as events:
                async for e in events:
                    if e.invocation is not None and e.invocation.sequence_number >= 9:
                        break
            await panic.stop_run(network.id)
            run = await panic.list_run(network.id, genesis.run_number)
            async with app.test_app():
                async with app.test_client().websocket(f"/ws/displays/{made.public_id}/wall") as ws:
                    wall = await receive(ws)
                async with app.test_client().websocket(f"/ws/displays/{made.public_id}/spot") as ws:
                    spot = await receive(ws)
    last = run[-1].sequence_number
    assert slots(wall) == {(s % 4): s for s in range(max(0, last - 3), last + 1)}
    good = [r.sequence_number for r in run if r.state == "completed"]
    assert slots(spot) == {0: max(s for s in good if s % 3 == 1)}  # a stopped step: kept
    assert wall["prompt"] == "go"


async def test_viewer_counts_are_live_and_for_the_owner_only(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID, SPOT])
        owner = await signed_in(world, world.owner)
        other = await signed_in(world, world.other)
        async with owner.websocket(f"/ws/installations/{made.id}/viewers") as counts:
            assert await receive(counts) == {"type": "viewers", "counts": {"wall": 0, "spot": 0}}
            async with client(world).websocket(f"/ws/displays/{made.public_id}/wall") as tv:
                await receive(tv)
                assert (await receive(counts))["counts"] == {"wall": 1, "spot": 0}
            while (await receive(counts))["counts"] != {"wall": 0, "spot": 0}:
                pass
        async with other.websocket(f"/ws/installations/{made.id}/viewers") as ws:
            with pytest.raises(WebsocketResponseError) as refused:
                await ws.receive()
        assert refused.value.response.status_code == 404


def test_text_tiles_carry_sanitised_markdown() -> None:
    base = Invocation(1, 1, 1, 1, "dummy-t2t", "in", "**bold** <script>alert(1)</script>",
                      "completed", {}, None, None)  # type: ignore[arg-type]  # fmt: skip
    drawn = tile(base, "http://panic.test")
    assert "<strong>bold</strong>" in drawn["html"]
    assert "<script>" not in drawn["html"]
    failed = tile(replace(base, state="failed", metadata={"error": "boom"}), "")
    assert failed["state"] == "ended"
    assert "boom" not in json.dumps(failed)
    assert "html" not in failed


async def test_a_stopped_step_is_a_neutral_tile_and_a_single_screen_keeps_its_last_output(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID, SPOT])
        genesis = await world.panic.start_run(world.network.id, "a quiet end")
        await world.panic.stop_run(world.network.id)
        [stopped] = [
            r
            for r in await world.panic.list_run(world.network.id, genesis.run_number)
            if r.state == "failed"
        ]
        assert stopped.metadata["error"] == "cancelled: stopped"
        drawn = tile(stopped, "http://x")
        assert drawn["state"] == "ended"
        assert "error" not in drawn
        assert "cancel" not in json.dumps(drawn)
        state = cast(WebState, world.app.extensions[EXTENSION])
        spot = DisplaySocket(state, made, made.watchers[1])
        spot.run_number = genesis.run_number
        failed_on_its_stride = replace(stopped, sequence_number=4)
        assert (
            await spot.frame_for(Event("invocation", failed_on_its_stride, RunnerStatus())) is None
        )
        async with client(world).websocket(f"/ws/displays/{made.public_id}/wall") as ws:
            frame = await receive(ws)
        assert "cancel" not in json.dumps(frame)
        assert "stopped" not in json.dumps(frame)


async def test_an_idle_screen_is_told_when_a_run_ends_and_shows_a_working_qr(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID])
        qr = await client(world).get(f"/i/{made.public_id}/wall/qr.json")
        assert qr.headers["Cache-Control"] == "no-store"
        body = await qr.get_json()
        assert body["image"].startswith("data:image/svg+xml")
        token = body["url"].split("/terminal?token=")[1]
        network = await world.panic.get_network(world.network.id)
        assert world.tokens.check(token, network) == "ok"  # a code on a screen: one hour
        assert (await client(world).get(f"/i/{made.public_id}/nope/qr.json")).status_code == 404
        await world.panic.signs.choose(world.network.id, "printed")
        printed = await (await client(world).get(f"/i/{made.public_id}/wall/qr.json")).get_json()
        assert "/s/" in printed["url"]  # the printed sign, the same one the screens show
        async with client(world).websocket(f"/ws/displays/{made.public_id}/wall") as ws:
            assert (await receive(ws))["idle"] is True
            await world.panic.start_run(world.network.id, "busy for a while")
            assert (await receive(ws))["idle"] is False
            await world.panic.stop_run(world.network.id)
            while (frame := await receive(ws))["type"] != "idle":
                assert frame["type"] == "place"
            assert frame == {"type": "idle", "idle": True}


async def test_identify_shows_each_open_screen_its_own_name(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Foyer", [GRID, SPOT])
        base = f"/ws/displays/{made.public_id}"
        async with (
            client(world).websocket(f"{base}/wall") as wall,
            client(world).websocket(f"{base}/spot") as spot,
        ):
            await receive(wall)
            await receive(spot)
            await trio.testing.wait_all_tasks_blocked()
            await world.panic.installations.identify(made.id)
            assert await receive(wall) == {
                "type": "identify",
                "name": "Foyer · wall",
                "seconds": 30,
            }
            assert (await receive(spot))["name"] == "Foyer · spot"
            await trio.testing.wait_all_tasks_blocked()
            owner = await signed_in(world, world.owner)
            token = await csrf_of(owner, f"/installations/{made.id}")
            response = await owner.post(
                f"/installations/{made.id}/identify", form={"watcher": "spot", "csrf_token": token}
            )
            assert response.status_code == 303
            assert (await receive(spot))["name"] == "Foyer · spot"
            with trio.move_on_after(0.5):  # only the screen asked for answers
                await receive(wall)
                raise AssertionError("the wall was not asked")
        stranger = await signed_in(world, world.other)
        token = await csrf_of(stranger)
        refused = await stranger.post(
            f"/installations/{made.id}/identify", form={"csrf_token": token}
        )
        assert refused.status_code == 404


async def test_a_grid_screen_has_the_terminal_only_for_a_signed_in_kiosk(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Gallery", [GRID, SPOT])
        owner = await signed_in(world, world.owner)
        admin = await signed_in(world, world.admin)
        stranger = await signed_in(world, world.other)
        for who, grid_terminal in ((owner, True), (admin, True), (stranger, False)):
            wall = await text_of(await who.get(f"/i/{made.public_id}/wall"))
            assert ("data-terminal" in wall) is grid_terminal
            assert ('class="kiosk-terminal"' in wall) is grid_terminal
            spot = await text_of(await who.get(f"/i/{made.public_id}/spot"))
            assert "data-terminal" not in spot  # the original's: grids only
        anonymous = await text_of(await client(world).get(f"/i/{made.public_id}/wall"))
        assert "data-terminal" not in anonymous
        assert 'name="csrf_token"' not in anonymous


async def test_the_remote_asks_one_screen_to_reload_or_try_its_sound(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        made = await world.panic.installations.create(world.network.id, "Foyer", [GRID, SPOT])
        base = f"/ws/displays/{made.public_id}"
        owner = await signed_in(world, world.owner)
        token = await csrf_of(owner, "/remote")
        url = f"/installations/{made.id}/screens"
        json_answer = {"Accept": "application/json"}
        async with (
            client(world).websocket(f"{base}/wall") as wall,
            client(world).websocket(f"{base}/spot") as spot,
        ):
            await receive(wall)
            await receive(spot)
            await trio.testing.wait_all_tasks_blocked()
            sound = await owner.post(
                url,
                form={"request": "sound", "watcher": "wall", "csrf_token": token},
                headers=json_answer,
            )
            assert sound.status_code == 200
            assert (await sound.get_json())["asked"] == "sound"
            assert await receive(wall) == {"type": "sound"}
            await trio.testing.wait_all_tasks_blocked()
            bad = await owner.post(
                url, form={"request": "explode", "csrf_token": token}, headers=json_answer
            )
            assert bad.status_code == 422
            reload = await owner.post(
                url,
                form={
                    "request": "reload",
                    "watcher": "spot",
                    "next": "/remote",
                    "csrf_token": token,
                },
            )
            assert reload.status_code == 303
            assert reload.headers["Location"] == "/remote"
            assert await receive(spot) == {"type": "reload"}
            with trio.move_on_after(0.5):  # only the screens asked for answer
                await receive(wall)
                raise AssertionError("the wall was not asked")
        stranger = await signed_in(world, world.other)
        refused = await stranger.post(
            url, form={"request": "reload", "csrf_token": await csrf_of(stranger)}
        )
        assert refused.status_code == 404
