"""Credentials bound to a row's creation, not to its id (issue 12, finding 1).

The probe: account A made network 3, took a QR token, deleted the network;
B's next network got id 3 and A's token started a run on it (paid with B's
platform tokens). The same with an open socket, and with display links of
installations. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from quart.typing import TestWebsocketConnectionProtocol as Socket

from panic_trio import Settings, open_panic
from panic_trio.domain import Network
from panic_trio.security.tokens import derive_key
from panic_trio.store.schema import installations, networks
from panic_trio.web import create_app
from panic_trio.web.live import NETWORK_DELETED
from panic_trio.web.terminal_tokens import TerminalTokens
from tests.web.conftest import (
    PASSWORD,
    SECRET,
    TIMEOUT,
    FakeClock,
    World,
    client,
    make_settings,
    signed_in,
)

WALL = {"type": "grid", "name": "wall", "rows": 1, "columns": 2}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with open_panic(settings) as panic:
        clock = FakeClock()
        tokens = TerminalTokens(derive_key(SECRET, "panic-trio terminal tokens"), clock=clock)
        app = create_app(panic, settings, secret_key=SECRET, terminal_tokens=tokens)
        owner = await panic.create_user("owner@example.org", PASSWORD)
        other = await panic.create_user("other@example.org", PASSWORD)
        admin = await panic.create_user("admin@example.org", PASSWORD, admin=True)
        network = await panic.create_network(owner.id, "A's", models=["dummy-t2t"])
        async with app.test_app():
            yield World(panic, app, settings, clock, tokens, owner, other, admin, network)


async def reuse_id(world: World, table: str, row_id: int, **values: object) -> None:
    """Make a row with a dead row's id, as a database restored from a backup could."""
    now = world.panic.store.now()
    target = {"networks": networks, "installations": installations}[table]

    def insert(conn: object) -> None:
        conn.execute(  # type: ignore[attr-defined]
            target.insert().values(id=row_id, created_at=now, updated_at=now, **values)
        )

    await world.panic.store.write(insert)


async def qr_token(world: World, network: Network) -> str:
    """A terminal token as its owner gets it: from the QR code's JSON."""
    owner = await signed_in(world, world.owner)
    body = await (await owner.get(f"/networks/{network.id}/info/qr.json")).get_json()
    match = re.search(r"token=([^&\s]+)", body["url"])
    assert match, body
    return match.group(1)


async def test_a_deleted_networks_qr_token_never_starts_a_run_on_a_newer_network(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        panic, old = world.panic, world.network
        token = await qr_token(world, old)
        await panic.delete_network(old.id)
        theirs = await panic.create_network(world.other.id, "B's", models=["dummy-t2t"])
        assert theirs.id != old.id  # ids are never reused
        visitor = client(world)
        stale = await visitor.post(
            f"/api/networks/{old.id}/runs?token={token}", json={"prompt": "x"}
        )
        assert stale.status_code == 404
        aimed = await visitor.post(
            f"/api/networks/{theirs.id}/runs?token={token}", json={"prompt": "x"}
        )
        assert aimed.status_code == 401
        # Even with the id itself reused, the token was for another network's creation.
        await reuse_id(
            world, "networks", old.id, owner_id=world.other.id, name="B's too", description="",
            models=["dummy-t2t"], lockout_seconds=0,
        )  # fmt: skip
        reused = await visitor.post(
            f"/api/networks/{old.id}/runs?token={token}", json={"prompt": "x"}
        )
        assert reused.status_code == 401
        assert (await reused.get_json())["message"] == "the terminal token is revoked"
        page = await visitor.get(f"/networks/{old.id}/terminal?token={token}")
        assert page.status_code == 302
        assert page.headers["Location"].endswith(f"/networks/{old.id}/terminal/expired")
        async with visitor.websocket(f"/ws/networks/{old.id}?token={token}") as ws:
            await ws.receive()  # status
            await ws.send(json.dumps({"type": "start_run", "prompt": "x"}))
            reply = json.loads(await ws.receive())
        assert reply["type"] == "error"
        assert "revoked" in reply["message"]
        assert panic.status(old.id).state == "idle"
        assert panic.status(theirs.id).state == "idle"


async def prompt_until_closed(ws: Socket) -> WebsocketDisconnectError:
    """Keep prompting; no prompt may start a run before the socket is closed."""
    try:
        while True:
            await ws.send(json.dumps({"type": "start_run", "prompt": "x"}))
            assert json.loads(await ws.receive())["type"] != "run_started"
    except WebsocketDisconnectError as closed:
        return closed


async def test_deleting_a_network_closes_its_sockets(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        panic, old = world.panic, world.network
        owner = await signed_in(world, world.owner)
        async with owner.websocket(f"/ws/networks/{old.id}") as ws:
            await ws.receive()  # status
            await panic.delete_network(old.id)
            theirs = await panic.create_network(world.other.id, "B's", models=["dummy-t2t"])
            closed = await prompt_until_closed(ws)
            assert closed.args[0] == NETWORK_DELETED
        assert panic.status(theirs.id).state == "idle"


async def test_a_deleted_installations_display_link_never_shows_a_newer_one(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        panic = world.panic
        mine = await panic.installations.create(world.network.id, "A's screens", [WALL])
        link = f"/i/{mine.public_id}/wall"
        assert (await client(world).get(link)).status_code == 200
        await panic.delete_network(world.network.id)
        theirs_net = await panic.create_network(world.other.id, "B's", models=["dummy-t2t"])
        theirs = await panic.installations.create(theirs_net.id, "B's screens", [WALL])
        assert theirs.id != mine.id
        await reuse_id(
            world, "installations", mine.id, network_id=theirs_net.id, name="B's too",
            watchers=[WALL],
        )  # fmt: skip
        assert (await panic.installations.get(mine.id)).name == "B's too"
        # the link, a bare id, and ids that only str.isdigit() takes for digits (were a 500)
        for stale in (link, f"/i/{mine.id}/wall", "/i/%C2%B2-1/wall", "/i/1%D9%A3-1/wall"):
            assert (await client(world).get(stale)).status_code == 404, stale
        async with client(world).websocket(f"/ws/displays/{mine.public_id}/wall") as ws:
            with pytest.raises(WebsocketResponseError) as refused:
                await ws.receive()
        assert refused.value.response.status_code == 404
        fresh = await panic.installations.get(mine.id)
        assert (await client(world).get(f"/i/{fresh.public_id}/wall")).status_code == 200
