"""Shared fixtures.

Rules for tests in this suite:
- Real parts wherever they run here: SQLite files (and PostgreSQL when
  PT_TEST_POSTGRES_URL is set, as scripts/test does), real threads, real
  HTTP servers on 127.0.0.1. Fakes only at seams we own (the Platform protocol).
- Exact timing tests use pytest-trio's ``autojump_clock`` with ``inline=True``
  (blocking calls on the loop), because the autojump clock does not wait for
  worker threads.
- Every test that does I/O runs under a ``trio.fail_after`` guard.
- Under scripts/test (PT_ALL_PARTS=1) every part is installed, so a test that
  skips for a missing part (chromium, ffmpeg, PostgreSQL) fails instead: only
  the live-provider tests, which need real keys, may skip.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from panic_trio import Panic, Settings, open_panic
from panic_trio.domain import Network, User

POSTGRES_URL = os.environ.get("PT_TEST_POSTGRES_URL")
ALL_PARTS = os.environ.get("PT_ALL_PARTS") == "1"
MAY_SKIP = "tests/platforms/test_live.py"  # needs real provider keys, which CI has not


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """Under scripts/test a skip for a missing part is a failure, never a way to go green."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if ALL_PARTS and report.skipped and not item.nodeid.startswith(MAY_SKIP):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but scripts/test provides every part: {reason}"


@pytest.fixture(autouse=True)
def _clean_panic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit PANIC_* settings from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("PANIC_"):
            monkeypatch.delenv(key)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Offline settings on a fresh SQLite file; no backoff between steps."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'panic.db'}",
        data_dir=tmp_path / "data",
        secret_key="test secret key, long enough",
        backoff="inf:0",
    )


@pytest.fixture
async def panic(settings: Settings) -> AsyncIterator[Panic]:
    """A real engine: SQLite file, worker threads, dummy platform."""
    async with open_panic(settings) as opened:
        yield opened


@pytest.fixture
async def owner(panic: Panic) -> User:
    """A user who owns networks."""
    return await panic.create_user("owner@example.org", "correct horse battery")


@pytest.fixture
async def loop_network(panic: Panic, owner: User) -> Network:
    """text → image → text, the demo cycle."""
    return await panic.create_network(owner.id, "loop", models=["dummy-t2i", "dummy-i2t"])


def fresh_postgres_database() -> str:
    """A new empty database on the test cluster; returns its URL."""
    import uuid

    import sqlalchemy

    assert POSTGRES_URL is not None
    name = f"panic_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def postgres_url() -> str:
    """A fresh database on the PostgreSQL cluster scripts/test starts (skipped without one,
    which scripts/test turns into a failure)."""
    if POSTGRES_URL is None:
        pytest.skip("PT_TEST_POSTGRES_URL is not set (scripts/test sets it)")
    return fresh_postgres_database()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL (when scripts/test started one)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))
