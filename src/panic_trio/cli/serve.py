"""``panic-trio serve``: the web server (see :mod:`panic_trio.app`)."""

from __future__ import annotations

import argparse
import dataclasses
import gc
from functools import partial
from typing import Any, Final

import trio

from panic_trio.settings import Settings

# Young-generation threshold: CPython's 700 collects so often under fan-out
# that the frames in flight at each collection are promoted, and a full
# collection of the whole heap (100 to 200 ms with 500 viewers) follows about
# once a second, reclaiming nothing (docs/benchmarks.md).
YOUNG_THRESHOLD: Final = 10_000


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser("serve", help="apply migrations, then serve the web app")
    parser.add_argument("--host", help="address to bind (default PANIC_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default PANIC_PORT or 8000)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="on an empty database, create an admin, a dummy network and an installation",
    )
    parser.set_defaults(handler=serve)


async def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM."""
    from panic_trio import app

    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = dataclasses.replace(settings, **overrides)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(app.serve, settings, demo=args.demo))
        settle_heap()
    return 0


def settle_heap() -> None:
    """Once started: keep the start-up objects out of every later full collection, and
    collect the young generation less often.

    The modules, the app and the engine are most of a fresh server's heap and
    live as long as it; frozen, they are no longer traversed by the cyclic
    collector, whose full collections stall every socket at once. Done here,
    in the process's own entry point, not in :func:`panic_trio.app.serve`,
    which tests embed in their own process.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
