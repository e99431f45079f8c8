"""The engine: one runner per network under one nursery, plus start-up recovery.

Runners start on first use and live until the engine closes. Their events go
to the :class:`~panic_trio.events.EventBus` the engine is given, so a screen
can watch a network before its first run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import trio

from panic_trio.domain import Invocation, Network, RunnerStatus
from panic_trio.engine.hooks import NO_HOOKS, RunHooks
from panic_trio.engine.requests import (
    CompletionHook,
    Invoke,
    Reply,
    Request,
    Resume,
    RunnerDeps,
    Start,
    Stop,
    TokenLookup,
)
from panic_trio.engine.run import STOPPED
from panic_trio.engine.runner import NetworkRunner
from panic_trio.errors import ConfigError, PanicError, ShuttingDown
from panic_trio.events import EventBus
from panic_trio.inputs import check_prompt
from panic_trio.models import check_network
from panic_trio.models.prices import PriceTable, builtin_prices
from panic_trio.platforms.base import Call, Platform, Result
from panic_trio.settings import Settings
from panic_trio.store import invocations as invocation_queries
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)


async def _plain_invoke(platform: Platform, call: Call) -> Result:
    return await platform.invoke(call)


def _ignore_completion(done: Invocation, following: Invocation) -> None:
    """Default completion hook: nothing to archive."""


class Engine:
    """Starts, stops and watches runs. Create it with :func:`open_engine`."""

    def __init__(self, deps: RunnerDeps, nursery: trio.Nursery, *, runs: bool = True) -> None:
        self._deps = deps
        self._nursery = nursery
        self._runners: dict[int, NetworkRunner] = {}
        self._closing = False
        self._runs = runs

    @property
    def prices(self) -> PriceTable:
        """The price tables runs are costed with."""
        return self._deps.prices

    @property
    def events(self) -> EventBus:
        """Where the runners' events go."""
        return self._deps.events

    def status(self, network_id: int) -> RunnerStatus:
        """The runner's latest status (no I/O)."""
        runner = self._runners.get(network_id)
        return RunnerStatus() if runner is None else runner.status

    def statuses(self) -> dict[int, RunnerStatus]:
        """The status of every network that has a runner."""
        return {network_id: r.status for network_id, r in self._runners.items()}

    def network_changed(self, network: Network) -> None:
        """Tell the network's runner about an edit (its caps apply from the next call)."""
        runner = self._runners.get(network.id)
        if runner is not None:
            runner.network_changed(network)

    async def start_run(self, network_id: int, prompt: str, *, replace: bool = False) -> Invocation:
        """Start a run; replaces an active run whose lockout has passed (or any, with ``replace``).

        Raises:
            InvalidPrompt, NotFound, InvalidNetwork: nothing was changed.
            LockedOut: a run is active and inside its lockout.
        """
        check_prompt(prompt)
        if not self._runs:
            raise ConfigError("this program opened the database without runs: it cannot start one")
        if self._closing:
            raise ShuttingDown("the server is shutting down: try again in a moment")
        network = None  # an idle runner reads it with the genesis: one write, no read first
        runner = self._runners.get(network_id)
        if runner is None or runner.active:  # (no runner: the network may not exist)
            network = await self._deps.store.get_network(network_id)
            check_network(network.models)
        reply = Reply[Invocation]()
        await self._ask(network_id, Start(network, prompt, reply, replace))
        return await reply.wait()

    async def stop_run(self, network_id: int, reason: str = STOPPED) -> bool:
        """Stop the active run; returns once it is fully stopped. ``False`` if none was."""
        if network_id not in self._runners:
            return False
        reply = Reply[bool]()
        await self._ask(network_id, Stop(reason, reply))
        return await reply.wait()

    async def stop_all(self) -> int:
        """Stop every active run; returns how many were stopped."""
        stopped: list[int] = []

        async def stop(network_id: int) -> None:
            if await self.stop_run(network_id, "stopped by an admin"):
                stopped.append(network_id)

        async with trio.open_nursery() as nursery:
            for network_id in list(self._runners):
                nursery.start_soon(stop, network_id)
        return len(stopped)

    async def forget(self, network_id: int) -> None:
        """Stop a deleted network's run, drop its runner and end its request loop."""
        await self.stop_run(network_id, "network deleted")
        runner = self._runners.pop(network_id, None)
        if runner is not None:
            runner.close()
        self._deps.events.forget(network_id)

    async def _ask(self, network_id: int, request: Request) -> None:
        runner = self._runners.get(network_id)
        if runner is None:
            runner = NetworkRunner(network_id, self._deps)
            self._runners[network_id] = runner
            await self._nursery.start(runner.run)
        await runner.request(request)

    async def recover(self) -> int:
        """Deal with runs a previous process left active; returns how many resumed.

        A run is active when the last row of its network's latest run is
        ``ready`` or ``invoking``. With ``resume_runs`` it continues from that
        row; otherwise (and for any older stray row) the row is failed as
        ``interrupted``. Either way no row stays ``invoking``.
        """
        store = self._deps.store
        rows = await store.active_rows()
        last: dict[int, Invocation] = {}
        for row in rows:
            latest = await store.read(invocation_queries.latest_run_number, row.network_id)
            previous = last.get(row.network_id)
            if row.run_number != latest or (
                previous is not None and previous.sequence_number > row.sequence_number
            ):
                await store.fail(row.id, {"error": "interrupted"})
                continue
            if previous is not None:
                await store.fail(previous.id, {"error": "interrupted"})
            last[row.network_id] = row
        resumed = 0
        for row in last.values():
            if not self._deps.settings.resume_runs:
                await store.fail(row.id, {"error": "interrupted"})
                continue
            try:
                network = await store.get_network(row.network_id)
                genesis = await store.get_invocation(row.run_number)
                reply = Reply[None]()
                await self._ask(row.network_id, Resume(network, genesis, row, reply))
                await reply.wait()
                resumed += 1
            except PanicError as exc:
                logger.error("network %s: cannot resume run: %s", row.network_id, exc)
                await store.fail(row.id, {"error": f"interrupted; not resumed: {exc}"})
        return resumed

    async def shut_down(self) -> None:
        """End every run without failing it, so each resumes after a restart.

        From now on no run starts: a prompt arriving while the server says
        goodbye would otherwise start a run that is cut off at once.
        """
        self._closing = True
        async with trio.open_nursery() as nursery:
            for runner in self._runners.values():
                nursery.start_soon(runner.shut_down)


@asynccontextmanager
async def open_engine(
    store: Store,
    platforms: dict[str, Platform],
    settings: Settings,
    *,
    tokens: TokenLookup,
    invoke: Invoke = _plain_invoke,
    on_completed: CompletionHook = _ignore_completion,
    now: Callable[[], datetime] | None = None,
    hooks: RunHooks = NO_HOOKS,
    prices: PriceTable | None = None,
    events: EventBus | None = None,
    runs: bool = True,
) -> AsyncIterator[Engine]:
    """Run the engine; entering recovers interrupted runs, exiting ends all runs.

    On exit, active runs are shut down without being failed: with
    ``resume_runs`` they continue when the engine next opens. With ``runs``
    false the engine neither recovers nor starts runs (a program that only
    edits a database another process runs).
    """
    deps = RunnerDeps(
        store=store,
        platforms=platforms,
        settings=settings,
        tokens=tokens,
        invoke=invoke,
        on_completed=on_completed,
        events=events if events is not None else EventBus(),
        now=now or store.now,
        prices=prices if prices is not None else builtin_prices(),
        hooks=hooks,
    )
    async with trio.open_nursery() as nursery:
        engine = Engine(deps, nursery, runs=runs)
        if runs:
            await engine.recover()
        try:
            yield engine
        finally:
            with trio.CancelScope(shield=True):
                await engine.shut_down()
            nursery.cancel_scope.cancel(reason="engine closed")
