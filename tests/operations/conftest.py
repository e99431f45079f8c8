"""Fixtures for operations tests: a loopback SMTP server, a webhook receiver, a fake OpenAI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from panic_trio.settings import Settings
from tests.fakes.openai import FakeOpenAI
from tests.fakes.smtp import Inbox, smtp_server
from tests.fakes.webhook import FakeWebhook

GUARD = 20.0


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def webhook(nursery: trio.Nursery) -> AsyncIterator[FakeWebhook]:
    fake = FakeWebhook()
    await fake.start(nursery)
    yield fake
    fake.stop()


@pytest.fixture
async def openai_fake(nursery: trio.Nursery) -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start(nursery)
    yield fake
    fake.stop()


def ops_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Offline settings on a fresh SQLite file; a run waits 1000 s between steps."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'panic.db'}",
        "data_dir": tmp_path / "data",
        "secret_key": "test secret key, long enough",
        "backoff": "inf:1000",
        "shutdown_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


async def until(condition: Callable[[], bool], poll: float = 0.01) -> None:
    """Return once ``condition()`` holds (callers bound it with ``fail_after``)."""
    while not condition():
        await trio.sleep(poll)
