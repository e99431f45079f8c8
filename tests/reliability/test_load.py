"""Load: a crowd of terminals on one network, and hundreds of viewers on fifty networks.

Both run against the real app under Hypercorn on 127.0.0.1 (the terminals'
server in its own process, as in production; the viewers' in this one),
with the per-client prompt rate limit lifted: on loopback every terminal
shares one address, and the point is the lockout and the database under
concurrency, not the limiter. Figures are recorded in docs/reliability.md.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypercorn.trio import serve

from panic_trio.app import hypercorn_config
from panic_trio.panic import Panic, open_panic
from panic_trio.security.tokens import derive_key
from panic_trio.settings import Settings
from panic_trio.web import create_app
from panic_trio.web.terminal_tokens import TerminalTokens
from tests.e2e.conftest import free_port, open_ws
from tests.reliability.test_crash_restart import wait_ready
from tests.web.conftest import PASSWORD, SECRET, make_settings

ROOT = Path(__file__).resolve().parents[2]

TERMINALS = 200
LOAD_SECONDS = 15.0
LOCKOUT_SECONDS = 3
BACKOFF = "inf:0.05"
DUMMY_DELAY = 0.01
NETWORKS = 50
VIEWERS_PER_NETWORK = 10
WATCH_SECONDS = 8.0
# Hundreds of browsers, all on loopback: one address, so lift the per-address caps.
MANY_BROWSERS = {"max_sockets_per_client": 10_000, "max_requests_per_client": 10_000}
CLOCK_SKEW_SECONDS = 0.01  # inserted_at is wall-clock time; the lockout runs on Trio's clock


@asynccontextmanager
async def live_app(settings: Settings) -> AsyncIterator[tuple[Panic, str]]:
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        app = create_app(panic, settings, secret_key=SECRET, prompt_limit=(10**9, 1.0))
        config = hypercorn_config(settings)
        config.bind = ["127.0.0.1:0"]
        config.errorlog = None
        config.graceful_timeout = 1.0
        stop = trio.Event()
        urls = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
        try:
            yield panic, urls[0]
        finally:
            stop.set()


# The production server (app.serve) with only the per-client prompt limit lifted.
UNLIMITED_SERVE = """
import functools, sys, trio
import panic_trio.app as app
from panic_trio.settings import Settings
app.create_app = functools.partial(app.create_app, prompt_limit=(10**9, 1.0))
trio.run(app.serve, Settings.from_env())
"""


@asynccontextmanager
async def serve_process(settings: Settings, log: Path) -> AsyncIterator[str]:
    """``app.serve`` in its own process, as in production; SIGTERM and a wait on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANIC_")}
    env.update(
        PANIC_DATABASE_URL=settings.database_url, PANIC_DATA_DIR=str(settings.data_dir),
        PANIC_SECRET_KEY=SECRET, PANIC_HOST="127.0.0.1", PANIC_PORT=str(port),
        PANIC_BACKOFF=BACKOFF, PANIC_DUMMY_DELAY=str(DUMMY_DELAY), PANIC_LOG_LEVEL="WARNING",
        PANIC_MAX_SOCKETS_PER_CLIENT="10000", PANIC_MAX_REQUESTS_PER_CLIENT="10000",
    )  # fmt: skip
    errors = await trio.to_thread.run_sync(log.open, "wb")
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", UNLIMITED_SERVE],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            with trio.fail_after(60):
                await wait_ready(http)
        yield url
    finally:
        process.terminate()
        with trio.move_on_after(30):
            await process.wait()
        process.kill()
        errors.close()


@pytest.mark.slow
async def test_200_terminals_get_exactly_one_genesis_per_lockout_window(tmp_path: Path) -> None:
    """The server runs in its own process, as in production.

    In one process the 200 clients and the server shared two busy cores,
    and a request could wait out the client's timeout (ReadTimeout): the
    test measured the clients' scheduling as much as the lockout.
    """
    settings = make_settings(tmp_path, backoff=BACKOFF, dummy_delay=DUMMY_DELAY)
    settings = dataclasses.replace(settings, secret_key=SECRET)
    async with open_panic(settings, runs=False) as panic:
        owner = await panic.create_user("crowd@example.org", PASSWORD)
        net = await panic.create_network(
            owner.id, "crowd", models=["dummy-t2t"], lockout_seconds=LOCKOUT_SECONDS
        )
    token = TerminalTokens(derive_key(SECRET, "panic-trio terminal tokens")).issue(net)
    statuses: dict[int, int] = {}
    started: list[int] = []
    log = tmp_path / "serve.log"
    async with serve_process(settings, log) as url:
        # An idle connection is let go well before Hypercorn's 5 s keep-alive
        # ends it: reusing one the server is closing at that moment is a
        # ReadError that says nothing about the server.
        limits = httpx.Limits(
            max_connections=TERMINALS, max_keepalive_connections=TERMINALS, keepalive_expiry=1.0
        )
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

            async def terminal(number: int, deadline: float) -> None:
                rng = random.Random(number)
                while trio.current_time() < deadline:
                    answer = await http.post(
                        f"/api/networks/{net.id}/runs",
                        params={"token": token},
                        json={"prompt": f"visitor {number} says hi"},
                    )
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    if answer.status_code == 201:
                        started.append(answer.json()["genesis"]["id"])
                    else:
                        assert answer.json()["error"] == "locked_out", answer.text
                    await trio.sleep(rng.uniform(0.05, 0.3))  # a person's pace, not a wait

            with trio.fail_after(LOAD_SECONDS + 60):
                began = trio.current_time()
                async with trio.open_nursery() as nursery:
                    for number in range(TERMINALS):
                        nursery.start_soon(terminal, number, began + LOAD_SECONDS)
                took = trio.current_time() - began
    async with open_panic(settings, runs=False) as panic:
        geneses = sorted(
            (r for r in await panic.recent_invocations(100_000) if r.sequence_number == 0),
            key=lambda r: r.inserted_at,
        )
    assert set(statuses) <= {201, 429}, statuses
    assert sorted(started) == sorted(g.id for g in geneses)  # every 201 is one genesis row
    gaps = [(b.inserted_at - a.inserted_at).total_seconds() for a, b in itertools.pairwise(geneses)]
    # One genesis per window: the lockout runs from when the genesis is written
    # (test_lockout_anchor.py), so consecutive geneses are a full window apart.
    assert all(gap >= LOCKOUT_SECONDS - CLOCK_SKEW_SECONDS for gap in gaps), gaps
    # Prompts keep coming for LOAD_SECONDS, so every window in it starts a run; the
    # requests still in flight after it (up to `took`) may start one more each window.
    floor = math.floor(LOAD_SECONDS / LOCKOUT_SECONDS)
    assert floor <= len(geneses) <= math.ceil(took / LOCKOUT_SECONDS) + 1, (len(geneses), took)
    assert sum(statuses.values()) > 2 * TERMINALS  # every terminal prompted, most of them often
    logged = (await trio.Path(log).read_text()).lower()
    assert "database" not in logged, logged[-2000:]
    assert "traceback" not in logged, logged[-2000:]
    print(f"\nload: {sum(statuses.values())} prompts in {took:.1f} s: {statuses}, "
          f"{len(geneses)} geneses")  # fmt: skip


@pytest.mark.slow
async def test_500_viewers_of_50_running_networks_lose_no_events(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, backoff="inf:0.4", dummy_delay=0.3, **MANY_BROWSERS)
    received: dict[tuple[int, int], list[dict[str, Any]]] = {}
    async with live_app(settings) as (panic, url):
        owner = await panic.create_user("many@example.org", PASSWORD)
        networks = [
            await panic.create_network(owner.id, f"n{i}", models=["dummy-t2t", "dummy-t2t"])
            for i in range(NETWORKS)
        ]
        connected = trio.Semaphore(0)
        stop_watching = trio.Event()

        async def viewer(network_id: int, number: int) -> None:
            seen = received.setdefault((network_id, number), [])
            ws_url = url.replace("http", "ws") + f"/ws/networks/{network_id}"
            async with open_ws(ws_url) as ws:
                assert json.loads(await ws.get_message())["type"] == "status"
                connected.release()
                async with trio.open_nursery() as inner:

                    async def until_stopped() -> None:
                        await stop_watching.wait()
                        inner.cancel_scope.cancel()

                    inner.start_soon(until_stopped)
                    while True:
                        message = json.loads(await ws.get_message())
                        if message["type"] == "invocation":
                            seen.append(message["invocation"])

        with trio.fail_after(WATCH_SECONDS + 60):
            async with trio.open_nursery() as nursery:
                for net in networks:
                    for number in range(VIEWERS_PER_NETWORK):
                        nursery.start_soon(viewer, net.id, number)
                for _ in range(NETWORKS * VIEWERS_PER_NETWORK):
                    await connected.acquire()
                runs = {
                    net.id: (await panic.start_run(net.id, f"a story for {net.id}")).run_number
                    for net in networks
                }
                await trio.sleep(WATCH_SECONDS)  # the load runs this long
                await panic.stop_all()
                await trio.sleep(1.0)  # the last events reach the sockets
                stop_watching.set()
        stored = {
            network_id: [
                r.sequence_number
                for r in await panic.list_run(network_id, run)
                if r.state == "completed"
            ]
            for network_id, run in runs.items()
        }
    total = 0
    for (network_id, _), events in received.items():
        done = [e for e in events if e["state"] == "completed" and e["network_id"] == network_id]
        seqs = [e["sequence_number"] for e in done]
        assert seqs == stored[network_id], (network_id, seqs)  # every step, in order, once
        assert len(seqs) >= 3, (network_id, seqs)
        total += len(events)
    assert len(received) == NETWORKS * VIEWERS_PER_NETWORK
    print(f"\nviewers: {len(received)} sockets received {total} invocation events")
