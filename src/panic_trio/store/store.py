"""The async store: every query runs in the database thread seam.

One seam for writes (a single writer on SQLite, which is faster than letting
threads fight over its lock) and one for reads. SQLAlchemy errors are
translated into :class:`~panic_trio.errors.StoreError` here and nowhere else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Fence, Invocation, Network, User, utc_now
from panic_trio.errors import StoreError
from panic_trio.store import accounts, bulk, database, invocations, leases, networks, usage

P = ParamSpec("P")
T = TypeVar("T")
Query = Callable[Concatenate[Connection, P], T]


def _translate(exc: SQLAlchemyError) -> StoreError:
    text = str(getattr(exc, "orig", None) or exc)
    if isinstance(exc, OperationalError) and "locked" in text:
        return StoreError(
            f"the database is busy (locked by another writer): {text}", transient=True
        )
    if isinstance(exc, OperationalError) and ("full" in text or "disk" in text):
        return StoreError(f"the database cannot write (disk full?): {text}", transient=True)
    if isinstance(exc, OperationalError | DBAPIError) and exc.connection_invalidated:
        return StoreError(f"lost the database connection: {text}", transient=True)
    return StoreError(f"database error: {text}", transient=isinstance(exc, OperationalError))


class Store:
    """Async access to users, networks and invocations.

    Every method is a checkpoint and runs its queries in one transaction in a
    worker thread. ``now`` supplies persisted (wall-clock) timestamps.
    """

    def __init__(
        self, engine: Engine, *, inline: bool = False, now: Callable[[], datetime] = utc_now
    ) -> None:
        self.engine = engine
        self.now = now
        sqlite = engine.dialect.name == "sqlite"
        self.writes = ThreadSeam("db-writes", 1 if sqlite else 4, inline=inline)
        self.reads = ThreadSeam("db-reads", 4, inline=inline)
        # Leases and messages between processes: never queued behind a busy engine's writes.
        self.control = ThreadSeam("db-control", 1, inline=inline)
        # Lease renewals: never queued behind a burst of claims or forwarded requests.
        self.renewals = ThreadSeam("db-renewals", 1, inline=inline)

    def _transaction(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            with self.engine.begin() as conn:
                return fn(conn, *args, **kwargs)
        except SQLAlchemyError as exc:
            raise _translate(exc) from exc

    async def write(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in one write transaction."""
        return await self.writes.run(lambda: self._transaction(fn, *args, **kwargs))

    async def control_write(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in one transaction on the control seam (leases, messages)."""
        return await self.control.run(lambda: self._transaction(fn, *args, **kwargs))

    async def renewal_write(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in one transaction on the renewal seam (its own thread)."""
        return await self.renewals.run(lambda: self._transaction(fn, *args, **kwargs))

    async def read(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, *args)`` in one read transaction."""
        return await self.reads.run(lambda: self._transaction(fn, *args, **kwargs))

    # Users and secrets

    async def create_user(self, email: str, password_hash: str, admin: bool) -> User:
        """Create a user (``InvalidInput`` if the email is taken)."""
        return await self.write(accounts.insert_user, email, password_hash, admin, self.now())

    async def get_user(self, user_id: int) -> User | None:
        """The user, or ``None``."""
        return await self.read(accounts.user_by_id, user_id)

    async def user_credentials(self, email: str) -> tuple[User, str] | None:
        """The user with that email and their password hash."""
        return await self.read(accounts.user_credentials, email)

    async def store_platform_token(self, user_id: int, name: str, ciphertext: bytes | None) -> None:
        """Set or clear one encrypted platform token."""
        await self.write(accounts.store_platform_token, user_id, name, ciphertext, self.now())

    async def platform_token(self, user_id: int, name: str) -> bytes | None:
        """One encrypted platform token, or ``None``."""
        return await self.read(accounts.platform_token, user_id, name)

    # Networks

    async def create_network(
        self,
        owner_id: int,
        name: str,
        description: str,
        models: list[str],
        lockout: int,
        caps: dict[str, float | None] | None = None,
    ) -> Network:
        """Create a network (validated by the caller)."""
        return await self.write(
            networks.insert_network,
            owner_id,
            name,
            description,
            models,
            lockout,
            self.now(),
            caps,
        )

    async def get_network(self, network_id: int) -> Network:
        """The network, or ``NotFound``."""
        return await self.read(networks.network_by_id, network_id)

    async def list_networks(self, owner_id: int | None = None) -> list[Network]:
        """One owner's networks, or every network."""
        return await self.read(networks.list_networks, owner_id)

    async def update_network(self, network_id: int, fields: dict[str, Any]) -> Network:
        """Change some fields (validated by the caller)."""
        return await self.write(networks.update_network, network_id, fields, self.now())

    async def delete_network(self, network_id: int) -> None:
        """Delete a network and its invocations."""
        await self.write(networks.delete_network, network_id)

    # Invocations

    async def create_genesis(
        self,
        network_id: int,
        model: str,
        prompt: str,
        *,
        cycle: Sequence[str] | None = None,
        fence: Fence | None = None,
    ) -> Invocation:
        """A new run's first invocation, already ``invoking`` (``cycle`` kept with it).

        ``fence`` (several processes): written only while this process owns
        the network, else :class:`~panic_trio.errors.LeaseLost`; the same for
        every write of a run below.
        """
        return await self.write(
            leases.fenced,
            fence,
            invocations.insert_genesis,
            network_id,
            model,
            prompt,
            self.now(),
            cycle,
        )

    async def start_genesis(
        self,
        network_id: int,
        prompt: str,
        admit: Callable[[Network], bool],
        *,
        fence: Fence | None = None,
    ) -> tuple[Network, Invocation | None]:
        """Read the network and, if ``admit(network)``, write a run's genesis, in one write.

        ``admit`` runs in the write thread: it must be pure (it may raise, and
        then nothing is written). Without admission the genesis is ``None``.
        """
        return await self.write(
            leases.fenced, fence, invocations.start_genesis, network_id, prompt, self.now(), admit
        )

    async def set_invoking(self, invocation_id: int, *, fence: Fence | None = None) -> Invocation:
        """Mark an invocation ``invoking``."""
        return await self.write(
            leases.fenced, fence, invocations.set_invoking, invocation_id, self.now()
        )

    async def complete_and_prepare_next(
        self,
        invocation_id: int,
        output: str,
        metadata: Mapping[str, Any],
        *,
        start_next: bool = False,
        cost: float | None = None,
        cycle: Sequence[str] | None = None,
        fence: Fence | None = None,
    ) -> tuple[Invocation, Invocation]:
        """Complete an invocation (spending ``cost``) and create the next.

        The next is ``invoking`` if ``start_next``; its model is taken from
        ``cycle`` (the run's own), or the network's models when the run has none.
        """
        write = partial(
            invocations.complete_and_prepare_next, start_next=start_next, cost=cost, cycle=cycle
        )
        return await self.write(
            leases.fenced, fence, write, invocation_id, output, metadata, self.now()
        )

    async def fail(
        self, invocation_id: int, metadata: Mapping[str, Any], *, fence: Fence | None = None
    ) -> Invocation:
        """Mark an invocation ``failed`` with the reason in ``metadata``."""
        return await self.write(
            leases.fenced, fence, invocations.fail, invocation_id, metadata, self.now()
        )

    async def set_ready(self, invocation_id: int, *, fence: Fence | None = None) -> Invocation:
        """Put an interrupted invocation back to ``ready``."""
        return await self.write(
            leases.fenced, fence, invocations.set_ready, invocation_id, self.now()
        )

    async def get_invocation(self, invocation_id: int) -> Invocation:
        """The invocation, or ``NotFound``."""
        return await self.read(invocations.invocation_by_id, invocation_id)

    async def list_run(self, network_id: int, run_number: int) -> list[Invocation]:
        """A run's invocations by sequence number."""
        return await self.read(invocations.list_run, network_id, run_number)

    async def recent_invocations(
        self, limit: int = 100, network_id: int | None = None
    ) -> list[Invocation]:
        """The newest invocations, newest first."""
        return await self.read(invocations.recent, limit, network_id)

    async def active_rows(self, network_id: int | None = None) -> list[Invocation]:
        """Every ``ready`` or ``invoking`` row (of one network, or of all)."""
        return await self.read(bulk.active_rows, network_id)

    async def backup(self, path: Path) -> None:
        """Write a consistent copy of the database to ``path`` (SQLite only)."""
        await self.reads.run(self._backup, path)

    def _backup(self, path: Path) -> None:
        if self.engine.dialect.name != "sqlite":
            raise StoreError("backups are built in for SQLite only; use pg_dump for PostgreSQL")
        if path.is_dir():
            raise StoreError(f"cannot write a backup to {path}: it is a folder")
        tmp = path.with_name(path.name + ".partial")
        try:
            tmp.unlink(missing_ok=True)
            database.create_private_file(tmp)  # a backup holds password hashes too
        except OSError as exc:
            raise StoreError(f"cannot write a backup to {path}: {exc.strerror}") from exc
        raw = self.engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)
                # One self-contained file: no -wal/-shm beside the copy when it is opened.
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        except sqlite3.Error as exc:
            raise StoreError(f"backup failed: {exc}") from exc
        finally:
            raw.close()
        try:
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write a backup to {path}: {exc.strerror}") from exc


@asynccontextmanager
async def open_store(
    url: str, *, upgrade: bool = True, inline: bool = False
) -> AsyncIterator[Store]:
    """Open the database at ``url``, migrating it to the newest schema first.

    Enter blocks while migrations run; exit disposes of the connection pool.

    Raises:
        ConfigError: the URL is unusable.
        StoreError: the database cannot be reached, is behind and
            ``upgrade`` is false, or a restore is writing it.
    """
    engine = database.create_db_engine(url)
    store = Store(engine, inline=inline)
    file = database.sqlite_path(url)
    lock = None
    try:
        if file is not None:  # a restore must not replace the file under us
            lock = await store.writes.run(usage.hold_shared, file)
        await store.writes.run(_prepare, engine, upgrade)
        yield store
    finally:
        engine.dispose()
        if lock is not None:
            lock.close()


def _prepare(engine: Engine, upgrade: bool) -> None:
    try:
        if upgrade:
            database.upgrade(engine)
        elif database.current_revision(engine) != database.head_revision():
            raise StoreError("the database schema is out of date: run `panic-trio db upgrade`")
    except SQLAlchemyError as exc:
        raise _translate(exc) from exc
