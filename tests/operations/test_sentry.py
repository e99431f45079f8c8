"""Error reports: with PANIC_SENTRY_DSN, logged errors reach a Sentry endpoint on loopback."""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator

import pytest
import trio
from quart import Response

from panic_trio.errors import ConfigError
from panic_trio.operations import open_error_reports
from tests.fakes.server import FakeService, json_response
from tests.operations.conftest import GUARD


class FakeSentry(FakeService):
    """Accepts envelopes as Sentry's ingest does."""

    def __init__(self) -> None:
        super().__init__("fake-sentry")
        self.app.add_url_rule(
            "/api/<project>/envelope/", view_func=self._envelope, methods=["POST"]
        )

    async def _envelope(self, project: str) -> Response:
        return json_response({"id": "0" * 32})

    def envelopes(self, project: str) -> list[bytes]:
        bodies = []
        for recorded in self.received("POST", f"/api/{project}/envelope/"):
            body = recorded.body
            if recorded.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            bodies.append(body)
        return bodies


@pytest.fixture
async def sentry(nursery: trio.Nursery) -> AsyncIterator[FakeSentry]:
    fake = FakeSentry()
    await fake.start(nursery)
    yield fake
    fake.stop()


async def test_logged_errors_are_reported_and_warnings_are_not(sentry: FakeSentry) -> None:
    dsn = f"http://publickey@{sentry.url.removeprefix('http://')}/42"
    log = logging.getLogger("panic_trio.engine.runner")
    with trio.fail_after(GUARD):
        async with open_error_reports(dsn) as reporting:
            assert reporting
            log.warning("network 7: a passing warning")
            log.error("network 7: run failed unexpectedly")
    [envelope] = sentry.envelopes("42")
    assert b"network 7: run failed unexpectedly" in envelope
    assert b"panic-trio@" in envelope  # the release
    assert b"owner@example.org" not in envelope


async def test_without_a_dsn_nothing_is_set_up() -> None:
    async with open_error_reports(None) as reporting:
        assert not reporting


async def test_a_malformed_dsn_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="PANIC_SENTRY_DSN"):
        async with open_error_reports("not a dsn"):
            pass
