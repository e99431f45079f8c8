"""Live-server helpers: a free port, settings for it, a WebSocket client, a browser."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
from playwright.sync_api import Browser, sync_playwright
from trio_websocket import WebSocketConnection, wrap_client_stream

from panic_trio.settings import Settings
from tests.e2e.browsing import launch

SECRET = "an-e2e-secret-key-long-enough-for-tests"
PASSWORD = "correct horse battery"


def free_port() -> int:
    """A port nobody listens on right now (the dummy platform's URLs need the real one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def live_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a server on 127.0.0.1 and a free port."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'panic.db'}",
        "data_dir": tmp_path / "data",
        "secret_key": SECRET,
        "host": "127.0.0.1",
        "port": free_port(),
        "backoff": "inf:1000",
        "shutdown_timeout": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return live_settings(tmp_path)


@asynccontextmanager
async def open_ws(
    url: str, headers: list[tuple[bytes, bytes]] | None = None
) -> AsyncIterator[WebSocketConnection]:
    """A trio-websocket client whose TCP stream we own and always close.

    (trio-websocket 0.12.2 leaves the client socket open after the server
    closes the connection, which ``-W error`` reports as a ResourceWarning.)
    """
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    resource = parts.path + (f"?{parts.query}" if parts.query else "")
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream, trio.open_nursery() as nursery:
        ws = await wrap_client_stream(
            nursery, stream, parts.hostname, resource, extra_headers=headers
        )
        try:
            yield ws
        finally:
            with trio.move_on_after(2):
                await ws.aclose()
            nursery.cancel_scope.cancel()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per test module (each test opens its own context)."""
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()
