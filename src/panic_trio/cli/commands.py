"""Administrative subcommands: db, user, network, models, run, backup."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

import trio

from panic_trio.domain import Invocation
from panic_trio.errors import InvalidInput
from panic_trio.models import all_models, network_problem
from panic_trio.panic import open_panic
from panic_trio.settings import Settings
from panic_trio.store import database
from panic_trio.store.store import open_store


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _amount(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD") from None


def register(subparsers: Any) -> None:
    """Add db, user, network, models, run and backup."""
    db = subparsers.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations").set_defaults(handler=db_upgrade)

    user = subparsers.add_parser("user", help="accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add_user = user_sub.add_parser("add", help="create an account")
    add_user.add_argument("email")
    add_user.add_argument("--admin", action="store_true", help="may see and stop everything")
    add_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add_user.set_defaults(handler=user_add)

    network = subparsers.add_parser("network", help="networks")
    network_sub = network.add_subparsers(dest="network_command", required=True)
    add_network = network_sub.add_parser("add", help="create a network")
    add_network.add_argument("name")
    add_network.add_argument("--owner", required=True, help="the owner's email")
    add_network.add_argument("--models", required=True, help="model ids, comma-separated")
    add_network.add_argument("--lockout", type=_whole_number, default=30, help="seconds")
    add_network.add_argument("--description", default="")
    add_network.add_argument("--daily-cap", type=_amount, help="USD per day (default: none)")
    add_network.add_argument("--run-cap", type=_amount, help="USD per run (default: none)")
    add_network.set_defaults(handler=network_add)
    check_network = network_sub.add_parser(
        "check", help="validate a network and warn about tokens its owner lacks"
    )
    check_network.add_argument("network_id", type=_whole_number)
    check_network.set_defaults(handler=network_check)

    subparsers.add_parser("models", help="list the model catalog").set_defaults(handler=models)

    run = subparsers.add_parser("run", help="run a network headless and print each invocation")
    run.add_argument("network_id", type=_whole_number)
    run.add_argument("prompt")
    run.add_argument("--count", type=_positive_int, default=10, help="invocations to run")
    run.set_defaults(handler=run_network)

    backup_parser = subparsers.add_parser("backup", help="write a consistent copy of the database")
    backup_parser.add_argument("path", type=Path)
    backup_parser.set_defaults(handler=backup)


async def db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database to the newest schema."""
    async with open_store(settings.database_url) as store:
        revision = await store.writes.run(database.current_revision, store.engine)
    print(f"database is at revision {revision}")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise InvalidInput(
            "no terminal to ask for a password: use --password-stdin", field="password"
        )
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise InvalidInput("the two passwords differ", field="password")
    return first


async def user_add(args: argparse.Namespace, settings: Settings) -> int:
    """Create an account; the password comes from a prompt or stdin."""
    password = await trio.to_thread.run_sync(_read_password, args.password_stdin)
    async with open_panic(settings, runs=False) as panic:
        user = await panic.create_user(args.email, password, admin=args.admin)
    print(f"created {'admin ' if user.admin else ''}user {user.email}")
    print(user.id)
    return 0


async def network_add(args: argparse.Namespace, settings: Settings) -> int:
    """Create a network; prints its id alone on the last line."""
    model_ids = [m.strip() for m in args.models.split(",") if m.strip()]
    async with open_panic(settings, runs=False) as panic:
        owner = await panic.find_user(args.owner)
        network = await panic.create_network(
            owner.id,
            args.name,
            models=model_ids,
            description=args.description,
            lockout_seconds=args.lockout,
            daily_cap=args.daily_cap,
            run_cap=args.run_cap,
        )
        warnings = await panic.token_warnings(network.owner_id, network.models)
    print(f"created network {network.name!r}: {' → '.join(network.models)}")
    for warning in warnings:
        print(f"warning: {warning}")
    print(network.id)
    return 0


async def network_check(args: argparse.Namespace, settings: Settings) -> int:
    """Say whether a network can run: 1 if its cycle is invalid; token warnings on stdout."""
    async with open_panic(settings, runs=False) as panic:
        network = await panic.get_network(args.network_id)
        warnings = await panic.token_warnings(network.owner_id, network.models, network=network)
    problem = network_problem(network.models)
    print(f"network {network.id} {network.name!r}: {' → '.join(network.models)}")
    print(f"invalid: {problem}" if problem else "valid")
    for warning in warnings:
        print(f"warning: {warning}")
    return 1 if problem else 0


async def models(args: argparse.Namespace, settings: Settings) -> int:
    """Print the catalog as a table."""
    await trio.lowlevel.checkpoint()
    rows = [("ID", "NAME", "PLATFORM", "IN→OUT", "")]
    for m in all_models():
        rows.append(
            (
                m.id,
                m.name,
                m.platform,
                f"{m.input_type}→{m.output_type}",
                "deprecated" if m.deprecated else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]).rstrip())
    return 0


def _describe(invocation: Invocation) -> str:
    text = (
        invocation.output if invocation.state == "completed" else invocation.metadata.get("error")
    )
    text = str(text or "").replace("\n", " ")
    if len(text) > 100:
        text = text[:97] + "..."
    return f"#{invocation.sequence_number} {invocation.model} {invocation.state}: {text}"


async def run_network(args: argparse.Namespace, settings: Settings) -> int:
    """Start a run, print each invocation as it finishes, stop after ``--count``."""
    async with open_panic(settings) as panic:
        async with panic.watch(args.network_id) as events:
            genesis = await panic.start_run(args.network_id, args.prompt)
            print(f"run {genesis.run_number} started on network {args.network_id}")
            finished = 0
            last_state = "failed"
            async for event in events:
                invocation = event.invocation
                if event.kind != "invocation" or invocation is None:
                    continue
                if invocation.run_number != genesis.run_number:
                    continue
                if invocation.state not in ("completed", "failed"):
                    continue
                finished += 1
                last_state = invocation.state
                print(f"[{finished}/{args.count}] {_describe(invocation)}", flush=True)
                if invocation.state == "failed" or finished >= args.count:
                    break
        await panic.stop_run(args.network_id)
    return 0 if last_state == "completed" else 1


async def backup(args: argparse.Namespace, settings: Settings) -> int:
    """Copy the database consistently to PATH."""
    async with open_store(settings.database_url) as store:
        await store.backup(args.path)
    print(f"backup written to {args.path}")
    return 0
