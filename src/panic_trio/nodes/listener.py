"""One listening connection per process: PostgreSQL ``NOTIFY`` messages into Trio.

psycopg blocks while it waits for notifications, so the connection lives in
one worker thread (its own ``CapacityLimiter``, "pg-listen") that hands each
message to Trio through a bounded channel; psycopg's errors become
:class:`~panic_trio.errors.StoreError` here. If the connection drops, the
listener connects again after a pause (messages sent meanwhile are lost:
requests time out, screens catch up with the next event).

Messages may be longer than ``NOTIFY``'s 8,000-byte payload: :func:`payloads`
cuts one into parts sent in one transaction (delivered together, in order)
and :class:`Reassembly` puts them back together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Final

import trio
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from panic_trio.errors import StoreError

logger = logging.getLogger(__name__)

PART_CHARS: Final = 1500  # at most 6,000 bytes of UTF-8 per part: under NOTIFY's limit
BUFFER: Final = 64  # batches of messages waiting for Trio (each is one read's worth)
POLL_SECONDS: Final = 0.5  # how often the thread looks up from waiting (to stop)
RECONNECT_SECONDS: Final = 1.0

Handler = Callable[[dict[str, Any]], None]


def channel(*words: str) -> str:
    """A channel name for ``words``: lower-case letters, digits and ``_`` only."""
    digest = hashlib.sha256("/".join(words).encode()).hexdigest()[:20]
    return f"panic_{words[0]}_{digest}"


def payloads(message: dict[str, Any]) -> list[str]:
    """``message`` as JSON, in parts small enough for ``NOTIFY`` when it is long."""
    whole = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    if len(whole) <= PART_CHARS:
        return [whole]
    key = uuid.uuid4().hex
    pieces = [whole[i : i + PART_CHARS] for i in range(0, len(whole), PART_CHARS)]
    return [
        json.dumps({"part": key, "i": i, "n": len(pieces), "d": piece}, ensure_ascii=False)
        for i, piece in enumerate(pieces)
    ]


def drain(queue: trio.MemoryReceiveChannel[dict[str, Any]], most: int) -> list[dict[str, Any]]:
    """Up to ``most`` messages already waiting in ``queue`` (a forwarder's next batch)."""
    taken: list[dict[str, Any]] = []
    while len(taken) < most:
        try:
            taken.append(queue.receive_nowait())
        except trio.WouldBlock:
            break
    return taken


def notify(conn: Connection, channel_name: str, parts: list[str]) -> None:
    """Send the parts of one message (a write in the store's seam; delivered at commit)."""
    for part in parts:
        conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel_name, "p": part})


class Reassembly:
    """Messages from payloads, whole ones at once and parted ones when complete."""

    def __init__(self) -> None:
        self._parts: dict[str, list[str | None]] = {}

    def add(self, payload: str) -> dict[str, Any] | None:
        """The message ``payload`` completes, if any."""
        try:
            data = json.loads(payload)
        except ValueError:
            logger.warning("ignored a message that is not JSON")
            return None
        if not isinstance(data, dict):
            return None
        if "part" not in data:
            return data
        parts = self._parts.setdefault(str(data["part"]), [None] * int(data["n"]))
        parts[int(data["i"])] = str(data["d"])
        if any(part is None for part in parts):
            return None
        del self._parts[str(data["part"])]
        whole = json.loads("".join(p for p in parts if p is not None))
        return whole if isinstance(whole, dict) else None


class Listener:
    """LISTENs on fixed channels and calls a handler per channel for each message."""

    def __init__(self, database_url: str, handlers: dict[str, Handler]) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._handlers = handlers
        self._limiter = trio.CapacityLimiter(1)  # "pg-listen": one thread, one connection
        self._send, self._receive = trio.open_memory_channel[list[tuple[str, str]]](BUFFER)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled; ready once the first LISTEN is in place."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._dispatch)
            ready = task_status
            while True:
                try:
                    await self._listen_once(ready)
                except StoreError as exc:
                    logger.warning("the listening connection failed: %s; again in 1 s", exc)
                ready = trio.TASK_STATUS_IGNORED
                await trio.sleep(RECONNECT_SECONDS)

    async def _listen_once(self, ready: trio.TaskStatus[None]) -> None:
        token = trio.lowlevel.current_trio_token()
        stop = threading.Event()
        try:
            await trio.to_thread.run_sync(
                self._blocking_listen, token, stop, ready.started,
                limiter=self._limiter, abandon_on_cancel=True,
            )  # fmt: skip
        finally:
            stop.set()  # an abandoned thread ends at its next look-up

    def _blocking_listen(
        self, token: trio.lowlevel.TrioToken, stop: threading.Event, ready: Callable[[], None]
    ) -> None:
        import psycopg

        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn:
                for name in self._handlers:
                    conn.execute(f"LISTEN {name}")
                trio.from_thread.run_sync(ready, trio_token=token)
                while not stop.is_set():
                    # One hop into Trio per read from the socket, not per message: a busy
                    # loop takes a while to answer each hop, and the messages behind it
                    # (events, requests, replies) would queue up in PostgreSQL.
                    batch = [
                        (note.channel, note.payload)
                        for note in conn.notifies(timeout=POLL_SECONDS, stop_after=1)
                    ]
                    if batch:
                        trio.from_thread.run(self._send.send, batch, trio_token=token)
        except psycopg.Error as exc:
            raise StoreError(f"listening on PostgreSQL failed: {exc}", transient=True) from exc
        except (trio.RunFinishedError, trio.Cancelled, trio.ClosedResourceError):
            return  # Trio stopped listening first

    async def _dispatch(self) -> None:
        reassembly = Reassembly()
        async for batch in self._receive:
            for channel_name, payload in batch:
                message = reassembly.add(payload)
                handler = self._handlers.get(channel_name)
                if message is not None and handler is not None:
                    handler(message)
