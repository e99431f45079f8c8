"""``panic-trio restore PATH``: put a backup in place of the SQLite database."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import trio

from panic_trio.domain import utc_now
from panic_trio.errors import ConfigError, StoreError
from panic_trio.security.tokens import SECRET_KEY_FILE, TokenCipher
from panic_trio.settings import Settings
from panic_trio.store import database
from panic_trio.store import restore as restoring
from panic_trio.store.restore import BackupContents

HELP = """\
Put the backup PATH (from `panic-trio backup` or PANIC_BACKUP_EVERY) in place of
the SQLite database PANIC_DATABASE_URL names. PATH is checked first: an SQLite
file, whole (PRAGMA integrity_check), a PANIC database, at a migration this
release knows. Refused while a panic-trio server or command uses the database.
The database it replaces is kept beside it as <name>.replaced-<time>. Platform
tokens are encrypted with the secret key the backup was made with: restore with
the same PANIC_SECRET_KEY (or data folder) to keep them readable.
PostgreSQL: use pg_dump and pg_restore (docs/operations.md)."""


def register(subparsers: Any) -> None:
    """Add the ``restore`` subcommand."""
    parser = subparsers.add_parser(
        "restore",
        help="replace the database with a checked backup",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, help="the backup file")
    parser.set_defaults(handler=restore)


def token_report(settings: Settings, contents: BackupContents) -> str:
    """Whether this server's secret key decrypts the restored platform tokens."""
    if not contents.tokens:
        return "no platform tokens to decrypt"
    secret = settings.secret_key
    key_file = settings.data_dir / SECRET_KEY_FILE
    if not secret and key_file.exists():
        secret = key_file.read_text().strip()
    if not secret:
        return (
            f"no secret key is set here yet, so the {len(contents.tokens)} platform tokens "
            "cannot be read: set PANIC_SECRET_KEY to the key the backup was made with"
        )
    cipher = TokenCipher(secret)
    unreadable = 0
    for ciphertext in contents.tokens:
        try:
            cipher.decrypt(ciphertext)
        except StoreError:
            unreadable += 1
    if not unreadable:
        return f"all {len(contents.tokens)} platform tokens decrypt with this secret key"
    return (
        f"{unreadable} of {len(contents.tokens)} platform tokens cannot be decrypted with this "
        "secret key: the backup was made with another PANIC_SECRET_KEY; set that key, "
        "or have their owners enter them again"
    )


def _restore(settings: Settings, path: Path) -> list[str]:
    target = database.sqlite_path(settings.database_url)
    if target is None:
        raise ConfigError(
            "restore writes SQLite database files; PANIC_DATABASE_URL is not one "
            "(for PostgreSQL use pg_restore, see docs/operations.md)"
        )
    contents, aside = restoring.restore(path, target, utc_now())
    lines = [f"restored {path} into {target}: {contents.summary()}"]
    if aside is not None:
        lines.append(f"the database it replaced is kept at {aside}")
    head = database.head_revision()
    if contents.revision != head:
        lines.append(f"it will be upgraded to migration {head} when panic-trio next starts")
    lines.append(token_report(settings, contents))
    return lines


async def restore(args: argparse.Namespace, settings: Settings) -> int:
    """Check PATH, then put it in place of the database and say what it held."""
    for line in await trio.to_thread.run_sync(_restore, settings, args.path):
        print(line)
    return 0
