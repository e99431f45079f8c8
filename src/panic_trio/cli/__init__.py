"""The ``panic-trio`` command line.

Each subcommand is ``async def command(args, settings) -> int``. Errors from
the error tree become one line on stderr and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, NoReturn

import trio

from panic_trio.errors import ConfigError, InvalidInput, NotFound, PanicError
from panic_trio.settings import Settings

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not usage plus error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    from panic_trio.cli import archive, commands, export, restore, serve

    parser = _Parser(prog="panic-trio", description="PANIC! on Trio")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve.register(subparsers)
    commands.register(subparsers)
    archive.register(subparsers)
    restore.register(subparsers)
    export.register(subparsers)
    return parser


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _exit_code(error: PanicError) -> int:
    return EXIT_USAGE if isinstance(error, ConfigError | InvalidInput | NotFound) else EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"panic-trio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=(args.log_level or settings.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and Gemini's key travels in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    command: Command = args.handler
    try:
        return trio.run(command, args, settings)
    except BaseException as exc:
        leaves = _leaves(exc)
        if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            print("panic-trio: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        errors = [leaf for leaf in leaves if isinstance(leaf, PanicError)]
        if errors and len(errors) == len(leaves):
            print(f"panic-trio: error: {errors[0]}", file=sys.stderr)
            return _exit_code(errors[0])
        raise
