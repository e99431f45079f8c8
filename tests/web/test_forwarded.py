"""PANIC_PROXY_HOPS: the visitor's address and scheme, believed from trusted proxies only.

The whole chain (nginx's headers, the prompt log's address) is in
tests/nodes/test_proxy.py; here, what the middleware believes.
"""

from __future__ import annotations

from typing import Any

import pytest

from panic_trio.errors import ConfigError
from panic_trio.settings import Settings
from panic_trio.web.forwarded import Forwarded


async def seen(kind: str, headers: list[tuple[bytes, bytes]], hops: int = 1) -> dict[str, Any]:
    """The scope the app behind the middleware is given."""
    given: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        given.update(scope)

    scope = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "client": ("127.0.0.1", 50000),
        "headers": headers,
    }
    await Forwarded(app, hops=hops)(scope, None, None)  # type: ignore[arg-type]
    return given


async def test_the_address_is_the_one_the_trusted_proxy_saw_not_what_the_client_wrote() -> None:
    headers = [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7"), (b"x-forwarded-proto", b"https")]
    scope = await seen("http", headers)
    assert scope["client"] == ("203.0.113.7", 0)
    assert scope["scheme"] == "https"
    assert (await seen("http", headers, hops=2))["client"] == ("6.6.6.6", 0)


async def test_a_websocket_keeps_a_websocket_scheme() -> None:
    for proto, scheme in ((b"https", "wss"), (b"http", "ws")):
        headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", proto)]
        scope = await seen("websocket", headers)
        assert scope["scheme"] == scheme
        assert scope["client"] == ("203.0.113.7", 0)


async def test_without_the_headers_nothing_changes() -> None:
    scope = await seen("http", [(b"x-forwarded-proto", b"gopher")])
    assert scope["client"] == ("127.0.0.1", 50000)
    assert scope["scheme"] == "http"
    assert (await seen("lifespan", []))["type"] == "lifespan"


def test_proxy_hops_is_a_setting_off_by_default() -> None:
    assert Settings().proxy_hops == 0
    assert Settings.from_env({"PANIC_PROXY_HOPS": "1"}).proxy_hops == 1
    with pytest.raises(ConfigError, match="proxy_hops"):
        Settings(proxy_hops=-1)
