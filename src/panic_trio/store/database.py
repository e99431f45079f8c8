"""Creating the SQLAlchemy engine for SQLite or PostgreSQL, and running migrations."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from panic_trio.errors import ConfigError, StoreError

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
POOL_SIZE: Final = 8
SQLITE_PRAGMAS: Final = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "foreign_keys=ON",
    "busy_timeout=5000",
)


def is_sqlite(url: str) -> bool:
    """True for ``sqlite:`` URLs (one writer at a time)."""
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (``None`` for PostgreSQL or an in-memory database)."""
    if not is_sqlite(url):
        return None
    try:
        database = make_url(url).database or ""
    except ArgumentError:
        return None
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def create_db_engine(url: str) -> Engine:
    """An engine with SQLite pragmas (WAL, foreign keys) or a PostgreSQL pool.

    Raises:
        ConfigError: the URL is malformed or its driver is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database_url {url!r} is not a valid database URL") from None
    kwargs: dict[str, Any] = {}
    if is_sqlite(url):
        database = parsed.database or ""
        if database in ("", ":memory:"):
            # One shared connection, so every thread sees the same in-memory database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            create_private_file(Path(database).expanduser())
            kwargs.update(pool_size=POOL_SIZE, max_overflow=0)
    else:
        # Two more than the write and read seams use: the control and renewal seams.
        kwargs.update(pool_size=POOL_SIZE + 2, max_overflow=0, pool_pre_ping=True)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ModuleNotFoundError, ArgumentError) as exc:
        raise ConfigError(f"cannot use database_url {url!r}: {exc}") from None
    if is_sqlite(url):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def create_private_file(path: Path) -> None:
    """Create ``path`` (and missing folders) readable by this user only, if it is new.

    The database holds password hashes; SQLite gives its WAL and shared-memory
    files the database file's permissions, so they are private too.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (``None`` for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Apply every pending migration (blocking); returns the revision reached.

    On SQLite, foreign keys are off while migrations run (SQLite's own recipe
    for rebuilding a table: a DROP TABLE would otherwise cascade to every
    child row) and checked before the changes are committed.
    """
    config = _alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # outside any transaction, or SQLite ignores it
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise StoreError("a migration left rows whose parent is missing")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    return head_revision()


def known_revisions() -> set[str]:
    """Every migration this code knows (a database at another one is from a newer release)."""
    scripts = ScriptDirectory.from_config(_alembic_config())
    return {script.revision for script in scripts.walk_revisions()}
