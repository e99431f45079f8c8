"""The composition root: engine + web app + Hypercorn under one root nursery.

:func:`serve` opens the engine (``open_panic``), builds the web app and runs
Hypercorn inside its own nursery, and only then reports the bound URLs.
Metrics, alerts and scheduled backups run beside Hypercorn in the root
nursery (see :mod:`panic_trio.operations`); errors go to Sentry when
``PANIC_SENTRY_DSN`` is set.

Shutdown (SIGINT/SIGTERM, or ``shutdown_trigger``) is ordered so nothing is
cut off mid-sentence and nothing goes on that should not: first every run
stops stepping (released, so it resumes at the next start) and the app's
``going_away`` event is set, so every WebSocket closes with 1001 at once; then
Hypercorn's trigger, so it stops accepting; as soon as no HTTP request is in
flight, Hypercorn is cut short (idle keep-alive connections would otherwise
hold it for its whole graceful timeout); then leaving ``open_panic``. A second
signal, or the ``shutdown_timeout`` deadline, cuts everything short.
"""

from __future__ import annotations

import logging
import secrets
import signal
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from quart_trio import QuartTrio

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Network, User
from panic_trio.errors import ConfigError
from panic_trio.installations import Installation
from panic_trio.operations import Alerts, Backups, Metrics, open_error_reports
from panic_trio.panic import Panic, open_panic
from panic_trio.platforms.base import Platform
from panic_trio.security import tokens
from panic_trio.settings import Settings
from panic_trio.web import create_app
from panic_trio.web.sockets import GOODBYE_SECONDS  # how long sockets get to close with 1001
from panic_trio.web.state import EXTENSION, SocketRegistry, WebState

logger = logging.getLogger(__name__)

MAX_WS_MESSAGE_BYTES: Final = 64 * 1024
DEMO_EMAIL: Final = "admin@panic.local"
DEMO_MODELS: Final = ["dummy-t2i", "dummy-i2t"]


@dataclass(frozen=True, slots=True)
class DemoSeed:
    """What ``--demo`` created (printed once, after the server is listening)."""

    admin: User
    password: str
    network: Network
    installation: Installation | None = None


def hypercorn_config(settings: Settings) -> Config:
    """Hypercorn's settings for ``settings`` (bind, graceful timeout, limits)."""
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = settings.shutdown_timeout
    config.websocket_max_message_size = MAX_WS_MESSAGE_BYTES
    config.include_server_header = False
    return config


async def create_demo_installation(panic: Panic, network: Network) -> Installation:
    """Hook for ``--demo``: an installation with a grid and a single watcher."""
    return await panic.installations.create(
        network.id,
        "Demo gallery",
        [
            {"type": "grid", "name": "wall", "rows": 2, "columns": 3},
            {"type": "single", "name": "spotlight", "stride": 2, "offset": 1},
        ],
    )


async def seed_demo(panic: Panic) -> DemoSeed | None:
    """On an empty database: an admin with a random password and a dummy network."""
    if await panic.list_users():
        logger.info("--demo: the database already has users; nothing was created")
        return None
    password = secrets.token_urlsafe(12)
    admin = await panic.create_user(DEMO_EMAIL, password, admin=True)
    network = await panic.create_network(
        admin.id,
        "Demo loop",
        models=DEMO_MODELS,
        description="A **dummy** network: text → image → text, offline.",
    )
    installation = await create_demo_installation(panic, network)
    return DemoSeed(admin, password, network, installation)


def print_demo(seed: DemoSeed, app: QuartTrio, base: str) -> None:
    """Print the demo credentials and URLs, once (the password is not stored anywhere)."""
    state: WebState = app.extensions[EXTENSION]
    net = seed.network.id
    token = state.tokens.issue(seed.network)
    print(  # the one place a person must read something
        "\nPANIC! demo is ready\n"
        f"  sign in:        {base}/sign-in\n"
        f"    email:        {seed.admin.email}\n"
        f"    password:     {seed.password}   (shown once)\n"
        f"  control panel:  {base}/networks/{net}\n"
        f"  terminal:       {base}/networks/{net}/terminal?token={token}  (valid 1 hour)\n"
        f"  info page:      {base}/networks/{net}/info\n"
        f"  QR code:        {base}/networks/{net}/info/qr\n"
        f"  admin:          {base}/admin\n"
        + "".join(
            f"  {'display ' + w.name + ':':<15} {base}/i/{i.public_id}/{w.name}\n"
            for i in ([seed.installation] if seed.installation else [])
            for w in i.watchers
        ),
        flush=True,
    )


def counted(app: ASGIFramework, requests: SocketRegistry) -> ASGIFramework:
    """``app``, counting its HTTP requests in flight (shutdown waits for those only)."""

    async def asgi(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with requests.track():
            await app(scope, receive, send)

    return asgi


class _Shutdown:
    """The ordered shutdown: runs and sockets at once, then Hypercorn, then a deadline."""

    def __init__(
        self, state: WebState, settings: Settings, root: trio.Nursery, panic: Panic
    ) -> None:
        self.stop_serving = trio.Event()
        self.http_scope = trio.CancelScope()
        self._state = state
        self._settings = settings
        self._root = root
        self._panic = panic
        self._begun = False

    async def begin(self) -> None:
        if self._begun:  # asked twice: stop waiting for anyone
            logger.warning("shutting down now")
            self._root.cancel_scope.cancel()
            return
        self._begun = True
        logger.info("shutting down: runs stop stepping; closing live connections")
        self._root.cancel_scope.deadline = trio.current_time() + self._settings.shutdown_timeout
        self._state.going_away.set()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._panic.engine.shut_down)
            with trio.move_on_after(GOODBYE_SECONDS):
                await self._state.sockets.wait_idle()
        self.stop_serving.set()
        await self._state.requests.wait_idle()
        self.http_scope.cancel(reason="shutting down: no request in flight")

    async def on_signals(self, *, task_status: trio.TaskStatus[None]) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                logger.info("received %s", signal.Signals(signum).name)
                self._root.start_soon(self.begin)

    async def on_trigger(self, trigger: Callable[[], Awaitable[object]]) -> None:
        await trigger()
        await self.begin()


async def serve(
    settings: Settings,
    *,
    demo: bool = False,
    shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
    platforms: Mapping[str, Platform] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the web app until SIGINT/SIGTERM (or ``shutdown_trigger`` returns).

    Args:
        settings: where to listen and everything else.
        demo: on an empty database, create an admin and a dummy network and
            print how to reach them.
        shutdown_trigger: awaited instead of listening for signals (for
            embedding, and for threads, where signals cannot be received).
        platforms: extra or replacement platforms by name (as ``open_panic``).
        task_status: ``started(urls)`` once Hypercorn is listening.
    """
    # Loaded once, here: the web signs with it and open_panic's cipher encrypts with it.
    files = ThreadSeam("secret-key-file", 1)
    secret = await files.run(tokens.load_secret_key, settings.secret_key, settings.data_dir)
    async with (
        open_error_reports(settings.sentry_dsn),
        open_panic(settings, secret_key=secret, platforms=platforms) as panic,
    ):
        seed = await seed_demo(panic) if demo else None
        going_away = trio.Event()
        metrics = Metrics(panic)
        app = create_app(
            panic, settings, secret_key=secret, going_away=going_away, exporter=metrics
        )
        async with trio.open_nursery() as root:
            state: WebState = app.extensions[EXTENSION]
            shutdown = _Shutdown(state, settings, root, panic)
            if shutdown_trigger is not None:
                root.start_soon(shutdown.on_trigger, shutdown_trigger)
            elif threading.current_thread() is threading.main_thread():
                await root.start(shutdown.on_signals)
            # Watching the show: they end with the root nursery, after Hypercorn.
            metrics.backups = Backups(panic.store, settings)
            await root.start(metrics.run)
            await root.start(Alerts(panic, settings).run)
            await root.start(metrics.backups.run)

            async def http(*, task_status: trio.TaskStatus[list[str]]) -> None:
                try:
                    with shutdown.http_scope:
                        await hypercorn_serve(
                            counted(app, state.requests),
                            hypercorn_config(settings),
                            shutdown_trigger=shutdown.stop_serving.wait,
                            task_status=task_status,
                        )
                finally:
                    root.cancel_scope.cancel()  # the signal watcher has nothing left to do

            try:
                urls: list[str] = await root.start(http)
            except* OSError as failed:  # bind errors are bad settings, not crashes
                reason: BaseException = failed
                while isinstance(reason, BaseExceptionGroup):
                    reason = reason.exceptions[0]
                raise ConfigError(
                    f"cannot listen on {settings.host}:{settings.port}: {reason}"
                ) from None
            logger.info("serving on %s", ", ".join(urls))
            if seed is not None:
                print_demo(seed, app, settings.public_url or urls[0])
            task_status.started(urls)
        logger.info("stopped serving; ending runs (they resume at the next start)")
