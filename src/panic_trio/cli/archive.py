"""``panic-trio archive status|retry``: find and finish archives that failed.

A failed archive keeps the provider URL, which may expire (Replicate's do
after about an hour), so an operator should see such rows and retry them
once storage is back. Outputs whose archive never finished (the server was
killed first) are listed too, and retried. Neither command starts the
engine: no run is resumed.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from panic_trio.archive import open_archive
from panic_trio.archive.queries import failed_archives, unfinished_archives
from panic_trio.domain import Invocation
from panic_trio.local_media import LocalMedia
from panic_trio.settings import Settings
from panic_trio.store.store import open_store

UNFINISHED: Final = "waiting: completed, never archived (a server archives it when it starts)"


def register(subparsers: Any) -> None:
    """Add ``archive status`` and ``archive retry``."""
    archive = subparsers.add_parser("archive", help="archived outputs")
    archive_sub = archive.add_subparsers(dest="archive_command", required=True)
    archive_sub.add_parser(
        "status", help="list invocations whose output could not be archived"
    ).set_defaults(handler=status)
    archive_sub.add_parser(
        "retry", help="archive those outputs again (exit status 1 if any still fails)"
    ).set_defaults(handler=retry)


def _line(invocation: Invocation, why: str | None = None) -> str:
    error = why or str(invocation.metadata.get("archive_error", "")).replace("\n", " ")
    return (
        f"#{invocation.id} network {invocation.network_id} run {invocation.run_number} "
        f"step {invocation.sequence_number} {invocation.model}: {error} ({invocation.output})"
    )


async def status(args: argparse.Namespace, settings: Settings) -> int:
    """Print one line per output not archived (failed, or never finished), then the counts."""
    async with open_store(settings.database_url) as store:
        failed = await store.read(failed_archives)
        unfinished = await store.read(unfinished_archives)
    for invocation in failed:
        print(_line(invocation))
    for invocation in unfinished:
        print(_line(invocation, UNFINISHED))
    if not failed and not unfinished:
        print("every archive succeeded")
        return 0
    print(f"{len(failed)} output(s) not archived, {len(unfinished)} waiting to be archived")
    return 0


async def retry(args: argparse.Namespace, settings: Settings) -> int:
    """Archive every failed output again; exit status 1 if any still fails."""
    async with (
        open_store(settings.database_url) as store,
        open_archive(
            settings, store, local_files=LocalMedia.from_settings(settings), resume=False
        ) as archiver,
    ):
        results = await archiver.retry_failed()
    for invocation, archived in results:
        if archived:
            print(f"#{invocation.id} archived: {invocation.output}")
        else:
            print(f"still failing: {_line(invocation)}")
    still = sum(not archived for _, archived in results)
    print(f"{len(results) - still} archived, {still} still failing")
    return 1 if still else 0
