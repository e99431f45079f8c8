"""Per-address connection caps and slow bodies, through a real Hypercorn (finding 5).

The probe: no cap on WebSockets per client, and a slow request body got a
408 after 60 s but kept its connection as long as a byte came every 4 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import trio
from hypercorn.trio import serve

from panic_trio import open_panic
from panic_trio.app import hypercorn_config
from panic_trio.web import create_app
from tests.reliability.test_socket_flood import upgrade
from tests.web.conftest import SECRET, TIMEOUT, make_settings


@asynccontextmanager
async def served(tmp_path: Path, **limits: object) -> AsyncIterator[int]:
    """The app under Hypercorn on a free loopback port, with network 1; yields the port."""
    settings = make_settings(tmp_path, **limits)
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        owner = await panic.create_user("limits@example.org", "correct horse battery")
        network = await panic.create_network(owner.id, "n", models=["dummy-t2t"])
        assert network.id == 1
        config = hypercorn_config(settings)
        config.bind = ["127.0.0.1:0"]
        config.errorlog = None
        config.graceful_timeout = 0.5
        stop = trio.Event()
        app = create_app(panic, settings, secret_key=SECRET)
        urls = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
        try:
            yield int(urls[0].rsplit(":", 1)[1])
        finally:
            stop.set()


async def get(port: int, path: str) -> bytes:
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := await stream.receive_some():
            answer += chunk
        return answer


async def slow_post(port: int) -> trio.SocketStream:
    """A request whose body will take for ever (100 bytes announced)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(
        b"POST /sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100\r\n\r\na"
    )
    return stream


async def test_a_slow_body_gets_408_and_its_connection_closed(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with served(tmp_path, body_timeout=1.0) as port:
            stream = await slow_post(port)
            answer = b""
            closed_after = None
            started = trio.current_time()
            async with stream:
                for _ in range(40):  # a byte every 0.25 s, for up to 10 s
                    with trio.move_on_after(0.25):
                        chunk = await stream.receive_some()
                        if not chunk:
                            closed_after = trio.current_time() - started
                            break
                        answer += chunk
                    try:
                        await stream.send_all(b"a")
                    except trio.BrokenResourceError:
                        closed_after = trio.current_time() - started
                        break
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
            assert closed_after is not None, "the connection stayed open after the 408"
            assert closed_after < 5


async def test_requests_and_sockets_over_the_per_address_cap_are_refused(
    tmp_path: Path,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with served(
            tmp_path, max_requests_per_client=3, max_sockets_per_client=2, body_timeout=3.0
        ) as port:
            assert (await get(port, "/healthz")).startswith(b"HTTP/1.1 200")
            held = [await slow_post(port) for _ in range(3)]
            await trio.sleep(0.3)  # all three are in progress now
            refused = await get(port, "/healthz")
            assert refused.startswith(b"HTTP/1.1 429"), refused[:100]
            assert b"retry-after: 5" in refused.lower()
            for stream in held:
                await stream.aclose()
            while not (await get(port, "/healthz")).startswith(b"HTTP/1.1 200"):
                await trio.sleep(0.1)  # the held requests end, and room is back
            sockets = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(3)]
            statuses = [await upgrade(s, "/ws/networks/1") for s in sockets]
            assert statuses == [101, 101, 429]
            for stream in sockets:
                await stream.aclose()
