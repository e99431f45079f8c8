"""The terminal page: who may open it, the expired page, the no-JS prompt path."""

from __future__ import annotations

import re

import pytest
import trio
from quart.typing import TestClientProtocol as Client

from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in, text_of


def expired_url(world: World) -> str:
    return f"/networks/{world.network.id}/terminal/expired"


@pytest.mark.parametrize("who", ["owner", "admin"])
async def test_owner_and_admin_need_no_token(world: World, who: str) -> None:
    with trio.fail_after(TIMEOUT):
        c = await signed_in(world, getattr(world, who))
        for suffix in ("", "?token=garbage"):
            response = await c.get(f"/networks/{world.network.id}/terminal{suffix}")
            assert response.status_code == 200
            page = await text_of(response)
            assert 'class="terminal-container"' in page
            assert "Current run:" in page
            assert 'placeholder="Ready for new input"' in page
            assert "QR Code Expired" not in page


async def test_anonymous_with_a_valid_token_gets_the_terminal(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        response = await client(world).get(f"/networks/{world.network.id}/terminal?token={token}")
        assert response.status_code == 200
        page = await text_of(response)
        assert 'placeholder="Ready for new input"' in page
        assert f'"token": "{token}"' in page  # for the page's WebSocket


@pytest.mark.parametrize("problem", ["missing", "garbage", "expired", "other_network", "user"])
async def test_everyone_else_lands_on_the_expired_page(world: World, problem: str) -> None:
    with trio.fail_after(TIMEOUT):
        c: Client = client(world)
        token = ""
        if problem == "garbage":
            token = "1.2.3.not-a-signature"
        elif problem == "expired":
            token = world.tokens.issue(world.network)
            world.clock.now += 3601
        elif problem == "other_network":
            other = await world.panic.create_network(world.other.id, "Theirs", models=["dummy-t2t"])
            token = world.tokens.issue(other)
        elif problem == "user":
            c = await signed_in(world, world.other)  # signed in, but not the owner
        query = f"?token={token}" if token else ""
        response = await c.get(f"/networks/{world.network.id}/terminal{query}")
        assert response.status_code == 302
        assert response.headers["Location"] == expired_url(world)


async def test_expired_page_explains_what_to_do(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        page = await text_of(await client(world).get(expired_url(world)))
        assert "<h1>QR Code Expired</h1>" in page
        assert "expired for security reasons" in page
        assert "valid for 1 hour" in page
        assert "How to get a new QR code" in page
        assert re.search(r'<a [^>]*href="/about">Learn more about PANIC!</a>', page)
        assert "View network details" not in page
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(expired_url(world)))
        assert f'<a href="/networks/{world.network.id}">View network details</a>' in page


async def submit(c: Client, url: str, prompt: str, token: str) -> str:
    response = await c.post(url, form={"prompt": prompt, "csrf_token": token})
    assert response.status_code == 303
    return await text_of(await c.get(response.headers["Location"]))


async def test_every_submission_gets_a_visible_answer_without_javascript(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        url = f"/networks/{world.network.id}/terminal?token={token}"
        c = client(world)
        csrf = await csrf_of(c, url)
        assert "Started: a sheep on the grass" in await submit(c, url, "a sheep on the grass", csrf)
        page = await submit(c, url, "too soon", csrf)
        assert "Please wait before starting a new run" in page
        assert "data-ready-at=" in page
        assert "a sheep on the grass" in page  # Current run:
        assert "prompt must not be empty" in await submit(c, url, "   ", csrf)


async def test_terminal_post_needs_csrf_and_a_token(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        url = f"/networks/{world.network.id}/terminal"
        c = client(world)
        await csrf_of(c)
        assert (await c.post(f"{url}?token={token}", form={"prompt": "x"})).status_code == 403
        csrf = await csrf_of(c)
        no_token = await c.post(url, form={"prompt": "x", "csrf_token": csrf})
        assert no_token.headers["Location"] == expired_url(world)
        assert world.panic.status(world.network.id).state == "idle"


async def test_a_prompt_during_shutdown_is_asked_again_later_not_a_500(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        url = f"/networks/{world.network.id}/terminal?token={token}"
        c = client(world)
        csrf = await csrf_of(c, url)
        await world.panic.engine.shut_down()
        page = await submit(c, url, "a sheep on the grass", csrf)
    assert "The installation is restarting: try again in a moment" in page
    assert await world.panic.store.recent_invocations(1, world.network.id) == []
