"""The Vestaboard read-write client: every outcome is an id or a readable PlatformError."""

from __future__ import annotations

import httpx
import pytest
import trio

from panic_trio.errors import MissingToken, PlatformError, PlatformRejected, PlatformUnavailable
from panic_trio.platforms.vestaboard import VestaboardClient
from tests.fakes.vestaboard import KEY, FakeVestaboard
from tests.platforms.conftest import GUARD_SECONDS, platform_settings


def client_for(fake: FakeVestaboard, http: httpx.AsyncClient) -> VestaboardClient:
    return VestaboardClient(http, platform_settings(vestaboard_base_url=fake.url))


async def send(board: VestaboardClient, text: str = "HELLO", token: str | None = KEY) -> str:
    with trio.fail_after(GUARD_SECONDS):
        return await board.send_text(text, token, "panic_1")


async def test_a_message_is_posted_and_its_id_returned(
    vestaboard_fake: FakeVestaboard, http_client: httpx.AsyncClient
) -> None:
    message_id = await send(client_for(vestaboard_fake, http_client), "A RED BALLOON")
    assert message_id == "msg-0001"
    [sent] = vestaboard_fake.received("POST", "/")
    assert sent.json() == {"text": "A RED BALLOON"}
    assert sent.headers["x-vestaboard-read-write-key"] == KEY
    assert vestaboard_fake.messages == ["A RED BALLOON"]


async def test_a_numeric_id_is_returned_as_text(
    vestaboard_fake: FakeVestaboard, http_client: httpx.AsyncClient
) -> None:
    vestaboard_fake.fail("POST", "/", status=200, json_body={"id": 42})
    assert await send(client_for(vestaboard_fake, http_client)) == "42"


async def test_a_bad_key_is_rejected_in_words(
    vestaboard_fake: FakeVestaboard, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(PlatformRejected) as info:
        await send(client_for(vestaboard_fake, http_client), token="wrong")
    assert info.value.status == 401
    assert info.value.message == ("Vestaboard panic_1 rejected the message (401): Unauthorized")


@pytest.mark.parametrize(
    ("status", "expected", "match"),
    [
        (304, PlatformRejected, r"did not change \(304\)"),
        (400, PlatformRejected, r"rejected the message \(400\)"),
        (404, PlatformRejected, r"rejected the message \(404\)"),
        (503, PlatformUnavailable, r"too quickly \(503\)"),
        (429, PlatformUnavailable, r"too quickly \(429\)"),
        (500, PlatformUnavailable, r"unavailable \(500\)"),
        (302, PlatformRejected, "unexpected status 302"),
        (202, PlatformRejected, "sent no message id"),
    ],
)
async def test_every_status_is_a_clear_error(
    vestaboard_fake: FakeVestaboard,
    http_client: httpx.AsyncClient,
    status: int,
    expected: type[PlatformError],
    match: str,
) -> None:
    vestaboard_fake.fail("POST", "/", status=status, json_body={"status": "whatever"})
    with pytest.raises(expected, match=match) as info:
        await send(client_for(vestaboard_fake, http_client))
    assert "panic_1" in info.value.message
    assert info.value.platform == "vestaboard"


async def test_a_malformed_body_is_rejected(
    vestaboard_fake: FakeVestaboard, http_client: httpx.AsyncClient
) -> None:
    vestaboard_fake.fail("POST", "/", status=200, body="<html>", content_type="text/html")
    with pytest.raises(PlatformRejected, match="Vestaboard sent a malformed response"):
        await send(client_for(vestaboard_fake, http_client))


async def test_an_unreachable_board_is_unavailable(http_client: httpx.AsyncClient) -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    board = VestaboardClient(
        http_client, platform_settings(vestaboard_base_url=f"http://127.0.0.1:{port}")
    )
    with pytest.raises(PlatformUnavailable, match="could not reach Vestaboard panic_1"):
        await send(board)


async def test_a_slow_board_times_out_as_unavailable(vestaboard_fake: FakeVestaboard) -> None:
    vestaboard_fake.fail("POST", "/", status=None, delay=2.0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.2)) as http:
        with pytest.raises(PlatformUnavailable, match="did not answer in time"):
            await send(client_for(vestaboard_fake, http))


async def test_a_missing_key_makes_no_request(
    vestaboard_fake: FakeVestaboard, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(MissingToken, match="Vestaboard panic_1"):
        await send(client_for(vestaboard_fake, http_client), token=None)
    assert vestaboard_fake.requests == []
