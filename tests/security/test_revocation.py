"""Sessions and terminal tokens end when asked, without touching the secret key (finding 8).

The probe: a copied session cookie still worked after sign-out for its 14
days, and the only way to end sessions and QR tokens was to rotate the
secret key, which also made every stored platform token unreadable.
"""

from __future__ import annotations

import json

import trio
from quart.typing import TestClientProtocol as Client

from tests.security.test_secrets_sessions import session_cookie
from tests.web.conftest import PASSWORD, TIMEOUT, World, client, csrf_of, signed_in, text_of

NEW_PASSWORD = "a different long password"


def copy_of(world: World, original: Client) -> Client:
    """Another browser holding a copy of ``original``'s session cookie."""
    thief = client(world)
    thief.set_cookie("localhost", "_panic_key", session_cookie(original))
    return thief


async def dashboard_status(c: Client, world: World) -> int:
    return int((await c.get(f"/users/{world.owner.id}")).status_code)


async def test_sign_out_everywhere_ends_copied_cookies_at_once(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.set_platform_token(world.owner.id, "openai", "sk-keep-me-readable")
        mine = await signed_in(world, world.owner)
        laptop = await signed_in(world, world.owner)
        thief = copy_of(world, mine)
        assert await dashboard_status(thief, world) == 200
        page = await text_of(await mine.get(f"/users/{world.owner.id}"))
        assert 'id="sign-out-everywhere"' in page
        out = await mine.post("/sign-out-everywhere", form={"csrf_token": await csrf_of(mine)})
        assert out.status_code == 303
        for holder in (mine, laptop, thief):
            assert await dashboard_status(holder, world) == 302  # to sign-in
        assert await world.panic.platform_token(world.owner.id, "openai") == "sk-keep-me-readable"
        again = await signed_in(world, world.owner)  # signing in again works as ever
        assert await dashboard_status(again, world) == 200
        assert await dashboard_status(thief, world) == 302  # and the copy stays dead


async def test_changing_the_password_ends_every_other_session(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        mine = await signed_in(world, world.owner)
        other = await signed_in(world, world.owner)
        thief = copy_of(world, mine)
        csrf = await csrf_of(mine)
        wrong = await mine.post(
            f"/users/{world.owner.id}/password",
            form={"csrf_token": csrf, "current_password": "not it", "new_password": NEW_PASSWORD},
        )
        assert wrong.status_code == 422
        assert await dashboard_status(other, world) == 200  # nothing changed
        changed = await mine.post(
            f"/users/{world.owner.id}/password",
            form={"csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert changed.status_code == 303
        assert await dashboard_status(mine, world) == 200  # this browser goes on
        assert await dashboard_status(other, world) == 302
        assert await dashboard_status(thief, world) == 302
        assert await world.panic.authenticate(world.owner.email, PASSWORD) is None
        assert await world.panic.authenticate(world.owner.email, NEW_PASSWORD) is not None
        # Someone else's password is not theirs to change.
        stranger = await signed_in(world, world.other)
        theirs = await stranger.post(
            f"/users/{world.owner.id}/password",
            form={
                "csrf_token": await csrf_of(stranger),
                "current_password": NEW_PASSWORD,
                "new_password": "stranger's choice!!",
            },
        )
        assert theirs.status_code == 404


async def test_an_ended_session_cannot_prompt_on_an_open_socket(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        async with owner.websocket(f"/ws/networks/{world.network.id}") as ws:
            await ws.receive()  # status
            await world.panic.end_sessions(world.owner.id)
            await ws.send(json.dumps({"type": "start_run", "prompt": "still me?"}))
            reply = json.loads(await ws.receive())
        assert reply["type"] == "error"
        assert "signed out" in reply["message"]
        assert world.panic.status(world.network.id).state == "idle"


async def test_revoking_a_networks_qr_codes_refuses_them_at_once_everywhere(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        net = world.network.id
        owner = await signed_in(world, world.owner)
        old = world.tokens.issue(world.network)
        visitor = client(world)
        async with visitor.websocket(f"/ws/networks/{net}?token={old}") as ws:
            await ws.receive()  # status
            revoked = await owner.post(
                f"/networks/{net}/revoke-qr", form={"csrf_token": await csrf_of(owner)}
            )
            assert revoked.status_code == 303
            await ws.send(json.dumps({"type": "start_run", "prompt": "with my old QR"}))
            reply = json.loads(await ws.receive())
        assert reply["type"] == "error"
        assert "revoked" in reply["message"]
        api = await visitor.post(f"/api/networks/{net}/runs?token={old}", json={"prompt": "x"})
        assert api.status_code == 401
        page = await visitor.get(f"/networks/{net}/terminal?token={old}")
        assert page.headers["Location"].endswith("/terminal/expired")
        assert world.panic.status(net).state == "idle"
        # The QR code shown now is a fresh one, and works.
        body = await (await owner.get(f"/networks/{net}/info/qr.json")).get_json()
        fresh = body["url"].split("token=")[1]
        ok = await visitor.post(f"/api/networks/{net}/runs?token={fresh}", json={"prompt": "x"})
        assert ok.status_code == 201
        # Only the owner (or an admin) may revoke.
        stranger = await signed_in(world, world.other)
        refused = await stranger.post(
            f"/networks/{net}/revoke-qr", form={"csrf_token": await csrf_of(stranger)}
        )
        assert refused.status_code == 404
        assert world.tokens.check(fresh, await world.panic.get_network(net)) == "ok"
