"""The limit's process: a bare trio-websocket broadcast, lossy like the app.

    python bare.py PORT COUNT PER_STEP FRAME_SIZE STEP_SECONDS

A bounded queue and a sender task per connection; once ``COUNT`` clients
are connected, ``PER_STEP`` frames of ``FRAME_SIZE`` characters every
``STEP_SECONDS``, the last of each step a ``completed`` frame stamped with
the time it was made.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import UTC, datetime
from functools import partial

import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket

BUFFER = 64  # the app's per-socket event buffer (events.broadcast.DEFAULT_BUFFER)


async def bare(port: int, count: int, per_step: int, frame_size: int, step: float) -> None:
    """Once ``count`` clients are connected, ``per_step`` frames every ``step`` seconds."""
    queues: list[trio.MemorySendChannel[str]] = []
    all_in = trio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        send, receive = trio.open_memory_channel[str](BUFFER)
        queues.append(send)
        if len(queues) == count:
            all_in.set()
        with contextlib.suppress(ConnectionClosed):
            async for text in receive:
                await ws.send_message(text)

    def frame(completed: bool) -> str:
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        state = "completed" if completed else "invoking"
        text = json.dumps(
            {"type": "invocation", "invocation": {"state": state, "updated_at": stamp, "p": ""}}
        )
        pad = max(0, frame_size - len(text))
        return text.replace('"p": ""', '"p": "' + "x" * pad + '"')

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve_websocket, handler, "127.0.0.1", port, ssl_context=None))
        await all_in.wait()
        began = trio.current_time()
        n = 0
        while True:
            for i in range(per_step):
                text = frame(i == per_step - 1)
                for queue in queues:
                    with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError):
                        queue.send_nowait(text)
            n += 1
            await trio.sleep_until(began + n * step)


if __name__ == "__main__":
    port, count, per_step, size = (int(v) for v in sys.argv[1:5])
    trio.run(bare, port, count, per_step, size, float(sys.argv[5]))
