"""Fixtures for web tests: a real engine on a temporary SQLite file, dummy models.

Rules: every test that does I/O wraps its body in ``trio.fail_after``;
nothing waits with a fixed sleep (tests wait for events or messages); the
runner's backoff is 1000 s so a run sits in ``waiting`` after its genesis
unless a test asks otherwise.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol
from quart_trio import QuartTrio

from panic_trio.domain import Network, User
from panic_trio.panic import Panic, open_panic
from panic_trio.security.tokens import derive_key
from panic_trio.settings import Settings
from panic_trio.web import create_app
from panic_trio.web.terminal_tokens import TerminalTokens

SECRET = "a-test-secret-key-that-is-long-enough"
PASSWORD = "correct horse battery"
TIMEOUT = 15.0
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class FakeClock:
    """Wall-clock seconds that tests move forward (to age terminal tokens)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    """One app with its engine and three accounts."""

    panic: Panic
    app: QuartTrio
    settings: Settings
    clock: FakeClock
    tokens: TerminalTokens
    owner: User
    other: User
    admin: User
    network: Network


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Offline settings on a temporary database."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'panic.db'}",
        "data_dir": tmp_path / "data",
        "secret_key": SECRET,
        "backoff": "inf:1000",
        "shutdown_timeout": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with open_panic(settings) as panic:
        clock = FakeClock()
        tokens = TerminalTokens(derive_key(SECRET, "panic-trio terminal tokens"), clock=clock)
        app = create_app(
            panic, settings, secret_key=SECRET, terminal_tokens=tokens, prompt_limit=(50, 1.0)
        )
        owner = await panic.create_user("owner@example.org", PASSWORD)
        other = await panic.create_user("other@example.org", PASSWORD)
        admin = await panic.create_user("admin@example.org", PASSWORD, admin=True)
        network = await panic.create_network(
            owner.id, "Loop", models=["dummy-t2i", "dummy-i2t"], description="*hello*"
        )
        async with app.test_app():
            yield World(panic, app, settings, clock, tokens, owner, other, admin, network)


def client(world: World) -> TestClientProtocol:
    """A fresh client (its own cookie jar)."""
    return world.app.test_client()


async def csrf_of(test_client: TestClientProtocol, path: str = "/about") -> str:
    """The CSRF token of the client's session (from a page's meta tag)."""
    response = await test_client.get(path)
    match = _CSRF.search(await response.get_data(as_text=True))
    assert match, "every page carries <meta name=csrf-token>"
    return match.group(1)


async def signed_in(world: World, user: User) -> TestClientProtocol:
    """A client signed in as ``user``."""
    test_client = client(world)
    token = await csrf_of(test_client, "/sign-in")
    response = await test_client.post(
        "/sign-in", form={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    return test_client


async def text_of(response: Any) -> str:
    """The body of a test response as text."""
    body: str = await response.get_data(as_text=True)
    return body
