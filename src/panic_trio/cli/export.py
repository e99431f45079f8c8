"""``panic-trio export RUN_NUMBER PATH``: a run as one self-contained ``.zip``.

Like ``archive``, it opens the store and the archive but not the engine, so
exporting never resumes a run. Media not yet archived are fetched under the
archive's download rules. The file appears only when complete.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from panic_trio.archive import open_archive
from panic_trio.blocking import ThreadSeam
from panic_trio.errors import InvalidInput
from panic_trio.export import export_filename, prepare_export, write_export
from panic_trio.local_media import LocalMedia
from panic_trio.settings import Settings
from panic_trio.store import runs as run_queries
from panic_trio.store.store import open_store


def _run_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) < 2**31:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run number")
    return int(text)


def register(subparsers: Any) -> None:
    """Add ``export``."""
    parser = subparsers.add_parser(
        "export", help="write a run as a .zip (index.html, run.json and the media)"
    )
    parser.add_argument("run_number", type=_run_number, help="the run (its genesis's id)")
    parser.add_argument("path", type=Path, help="the .zip to write, or a folder to write it in")
    parser.set_defaults(handler=export)


def target_path(path: Path, run_number: int) -> Path:
    """Where the export goes: ``path``, or ``path/panic-run-N.zip`` for a folder.

    Raises:
        InvalidInput: the file exists already, or its folder does not.
    """
    if path.is_dir():
        path = path / export_filename(run_number)
    if path.exists():
        raise InvalidInput(f"{path} exists already; choose another path")
    if not path.parent.is_dir():
        raise InvalidInput(f"the folder {path.parent} does not exist")
    return path


async def export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the export, then print its path and size."""
    files = ThreadSeam("export-files", 1)
    path = await files.run(target_path, args.path, args.run_number)
    async with (
        open_store(settings.database_url) as store,
        open_archive(settings, store, local_files=LocalMedia.from_settings(settings)) as archiver,
    ):
        network_id = await store.read(run_queries.network_of_run, args.run_number)
        exporter = await prepare_export(store, archiver.open_media, network_id, args.run_number)
        try:
            size = await write_export(exporter, path, files)
        except OSError as exc:
            raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"run {args.run_number}: {exporter.summary.last_sequence_number + 1} step(s)")
    print(f"{path} ({size:,} bytes)")
    return 0
