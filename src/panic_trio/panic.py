"""The embedding API: the whole engine for Python programs, without a web server.

``async with open_panic(settings) as panic:`` migrates the database, resumes
interrupted runs and gives a :class:`Panic` with the operations of the
contract. Leaving the block ends every run without failing it, so runs resume
the next time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import trio

from panic_trio.archive import Archiver, open_archive
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import (
    DEFAULT_LOCKOUT_SECONDS,
    Event,
    Invocation,
    Network,
    RunnerStatus,
)
from panic_trio.engine import NO_HOOKS, Engine, open_engine
from panic_trio.errors import ArchiveError
from panic_trio.events import EventBus, Subscription
from panic_trio.export import RunExporter, prepare_export
from panic_trio.inputs import check_network_fields
from panic_trio.installations import Installations, vestaboard_dispatcher
from panic_trio.local_media import LocalMedia
from panic_trio.models.prices import load_prices
from panic_trio.moderation import Moderation, PromptSource
from panic_trio.nodes import Backplane, Leases, Relay, sole_runner
from panic_trio.platform_tokens import TokenMethods
from panic_trio.platforms.base import Platform
from panic_trio.platforms.policy import invoke_with_policy
from panic_trio.platforms.registry import Platforms, open_platforms
from panic_trio.runs import RunMethods
from panic_trio.security import tokens
from panic_trio.settings import Settings
from panic_trio.signs import PrintedSigns
from panic_trio.spending import SpendingReport
from panic_trio.store import networks as network_queries
from panic_trio.store.store import Store, open_store
from panic_trio.token_sets import TokenSets
from panic_trio.users import UserMethods


class Panic(RunMethods, TokenMethods, UserMethods):
    """Users, networks and runs. Every ``async`` method is a checkpoint.

    Installations and their screens are a part of their own:
    ``panic.installations`` (:class:`~panic_trio.installations.Installations`).

    Obtain one with :func:`open_panic`; do not construct it directly.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine: Engine,
        platforms: Platforms,
        cipher: tokens.TokenCipher,
        archive: Archiver | None = None,
        installations: Installations | None = None,
        token_sets: TokenSets | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        self.events = engine.events
        self.platforms = platforms
        self.archive = archive
        self.installations = installations or Installations(store)
        self.signs = PrintedSigns(store)  # the QR: on screens or a printed sign
        self.moderation = Moderation(store, engine.events)
        self.token_sets = token_sets or TokenSets(store, cipher)
        self._cipher = cipher
        self.spending = SpendingReport(store, settings, engine.prices, engine.status)
        self._deletions: dict[int, trio.Event] = {}
        self._crypto = ThreadSeam("password-hashing", 2, inline=store.writes.inline)
        self._media = LocalMedia.from_settings(settings)

    # Networks

    async def create_network(
        self,
        owner_id: int,
        name: str,
        *,
        models: list[str],
        description: str = "",
        lockout_seconds: int = DEFAULT_LOCKOUT_SECONDS,
        daily_cap: float | None = None,
        run_cap: float | None = None,
    ) -> Network:
        """Create a network; its cycle must be valid. Caps are USD (``None``: none).

        Raises:
            InvalidNetwork: the cycle cannot run (the reason says why).
            InvalidInput: a bad name, description or lockout.
            NotFound: no such owner.
        """
        cleaned = check_network_fields(
            {
                "name": name,
                "description": description,
                "models": models,
                "lockout_seconds": lockout_seconds,
                "daily_cap": daily_cap,
                "run_cap": run_cap,
            }
        )
        await self.get_user(owner_id)
        return await self.store.create_network(
            owner_id,
            cleaned["name"],
            cleaned["description"],
            cleaned["models"],
            cleaned["lockout_seconds"],
            {"daily_cap": cleaned["daily_cap"], "run_cap": cleaned["run_cap"]},
        )

    async def update_network(self, network_id: int, **fields: Any) -> Network:
        """Change ``name``, ``description``, ``models``, ``lockout_seconds`` or the caps.

        A model change takes effect at the run's next step, a cap change
        before the next call. Invalid values
        raise before anything is written.
        """
        cleaned = check_network_fields(fields)
        if not cleaned:
            return await self.get_network(network_id)
        network = await self.store.update_network(network_id, cleaned)
        self.engine.network_changed(network)
        return network

    async def get_network(self, network_id: int) -> Network:
        """The network, or :class:`NotFound`."""
        return await self.store.get_network(network_id)

    async def list_networks(self, owner_id: int | None = None) -> list[Network]:
        """One owner's networks (or all)."""
        return await self.store.list_networks(owner_id)

    async def delete_network(self, network_id: int) -> None:
        """Stop its run, then delete the network and its invocations."""
        await self.get_network(network_id)
        await self.engine.forget(network_id)
        await self.store.delete_network(network_id)
        self.installations.network_deleted()  # its installations went with it
        deleted = self._deletions.pop(network_id, None)
        if deleted is not None:
            deleted.set()

    async def network_deleted(self, network_id: int) -> None:
        """Return once the network is deleted (its live sockets close then)."""
        await self._deletions.setdefault(network_id, trio.Event()).wait()

    async def revoke_terminal_tokens(self, network_id: int) -> Network:
        """End every terminal token (QR code) of the network issued so far.

        The secret key, and so every other credential, is untouched.
        """
        return await self.store.write(network_queries.bump_token_generation, network_id)

    # Runs

    async def start_run(
        self,
        network_id: int,
        prompt: str,
        *,
        replace: bool = False,
        source: PromptSource | None = None,
    ) -> Invocation:
        """Start a run and return its genesis invocation.

        The run keeps the network's cycle as it is now; a later edit applies
        to the next run. ``replace`` (for owners only: callers check) stops an
        active run even inside its lockout, in the same step. The network's
        blocklist is checked first; with a ``source`` the prompt and what
        became of it go to the network's prompt log.

        Raises:
            LockedOut: a run is active and in its lockout (``retry_after``).
            PromptBlocked: the blocklist caught it (a neutral message).
            InvalidPrompt, InvalidNetwork, NotFound: nothing was changed.
        """
        return await self.moderation.screened(
            network_id,
            prompt,
            source,
            partial(self.engine.start_run, network_id, prompt, replace=replace),
        )

    async def stop_run(self, network_id: int) -> bool:
        """Stop the active run; ``True`` if one was stopped. Returns when it is done."""
        return await self.engine.stop_run(network_id)

    async def stop_all(self) -> int:
        """Stop every active run; returns how many."""
        return await self.engine.stop_all()

    def status(self, network_id: int) -> RunnerStatus:
        """The runner's latest status (synchronous, no I/O), hidden outputs taken out."""
        return self.moderation.concealed.status(self.engine.status(network_id))

    async def list_run(self, network_id: int, run_number: int) -> list[Invocation]:
        """A run's invocations by sequence number."""
        return await self.store.list_run(network_id, run_number)

    async def get_invocation(self, invocation_id: int) -> Invocation:
        """One invocation, or :class:`NotFound`."""
        return await self.store.get_invocation(invocation_id)

    async def recent_invocations(
        self, limit: int = 100, network_id: int | None = None
    ) -> list[Invocation]:
        """The newest invocations (of one network, or across all), newest first."""
        return await self.store.recent_invocations(limit, network_id)

    async def run_exporter(self, network_id: int, run_number: int) -> RunExporter:
        """A streamed ``.zip`` export of one run: iterate its ``chunks()`` once.

        Raises:
            NotFound: no such network or run.
        """
        if self.archive is None:
            raise ArchiveError("exports need the archive, which this Panic was opened without")
        return await prepare_export(self.store, self.archive.open_media, network_id, run_number)

    @asynccontextmanager
    async def watch(self, network_id: int) -> AsyncIterator[Subscription[Event]]:
        """Live events of one network, from now until the block exits.

        A consumer too slow to keep up loses events rather than slowing the
        run (see ``Subscription.dropped``); each event carries the status.
        """
        await trio.lowlevel.checkpoint()
        with self.events.watch(network_id) as subscription:
            yield subscription

    @contextmanager
    def watch_all(self, buffer: int | None = None) -> Iterator[Subscription[Event]]:
        """Every network's live events (the admin feed, metrics, alerts), lossy like ``watch``."""
        with self.events.feed.subscribe(buffer) as subscription:
            yield subscription

    def statuses(self) -> Mapping[int, RunnerStatus]:
        """The latest status of every network this process runs (no I/O)."""
        return self.engine.statuses()

    def now(self) -> datetime:
        """The clock rows are stamped with (UTC; tests may move it)."""
        return self.store.now()

    def dropped_between_processes(self) -> int:
        """Events and screen messages not carried to the other processes on the database.

        Lossy like every fan-out (a full queue, a failed ``NOTIFY``): screens
        catch up with the next event. Always 0 with one process.
        """
        return self.events.dropped + self.installations.dropped

    def media_file(self, url: str) -> Path | None:
        """The file behind one of this server's media URLs (dummy outputs, local archive)."""
        return self._media(url)

    async def backup(self, path: Path) -> None:
        """Write a consistent copy of the database to ``path``."""
        await self.store.backup(path)


@asynccontextmanager
async def open_panic(
    settings: Settings | None = None,
    *,
    platforms: Mapping[str, Platform] | None = None,
    inline: bool = False,
    now: Callable[[], datetime] | None = None,
    runs: bool = True,
    secret_key: str | None = None,
) -> AsyncIterator[Panic]:
    """Open the store, the platforms and the engine, and give a :class:`Panic`.

    Args:
        settings: defaults to :meth:`Settings.from_env`.
        platforms: extra or replacement platforms by name (tests, plug-ins).
        inline: run blocking calls on the event loop instead of threads, for
            deterministic tests with Trio's ``MockClock`` only.
        now: the wall clock for stored times and spending days (tests tie it
            to Trio's clock).
        runs: ``False`` for programs that only read and edit (the CLI's
            ``user add``, ``network add``): they neither resume nor start
            runs, so they may open a database a server is running.
        secret_key: the key already loaded by the caller (``app.serve``
            loads it once for the web and the token cipher); by default it is
            loaded here (``PANIC_SECRET_KEY``, or the data folder's file).

    Entering migrates the database and resumes interrupted runs; exiting ends
    every run without failing it.

    Raises:
        StoreError: with ``runs``, another process already runs this SQLite
            database (one line naming it).
    """
    settings = settings or Settings.from_env()
    files = ThreadSeam("secret-key-file", 1, inline=inline)
    if secret_key is None:
        secret_key = await files.run(tokens.load_secret_key, settings.secret_key, settings.data_dir)
    cipher = tokens.TokenCipher(secret_key)
    prices = await files.run(load_prices, settings.prices)
    local_files = LocalMedia.from_settings(settings)  # one resolver: platforms and archive
    async with (
        sole_runner(settings, files, runs),  # before migrating: a refused process writes nothing
        open_store(settings.database_url, inline=inline) as store,
        open_platforms(settings, local_files=local_files, inline=inline) as available,
    ):
        if now is not None:
            store.now = now
        by_name = {**available.by_name, **(platforms or {})}
        resolved = dataclasses.replace(available, by_name=by_name)

        token_sets = TokenSets(store, cipher)  # a network's runs use its chosen set
        token_for = token_sets.for_network

        # The archive opens before the engine, whose completion hook is
        # archive.submit, and closes after it: runs end first, then archives
        # in progress get settings.shutdown_timeout to finish. Both publish
        # to one event bus, made first.
        postgres = store.engine.dialect.name == "postgresql"
        events = Backplane(store, settings.node) if postgres and runs else EventBus()
        # The installations part's edits, screen requests and viewer counts
        # reach the other processes through a relay beside the backplane
        # (the lease keeper runs both on its one listening connection).
        relay = Relay(store, settings.node) if postgres and runs else None
        boards = vestaboard_dispatcher(store, resolved, token_for)
        installations = Installations(store, boards, relay=relay)
        if relay is not None:
            relay.carry(installations)
        leases = None
        if postgres:
            backplane = events if isinstance(events, Backplane) else None
            leases = Leases(
                store,
                settings.node,
                settings.lease_seconds,
                settings.database_url,
                backplane=backplane,
                relay=relay,
            )
        async with (
            open_archive(
                settings, store, local_files=local_files, inline=inline, events=events
            ) as archive,
            open_engine(
                store,
                by_name,
                settings,
                tokens=token_for,
                invoke=invoke_with_policy,
                on_completed=archive.submit,
                hooks=NO_HOOKS if boards is None else boards,
                prices=prices,
                events=events,
                runs=runs,
                ownership=leases,
            ) as engine,
        ):
            panic = Panic(
                settings, store, engine, resolved, cipher, archive, installations, token_sets
            )
            await panic.moderation.load()
            yield panic
