"""Fixtures for bad-input tests: one live app in a Trio thread, shared by many examples.

Hypothesis drives sync tests; each example calls into one app running in a
background thread's ``trio.run`` through :class:`Portal` (pytest-trio runs
each Hypothesis example of an async test in a new Trio run, which cannot
reach an engine opened by a fixture). The health check
``function_scoped_fixture`` is suppressed on purpose: each example must leave
the database as it found it, which is exactly what the tests assert. The
prompt rate limit is lifted so only the rules under test answer.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import outcome
import pytest
import trio
from hypercorn.trio import serve
from hypothesis import HealthCheck, settings

from panic_trio.app import hypercorn_config
from panic_trio.panic import open_panic
from panic_trio.security.tokens import derive_key
from panic_trio.web import create_app
from panic_trio.web.terminal_tokens import TerminalTokens
from tests.web.conftest import PASSWORD, SECRET, TIMEOUT, FakeClock, World, make_settings

T = TypeVar("T")

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


Job = tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], "queue.Queue[outcome.Outcome[Any]]"]


class Portal:
    """Runs coroutines in a worker task of the app's Trio run, each under ``fail_after``.

    (A plain ``trio.from_thread.run`` runs them as system tasks, where Quart's
    test WebSocket client corrupts the nursery stack.)
    """

    def __init__(
        self,
        token: trio.lowlevel.TrioToken,
        world: World,
        jobs: trio.MemorySendChannel[Job],
        url: str,
    ) -> None:
        self.token = token
        self.world = world
        self.url = url  # the same app, served by Hypercorn on 127.0.0.1
        self._jobs = jobs

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        reply: queue.Queue[outcome.Outcome[Any]] = queue.Queue(1)
        trio.from_thread.run_sync(self._jobs.send_nowait, (fn, args, reply), trio_token=self.token)
        result: T = reply.get(timeout=TIMEOUT + 5).unwrap()
        return result


async def _work(jobs: trio.MemoryReceiveChannel[Job]) -> None:
    async for fn, args, reply in jobs:

        async def guarded(fn: Callable[..., Awaitable[Any]] = fn, args: Any = args) -> Any:
            with trio.fail_after(TIMEOUT):
                return await fn(*args)

        reply.put(await outcome.acapture(guarded))


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """An app with three accounts and a lockout-free dummy network, in its own thread."""
    web_settings = make_settings(tmp_path)
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with open_panic(web_settings) as panic:
            clock = FakeClock()
            tokens = TerminalTokens(derive_key(SECRET, "panic-trio terminal tokens"), clock=clock)
            app = create_app(
                panic,
                web_settings,
                secret_key=SECRET,
                terminal_tokens=tokens,
                prompt_limit=(1_000_000, 1.0),
            )
            owner = await panic.create_user("owner@example.org", PASSWORD)
            other = await panic.create_user("other@example.org", PASSWORD)
            admin = await panic.create_user("admin@example.org", PASSWORD, admin=True)
            network = await panic.create_network(
                owner.id, "Loop", models=["dummy-t2i", "dummy-i2t"], lockout_seconds=0
            )
            world = World(panic, app, web_settings, clock, tokens, owner, other, admin, network)
            send, receive = trio.open_memory_channel[Job](16)
            config = hypercorn_config(web_settings)  # the server's own limits
            config.bind = ["127.0.0.1:0"]
            config.errorlog = None
            config.graceful_timeout = 0.5
            stop_serving = trio.Event()
            async with app.test_app(), trio.open_nursery() as nursery:
                urls = await nursery.start(
                    partial(serve, app, config, shutdown_trigger=stop_serving.wait)
                )
                nursery.start_soon(_work, receive)
                box["stop"] = trio.Event()
                box["portal"] = Portal(trio.lowlevel.current_trio_token(), world, send, urls[0])
                ready.set()
                await box["stop"].wait()
                stop_serving.set()
                send.close()

    def thread_main() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # reported by the fixture's teardown
            box["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=thread_main, name="input-fuzz-app", daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT), "the app did not start"
    if "error" in box:
        raise box["error"]
    portal_: Portal = box["portal"]
    try:
        yield portal_
    finally:
        with contextlib.suppress(trio.RunFinishedError):  # it crashed: box["error"] says why
            trio.from_thread.run_sync(box["stop"].set, trio_token=portal_.token)
        thread.join(TIMEOUT)
        assert not thread.is_alive()
        if "error" in box:
            raise box["error"]


async def snapshot(world: World) -> tuple[Any, ...]:
    """What a bad input must not change: users, networks and the runs started.

    (Rows of a run already going on may change meanwhile; no new run may start.)
    """
    panic = world.panic
    networks = await panic.list_networks()
    users = await panic.list_users()
    recent = await panic.recent_invocations(10_000)
    geneses = sorted(r.id for r in recent if r.sequence_number == 0)
    return tuple(networks), tuple(users), tuple(geneses)
