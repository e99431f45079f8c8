"""Fixtures for the hosted-platform tests: fake servers, one httpx client, fast policies.

Each fake server runs in the test's nursery on 127.0.0.1 port 0 and is shut
down when the test ends. Real sockets mean real time, so retry and poll
policies here use millisecond delays (``FAST_RETRY``, ``FAST_POLL``); pure
timing rules are tested with ``autojump_clock`` where no socket is involved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio

from panic_trio.models import Model, get_model
from panic_trio.platforms.base import Call
from panic_trio.platforms.http import RetryPolicy
from panic_trio.platforms.replicate import PollPolicy
from panic_trio.settings import Settings
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate
from tests.fakes.vestaboard import FakeVestaboard

GUARD_SECONDS = 10
FAST_RETRY = RetryPolicy(retries=3, base_seconds=0.01, cap_seconds=0.04)
FAST_POLL = PollPolicy(
    initial_seconds=0.01,
    factor=2.0,
    max_seconds=0.04,
    timeout_seconds=5.0,
    failed_base_seconds=0.01,
)


def platform_settings(**overrides: Any) -> Settings:
    """Settings pointing nowhere real unless a test passes base URLs."""
    values: dict[str, Any] = {
        "openai_base_url": "http://127.0.0.1:9/v1",
        "replicate_base_url": "http://127.0.0.1:9/v1",
        "gemini_base_url": "http://127.0.0.1:9/v1beta",
        "vestaboard_base_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings(**values)


def make_call(model: str | Model, text: str, token: str | None) -> Call:
    resolved = get_model(model) if isinstance(model, str) else model
    return Call(model=resolved, input=text, token=token, invocation_id=1)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture
async def openai_fake(nursery: trio.Nursery) -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start(nursery)
    yield fake
    fake.stop()


@pytest.fixture
async def replicate_fake(nursery: trio.Nursery) -> AsyncIterator[FakeReplicate]:
    fake = FakeReplicate()
    await fake.start(nursery)
    yield fake
    fake.stop()


@pytest.fixture
async def gemini_fake(nursery: trio.Nursery) -> AsyncIterator[FakeGemini]:
    fake = FakeGemini()
    await fake.start(nursery)
    yield fake
    fake.stop()


@pytest.fixture
async def vestaboard_fake(nursery: trio.Nursery) -> AsyncIterator[FakeVestaboard]:
    fake = FakeVestaboard()
    await fake.start(nursery)
    yield fake
    fake.stop()
