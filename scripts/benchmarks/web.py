"""Web benchmarks: WebSocket fan-out, and a crowd of prompts during a lockout.

Fan-out: 1,000 viewers of one running network on ``/ws/networks/<id>``; each
frame's delivery latency (``status`` and ``invocation``: four a step), from
its event's publication in the engine to its arrival at a viewer. The limit:
a bare trio-websocket server, in the same run, broadcasting the very same
frames at the same pace to 1,000 clients
(a bounded queue and a sender task per connection, lossy, as the app has).

Prompts: 200 concurrent clients posting prompts to one network in lockout:
request latency p99 against the same clients fetching ``/healthz``, and the
runs started per lockout window (exactly one).

The server and its clients share this process and its cores, so both sides
of each ratio pay the same client cost. Run with scripts/bench.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from hypercorn.trio import serve
from trio_websocket import ConnectionClosed, WebSocketRequest, open_websocket_url, serve_websocket

from panic_trio import Panic, Settings, open_panic
from panic_trio.app import hypercorn_config
from panic_trio.events.broadcast import DEFAULT_BUFFER
from panic_trio.web import create_app
from panic_trio.web.encoding import network_message, status_message
from panic_trio.web.state import EXTENSION

SECRET = "benchmark secret key, long enough"
Arrival = tuple[str, float]  # message text, when it arrived (trio.current_time)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def settings_in(folder: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        data_dir=folder / "data",
        secret_key=SECRET,
        # Every simulated browser is on loopback: one address, so no per-address caps.
        max_sockets_per_client=100_000,
        max_requests_per_client=100_000,
        **overrides,
    )


async def serve_app(
    nursery: trio.Nursery, panic: Panic, settings: Settings, **options: Any
) -> tuple[str, trio.Event]:
    """The app under Hypercorn on 127.0.0.1; set the event to stop it."""
    app = create_app(panic, settings, secret_key=SECRET, **options)
    config = hypercorn_config(settings)
    config.bind = ["127.0.0.1:0"]
    config.errorlog = None
    config.graceful_timeout = 1.0
    config.backlog = 2048
    stop = trio.Event()
    urls: list[str] = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
    return urls[0], stop


async def drained(arrivals: list[Arrival]) -> None:
    """Return once no message has arrived for a second (the last events are delivered)."""
    seen = -1
    while seen != len(arrivals):
        seen = len(arrivals)
        await trio.sleep(1.0)


async def run_clients(
    url: str,
    count: int,
    arrivals: list[Arrival],
    *,
    task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
) -> None:
    """``count`` WebSocket clients noting each message's arrival; started once all connect."""
    connected = 0
    ready = trio.Event()

    async def client() -> None:
        nonlocal connected
        try:
            async with open_websocket_url(url) as ws:
                connected += 1
                if connected == count:
                    ready.set()
                while True:
                    text = await ws.get_message()
                    arrivals.append((str(text), trio.current_time()))
        except ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(client)
        await ready.wait()
        task_status.started(nursery.cancel_scope)


async def app_fanout(
    folder: Path, count: int, seconds: float
) -> tuple[list[float], int, list[tuple[float, str]]]:
    """Latencies of every frame, frames published, and each (time, text) for the replay."""
    settings = settings_in(folder, backoff="inf:0", dummy_delay=1.0)
    arrivals: list[Arrival] = []
    published: dict[str, float] = {}
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        url, stop_serving = await serve_app(nursery, panic, settings)
        owner = await panic.create_user("fanout@example.org", "benchmark password")
        net = await panic.create_network(owner.id, "fanout", models=["dummy-t2t"])
        on_connect = status_message(panic.status(net.id))

        async def note_publications() -> None:
            async with panic.watch(net.id) as events:
                async for event in events:
                    published[network_message(event)] = trio.current_time()

        nursery.start_soon(note_publications)
        ws_url = url.replace("http", "ws") + f"/ws/networks/{net.id}"
        clients = await nursery.start(run_clients, ws_url, count, arrivals)
        await panic.start_run(net.id, "a story told a thousand times")
        await trio.sleep(seconds)
        await panic.stop_run(net.id)
        await drained(arrivals)
        clients.cancel(reason="measured")
        stop_serving.set()
        nursery.cancel_scope.cancel(reason="measured")
    published.pop(on_connect, None)
    latencies = [at - published[text] for text, at in arrivals if text in published]
    return latencies, len(published), sorted((at, text) for text, at in published.items())


async def bare_fanout(messages: list[tuple[float, str]], count: int) -> list[float]:
    """The same messages, at the same pace, through a bare trio-websocket broadcast."""
    queues: list[trio.MemorySendChannel[str]] = []
    arrivals: list[Arrival] = []
    published: dict[str, float] = {}

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        send, receive = trio.open_memory_channel[str](DEFAULT_BUFFER)
        queues.append(send)
        try:
            async for text in receive:
                await ws.send_message(text)
        except ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(serve_websocket, handler, "127.0.0.1", 0, ssl_context=None)
        )
        clients = await nursery.start(
            run_clients, f"ws://127.0.0.1:{server.port}/", count, arrivals
        )
        start, first = trio.current_time(), messages[0][0]
        for at, text in messages:
            await trio.sleep_until(start + (at - first))
            published[text] = trio.current_time()
            for queue in queues:
                with contextlib.suppress(trio.WouldBlock):  # lossy, like the app's fan-out
                    queue.send_nowait(text)
        await drained(arrivals)
        clients.cancel(reason="measured")
        nursery.cancel_scope.cancel(reason="measured")
    return [at - published[text] for text, at in arrivals if text in published]


async def prompt_crowd(folder: Path, count: int, seconds: float) -> dict[str, float]:
    """``count`` clients prompting one network with a 2 s lockout, then fetching /healthz."""
    lockout = 2
    settings = settings_in(folder, backoff="inf:0.05", dummy_delay=0.01)
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        url, stop_serving = await serve_app(
            nursery, panic, settings, prompt_limit=(10**9, 1.0)
        )  # one address for every client here: lift the per-client limit
        owner = await panic.create_user("crowd@example.org", "benchmark password")
        net = await panic.create_network(
            owner.id, "crowd", models=["dummy-t2t"], lockout_seconds=lockout
        )
        issuer = create_app(panic, settings, secret_key=SECRET).extensions[EXTENSION].tokens
        token = issuer.issue(net.id)
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

            async def crowd(
                path: str, body: dict[str, str] | None
            ) -> tuple[list[float], dict[int, int]]:
                latencies: list[float] = []
                statuses: dict[int, int] = {}

                async def client() -> None:
                    deadline = trio.current_time() + seconds
                    while trio.current_time() < deadline:
                        t0 = trio.current_time()
                        if body is None:
                            answer = await http.get(path)
                        else:
                            answer = await http.post(path, params={"token": token}, json=body)
                        latencies.append(trio.current_time() - t0)
                        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

                async with trio.open_nursery() as clients:
                    for _ in range(count):
                        clients.start_soon(client)
                return latencies, statuses

            began = trio.current_time()
            prompts, statuses = await crowd(f"/api/networks/{net.id}/runs", {"prompt": "hi"})
            took = trio.current_time() - began
            health, _ = await crowd("/healthz", None)
        await panic.stop_run(net.id)
        runs = sum(1 for r in await panic.recent_invocations(100_000) if r.sequence_number == 0)
        stop_serving.set()
        nursery.cancel_scope.cancel(reason="measured")
    return {
        "requests": len(prompts),
        "statuses": statuses,  # type: ignore[dict-item]
        "runs_started": runs,
        "lockout_windows": took / lockout,
        "prompt_p99_ms": percentile(prompts, 0.99) * 1000,
        "healthz_p99_ms": percentile(health, 0.99) * 1000,
        "prompt_p99_ratio_to_healthz": percentile(prompts, 0.99) / percentile(health, 0.99),
    }


def run(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    viewers = 1000
    with tempfile.TemporaryDirectory() as folder:
        latencies, events, replay = trio.run(
            app_fanout, Path(folder), viewers, 4.0 if quick else 12.0
        )
    bare = trio.run(bare_fanout, replay, viewers)
    results["fanout_1000"] = {
        "frames_published": events,
        "frames_per_viewer": len(latencies) / viewers,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "bare_frames_per_viewer": len(bare) / viewers,
        "bare_p50_ms": percentile(bare, 0.5) * 1000,
        "bare_p99_ms": percentile(bare, 0.99) * 1000,
        "p99_ratio_to_bare": percentile(latencies, 0.99) / percentile(bare, 0.99),
    }
    print(f"fanout_1000: {json.dumps(results['fanout_1000'])}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        results["prompts_200"] = trio.run(prompt_crowd, Path(folder), 200, 4.0 if quick else 10.0)
    print(f"prompts_200: {json.dumps(results['prompts_200'])}", file=sys.stderr)
    windows = results["prompts_200"]["lockout_windows"]
    results["prompts_200"]["one_run_per_window"] = (
        math.floor(windows) <= results["prompts_200"]["runs_started"] <= math.ceil(windows)
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter stages")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
