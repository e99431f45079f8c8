"""``panic-trio serve``: the web server (see :mod:`panic_trio.app`)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from panic_trio.settings import Settings


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
    await app.serve(settings, demo=args.demo)
    return 0
