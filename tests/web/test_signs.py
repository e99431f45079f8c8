"""The printable QR: a lasting link per network that mints a one-hour terminal link
when scanned; owner-controlled, rotatable, revocable; a clean page to print."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import trio
from quart.typing import TestClientProtocol as Client

from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in, text_of


async def qr_page(owner: Client, world: World) -> str:
    return await text_of(await owner.get(f"/networks/{world.network.id}/info/qr"))


def encoded(page: str) -> str:
    found = re.search(r'id="qr-url" href="([^"]+)"', page)
    assert found
    return found.group(1).replace("&amp;", "&")


async def choose(owner: Client, world: World, mode: str) -> int:
    token = await csrf_of(owner, f"/networks/{world.network.id}/info/qr")
    response = await owner.post(
        f"/networks/{world.network.id}/qr/mode", form={"qr_mode": mode, "csrf_token": token}
    )
    return response.status_code


async def rotate(owner: Client, world: World) -> int:
    token = await csrf_of(owner, f"/networks/{world.network.id}/info/qr")
    response = await owner.post(
        f"/networks/{world.network.id}/qr/rotate", form={"csrf_token": token}
    )
    return response.status_code


async def scan(world: World, sign: str) -> tuple[int, str]:
    """Scan a sign as a visitor's phone would: the status and where it sends them."""
    response = await client(world).get(urlsplit(sign).path)
    return response.status_code, response.headers.get("Location", "")


async def test_a_printed_sign_mints_a_working_terminal_link_on_every_scan(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        assert await choose(owner, world, "printed") == 303
        sign = encoded(await qr_page(owner, world))
        assert urlsplit(sign).path.startswith("/s/")
        assert sign == encoded(await qr_page(owner, world))  # stable: it can be printed
        status, first = await scan(world, sign)
        assert status == 303
        _, second = await scan(world, sign)
        assert first != second  # each scan mints its own
        network = await world.panic.get_network(world.network.id)
        for target in (first, second):
            token = target.split("token=")[1]
            assert world.tokens.check(token, network) == "ok"
        terminal = await client(world).get(urlsplit(first).path + "?" + urlsplit(first).query)
        assert terminal.status_code == 200
        assert 'name="prompt"' in await text_of(terminal)


async def test_rotating_the_sign_retires_the_old_one(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        await choose(owner, world, "printed")
        old = encoded(await qr_page(owner, world))
        assert await rotate(owner, world) == 303
        new = encoded(await qr_page(owner, world))
        assert new != old
        status, target = await scan(world, old)
        assert (status, urlsplit(target).path) == (
            302,
            f"/networks/{world.network.id}/terminal/expired",
        )
        expired = await text_of(await client(world).get(target))
        assert "This sign no longer works" in expired
        status, target = await scan(world, new)
        assert status == 303
        assert "token=" in target


async def test_withdrawing_the_sign_is_for_good(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        await choose(owner, world, "printed")
        sign = encoded(await qr_page(owner, world))
        assert await choose(owner, world, "screen") == 303
        screen_code = encoded(await qr_page(owner, world))
        assert "/terminal?token=" in screen_code  # back to a one-hour link
        assert (await scan(world, sign))[0] == 302
        await choose(owner, world, "printed")  # printing again makes a new sign
        assert encoded(await qr_page(owner, world)) != sign
        assert (await scan(world, sign))[0] == 302


async def test_a_forged_or_foreign_sign_is_not_found(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        await choose(owner, world, "printed")
        sign = encoded(await qr_page(owner, world))
        code = urlsplit(sign).path.removeprefix("/s/")
        identity, generation, signature = code.split(".")
        for forged in (
            f"{identity}.{int(generation) + 1}.{signature}",
            f"{identity}.{generation}.{signature[:-2]}AA",
            "nonsense",
            f"{identity}.{generation}",
            "..",
        ):
            assert (await client(world).get(f"/s/{forged}")).status_code == 404, forged
        terminal_token = world.tokens.issue(world.network)  # a terminal token is not a sign
        assert (await client(world).get(f"/s/{terminal_token}")).status_code == 404


async def test_the_qr_page_is_clean_and_says_the_trade_off(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        page = await qr_page(owner, world)
        sheet = page.split('id="qr-sheet"')[1].split("</section>")[0]
        assert "scan to prompt" in sheet
        assert world.network.name in sheet
        assert world.owner.email not in page  # no operator e-mail, no navigation
        assert "site-nav" not in page
        assert 'id="current-user-email"' not in page
        assert "Code on a screen" in page
        assert "Printed sign" in page
        assert "only people in the room can prompt" in page
        assert "Anyone with a\n      photo of it can prompt from anywhere" in page
        assert "@media print" in await text_of(await client(world).get("/static/panic.css"))


async def test_only_the_owner_chooses_and_bad_input_changes_nothing(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        stranger = await signed_in(world, world.other)
        assert await choose(stranger, world, "printed") == 404
        anonymous = client(world)
        token = await csrf_of(anonymous)
        response = await anonymous.post(
            f"/networks/{world.network.id}/qr/mode",
            form={"qr_mode": "printed", "csrf_token": token},
        )
        assert response.status_code == 302  # to sign in
        owner = await signed_in(world, world.owner)
        no_csrf = await owner.post(
            f"/networks/{world.network.id}/qr/mode", form={"qr_mode": "printed"}
        )
        assert no_csrf.status_code in (400, 403)
        assert await choose(owner, world, "billboard") == 303
        assert await rotate(owner, world) == 303  # nothing to rotate: said, not done
        network = await world.panic.get_network(world.network.id)
        assert (network.qr_mode, network.sign_generation) == ("screen", 0)
