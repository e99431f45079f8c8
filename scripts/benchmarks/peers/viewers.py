"""The viewers' process: ``count`` WebSocket clients of the app or of the bare server.

    python viewers.py URL COUNT SECONDS

Prints "ready" once every client is connected, then, after ``SECONDS``, one
JSON line: each ``completed`` frame's latency (arrival, wall clock, minus
the invocation's ``updated_at``), the frames and bytes received, the median
frame size, and each step's first and last arrival.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import datetime

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url


async def viewers(url: str, count: int, seconds: float) -> None:
    """``count`` clients; prints "ready" once all are connected, then results after ``seconds``."""
    latencies: list[float] = []
    frames = 0
    size = 0
    sizes: list[int] = []
    completed = 0
    connected = 0
    steps: dict[str, list[float]] = {}  # a step's stamp: first and last arrival, count
    ready = trio.Event()
    handshakes = trio.Semaphore(50)  # a listen backlog of 100 drops a thousand SYNs at once

    async def client() -> None:
        await handshakes.acquire()
        waiting = True
        try:
            async with open_websocket_url(url, message_queue_size=64, connect_timeout=120) as ws:
                handshakes.release()
                waiting = False
                await watch(ws)
        except ConnectionClosed:
            pass
        finally:
            if waiting:
                handshakes.release()

    async def watch(ws: WebSocketConnection) -> None:
        nonlocal frames, size, completed, connected
        connected += 1
        if connected == count:
            ready.set()
        while True:
            text = await ws.get_message()
            arrived = time.time()
            if not ready.is_set():
                continue
            frames += 1
            size += len(text)
            if len(sizes) < 20_000:
                sizes.append(len(text))
            message = json.loads(text)
            invocation = message.get("invocation")
            if message["type"] == "invocation" and invocation["state"] == "completed":
                completed += 1
                stamp = datetime.fromisoformat(invocation["updated_at"]).timestamp()
                latencies.append(arrived - stamp)
                spread = steps.setdefault(invocation["updated_at"], [arrived, arrived, 0])
                spread[0] = min(spread[0], arrived)
                spread[1] = max(spread[1], arrived)
                spread[2] += 1

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(client)
        with trio.fail_after(120):
            await ready.wait()
        print("ready", flush=True)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel(reason="measured")
    result = {
        "latencies": latencies,
        "frames": frames,
        "bytes": size,
        "completed": completed,
        "median_frame": statistics.median(sizes) if sizes else 0,
        "steps": steps,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    trio.run(viewers, sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
