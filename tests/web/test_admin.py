"""The admin page: admins only; live feed, stop one/all, backup."""

from __future__ import annotations

import json
import re

import pytest
import trio
from quart.testing.connections import WebsocketResponseError

from panic_trio.domain import Invocation
from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in, text_of


async def test_admin_page_is_for_admins(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        anonymous = await client(world).get("/admin")
        assert anonymous.status_code == 302
        owner = await signed_in(world, world.owner)
        assert (await owner.get("/admin")).status_code == 403
        admin = await signed_in(world, world.admin)
        response = await admin.get("/admin")
        assert response.status_code == 200
        page = await text_of(response)
        for needle in (
            "Admin panel",
            "Stop all jobs",
            "Download backup",
            "<h2>Invocations</h2>",
            "<h2>Networks</h2>",
            f'data-network-state="{world.network.id}"',
        ):
            assert needle in page


async def test_admin_page_lists_recent_invocations(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        genesis = await world.panic.start_run(world.network.id, "feed me")
        admin = await signed_in(world, world.admin)
        page = await text_of(await admin.get("/admin"))
        assert f'<a href="/display/static/{genesis.id}">{genesis.id}</a>' in page
        assert f"{world.network.id}-{genesis.run_number}-0" in page
        assert "feed me" in page


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        (0, "No running jobs found to stop"),
        (1, "Stopped 1 running job"),
        (2, "Stopped 2 running jobs"),
    ],
)
async def test_stop_all(world: World, runs: int, message: str) -> None:
    with trio.fail_after(TIMEOUT):
        second = await world.panic.create_network(world.other.id, "Two", models=["dummy-t2t"])
        for network_id in (world.network.id, second.id)[:runs]:
            await world.panic.start_run(network_id, "running")
        owner = await signed_in(world, world.owner)
        refused = await owner.post("/admin/stop-all", form={"csrf_token": await csrf_of(owner)})
        assert refused.status_code == 403
        admin = await signed_in(world, world.admin)
        unconfirmed = await admin.post("/admin/stop-all", form={"csrf_token": await csrf_of(admin)})
        assert unconfirmed.status_code == 303
        assert "Nothing was stopped" in await text_of(await admin.get("/admin"))
        for network_id in (world.network.id, second.id)[:runs]:
            assert world.panic.status(network_id).active  # not without "yes"
        response = await admin.post(
            "/admin/stop-all", form={"csrf_token": await csrf_of(admin), "confirm": "yes"}
        )
        assert response.status_code == 303
        page = await text_of(await admin.get("/admin"))
        assert message in page, re.findall(r"flash-text\">([^<]*)", page)
        assert world.panic.status(world.network.id).state == "idle"
        assert world.panic.status(second.id).state == "idle"


async def test_admin_stops_one_network_and_returns(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.start_run(world.network.id, "running")
        admin = await signed_in(world, world.admin)
        response = await admin.post(
            f"/networks/{world.network.id}/stop",
            form={"csrf_token": await csrf_of(admin), "next": "/admin"},
        )
        assert response.headers["Location"] == "/admin"
        assert world.panic.status(world.network.id).state == "idle"


async def test_backup_is_for_admins_and_is_a_sqlite_file(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        for c in (client(world), await signed_in(world, world.owner)):
            refused = await c.get("/admin/backup")
            assert refused.status_code == 403
            assert await refused.get_json() == {"error": "Forbidden"}
        admin = await signed_in(world, world.admin)
        response = await admin.get("/admin/backup")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="panic_backup_')
        assert disposition.endswith('.db"')
        body: bytes = await response.get_data(as_text=False)
        assert body.startswith(b"SQLite format 3")


async def test_live_feed_is_for_admins(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        async with owner.websocket("/ws/admin") as ws:
            with pytest.raises(WebsocketResponseError) as refused:
                await ws.receive()
        assert refused.value.response.status_code == 403
        admin = await signed_in(world, world.admin)
        second = await world.panic.create_network(world.other.id, "Two", models=["dummy-t2t"])
        async with admin.websocket("/ws/admin") as ws:
            first = json.loads(await ws.receive())
            assert first == {"type": "snapshot", "invocations": [], "gap": False}
            seen: set[int] = set()
            await world.panic.start_run(world.network.id, "one")
            await world.panic.start_run(second.id, "two")
            while seen != {world.network.id, second.id}:
                message = json.loads(await ws.receive())
                assert message["type"] in ("invocation", "archived")
                assert message["status"]["state"]
                seen.add(message["invocation"]["network_id"])


async def test_a_reconnecting_feed_gets_what_it_missed_or_a_gap(world: World) -> None:
    store = world.panic.store
    with trio.fail_after(TIMEOUT):
        row = genesis = await store.create_genesis(world.network.id, "dummy-t2t", "many")
        for step in range(120):
            _, row = await store.complete_and_prepare_next(
                row.id, f"out {step}", {}, start_next=True
            )
        admin = await signed_in(world, world.admin)
        async with admin.websocket(f"/ws/admin?since={row.id - 5}") as ws:
            caught_up = json.loads(await ws.receive())
        async with admin.websocket(f"/ws/admin?since={genesis.id}") as ws:
            too_far = json.loads(await ws.receive())
    assert caught_up["type"] == "snapshot"
    assert caught_up["gap"] is False
    ids = [i["id"] for i in caught_up["invocations"]]
    assert ids == list(range(row.id, row.id - 100, -1))  # newest first, nothing skipped
    assert too_far["gap"] is True


async def _settled(world: World, count: int) -> list[Invocation]:
    """The newest invocations once ``count`` of them have finished (completed or failed)."""
    while True:
        rows = await world.panic.recent_invocations(20)
        if sum(r.state in ("completed", "failed") for r in rows) >= count:
            return rows
        await trio.sleep(0.05)


async def test_admin_page_names_owners_shows_thumbnails_and_failure_reasons(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        paid = await world.panic.create_network(world.other.id, "Paid", models=["gpt-5-chat"])
        await world.panic.start_run(world.network.id, "draw me")  # dummy-t2i: an image
        await world.panic.start_run(paid.id, "no token")  # fails: other has no OpenAI token
        rows = await _settled(world, 2)
        image = next(r for r in rows if r.model == "dummy-t2i" and r.state == "completed")
        failed = next(r for r in rows if r.network_id == paid.id and r.state == "failed")
        admin = await signed_in(world, world.admin)
        page = await text_of(await admin.get("/admin"))
        networks = page[page.index('id="admin-networks"') : page.index("</table>")]
        assert "User ID" not in networks
        assert ">owner@example.org</a>" in networks
        assert ">other@example.org</a>" in networks
        thumb = re.search(rf'<img class="feed-thumb" src="([^"]+)" alt="output {image.id}"', page)
        assert thumb is not None
        assert (await admin.get(thumb.group(1))).status_code == 200  # a real picture
        reason = str(failed.metadata["error"])
        assert reason
        assert f'<span class="failed-reason">Failed: {reason}</span>' in page.replace("&#39;", "'")


async def test_admin_stop_is_offered_only_for_running_networks(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        idle = await world.panic.create_network(world.other.id, "Idle", models=["dummy-t2t"])
        await world.panic.start_run(world.network.id, "running")
        admin = await signed_in(world, world.admin)
        page = await text_of(await admin.get("/admin"))
        running = re.search(rf'data-stop-network="{world.network.id}" ?(disabled)?>', page)
        stopped = re.search(rf'data-stop-network="{idle.id}" ?(disabled)?>', page)
        assert running is not None
        assert stopped is not None
        assert running.group(1) is None
        assert stopped.group(1) == "disabled"
