"""What every view shares: the engine, settings, keys, limits and live sockets.

One :class:`WebState` per app, kept in ``app.extensions``; views reach it with
:func:`web_state`. No module-level globals, so tests can run many apps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Final, cast

import trio
from quart import current_app

from panic_trio.operations.metrics import Metrics
from panic_trio.panic import Panic
from panic_trio.settings import Settings
from panic_trio.web.encoding import (
    EventEncoder,
    combined_message,
    concealed_public_message,
    feed_message,
    network_message,
    public_combined_message,
)
from panic_trio.web.ratelimit import InFlight, RateLimiter
from panic_trio.web.run_links import RunLinks
from panic_trio.web.terminal_tokens import TerminalTokens

EXTENSION: Final = "panic_web"


class SocketRegistry:
    """Counts open WebSockets (or HTTP requests in flight) for shutdown to wait on."""

    def __init__(self) -> None:
        self.open = 0
        self._idle = trio.Event()
        self._idle.set()

    @contextmanager
    def track(self) -> Iterator[None]:
        """Count one socket for the duration of the block."""
        self.open += 1
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        try:
            yield
        finally:
            self.open -= 1
            if self.open == 0:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no socket is open."""
        while self.open:
            await self._idle.wait()


@dataclass(slots=True)
class WebState:
    """The shared state of one web app.

    ``going_away`` is set when the server is shutting down: every WebSocket
    closes with 1001 at once, before Hypercorn stops taking connections.
    """

    panic: Panic
    settings: Settings
    tokens: TerminalTokens
    login_limiter: RateLimiter
    prompt_limiter: RateLimiter
    going_away: trio.Event
    run_links: RunLinks
    login_in_flight: InFlight
    sockets: SocketRegistry = field(default_factory=SocketRegistry)
    metrics: Metrics | None = None
    requests: SocketRegistry = field(default_factory=SocketRegistry)  # HTTP, in flight
    network_encoder: EventEncoder = field(init=False)
    public_encoder: EventEncoder = field(init=False)
    feed_encoder: EventEncoder = field(init=False)
    combined_encoder: EventEncoder = field(init=False)  # protocol 2
    public_combined_encoder: EventEncoder = field(init=False)

    def __post_init__(self) -> None:
        # Every frame passes through the hidden outputs, read when it is encoded.
        concealed = self.panic.moderation.concealed
        self.network_encoder = EventEncoder(partial(network_message, concealed=concealed))
        self.public_encoder = EventEncoder(partial(concealed_public_message, concealed=concealed))
        self.feed_encoder = EventEncoder(partial(feed_message, concealed=concealed))
        self.combined_encoder = EventEncoder(partial(combined_message, concealed=concealed))
        self.public_combined_encoder = EventEncoder(
            partial(public_combined_message, concealed=concealed)
        )


def web_state() -> WebState:
    """The current app's :class:`WebState`."""
    return cast(WebState, current_app.extensions[EXTENSION])
