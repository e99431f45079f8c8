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

from panic_trio.domain import Fence, Invocation, Network, RunnerStatus
from panic_trio.engine.hooks import NO_HOOKS, RunHooks
from panic_trio.engine.ownership import Ownership
from panic_trio.engine.requests import (
    CompletionHook,
    Invoke,
    Reply,
    Resume,
    RunnerDeps,
    Start,
    Stop,
    TokenLookup,
)
from panic_trio.engine.run import STOPPED
from panic_trio.engine.runner import NetworkRunner
from panic_trio.errors import ConfigError, OwnerUnreachable, PanicError, ShuttingDown
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

    def __init__(
        self,
        deps: RunnerDeps,
        nursery: trio.Nursery,
        *,
        runs: bool = True,
        ownership: Ownership | None = None,
    ) -> None:
        self._deps = deps
        self._nursery = nursery
        self._runners: dict[int, NetworkRunner] = {}
        self._closing = False
        self._runs = runs
        self._ownership = ownership
        self._claims: dict[int, trio.Lock] = {}  # per network: two prompts, one runner

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
        if runner is not None:
            return runner.status
        if self._ownership is not None:  # owned elsewhere: the last status heard
            return self._deps.events.status(network_id)
        return RunnerStatus()

    def statuses(self) -> dict[int, RunnerStatus]:
        """The status of every network that has a runner."""
        local = {network_id: r.status for network_id, r in self._runners.items()}
        if self._ownership is None:
            return local
        return {**self._deps.events.statuses(), **local}  # and those other processes run

    def network_changed(self, network: Network) -> None:
        """Tell the network's runner about an edit (its caps apply from the next call)."""
        runner = self._runners.get(network.id)
        if runner is not None:
            runner.network_changed(network)

    async def start_run(self, network_id: int, prompt: str, *, replace: bool = False) -> Invocation:
        """Start a run (here, or where another process runs the network); see ``Panic.start_run``.

        Raises:
            InvalidPrompt, NotFound, InvalidNetwork: nothing was changed.
            LockedOut: a run is active and inside its lockout.
            OwnerUnreachable: another process runs it and did not answer.
        """
        return await self._start(network_id, prompt, replace=replace, forward=True)

    async def start_here(self, network_id: int, prompt: str, *, replace: bool) -> Invocation:
        """A prompt another process forwarded: start it here, never forwarding again."""
        return await self._start(network_id, prompt, replace=replace, forward=False)

    async def stop_here(self, network_id: int, reason: str) -> bool:
        """A stop another process forwarded: stop the run if it runs here."""
        runner = self._runners.get(network_id)
        if runner is None:
            await trio.lowlevel.checkpoint()
            return False
        reply = Reply[bool]()
        await self._hand(runner, Stop(reason, reply))
        return await reply.wait()

    async def _start(
        self, network_id: int, prompt: str, *, replace: bool, forward: bool
    ) -> Invocation:
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
        found = await self._runner(network_id)
        if isinstance(found, str):
            assert self._ownership is not None
            if not forward:
                raise OwnerUnreachable(
                    f"network {network_id} moved to {found}", owner=found, retry_after=1.0
                )
            return await self._ownership.forward_start(
                network_id, prompt, replace=replace, owner=found
            )
        if found.active and network is None:  # it took over a run meanwhile: read it now
            network = await self._deps.store.get_network(network_id)
            check_network(network.models)
        runner = found
        reply = Reply[Invocation]()
        await self._hand(runner, Start(network, prompt, reply, replace))
        return await reply.wait()

    async def stop_run(self, network_id: int, reason: str = STOPPED) -> bool:
        """Stop the active run (wherever it runs); once it is stopped. ``False`` if none was."""
        runner = self._runners.get(network_id)
        if runner is None:
            if self._ownership is None:
                return False
            owner = await self._ownership.owner_of(network_id)
            if owner is None or owner == self._ownership.node:
                return False  # nobody runs it
            return await self._ownership.forward_stop(network_id, reason, owner=owner)
        reply = Reply[bool]()
        await self._hand(runner, Stop(reason, reply))
        return await reply.wait()

    async def stop_all(self) -> int:
        """Stop every active run; returns how many were stopped."""
        stopped: list[int] = []

        async def stop(network_id: int) -> None:
            try:
                if await self.stop_run(network_id, "stopped by an admin"):
                    stopped.append(network_id)
            except OwnerUnreachable as exc:  # the others are still stopped
                logger.warning("network %s: not stopped: %s", network_id, exc)

        networks = set(self._runners)
        if self._ownership is not None:  # and those other processes run
            networks |= {row.network_id for row in await self._deps.store.active_rows()}
        async with trio.open_nursery() as nursery:
            for network_id in networks:
                nursery.start_soon(stop, network_id)
        return len(stopped)

    async def forget(self, network_id: int) -> None:
        """Stop a deleted network's run, drop its runner and end its request loop."""
        await self.stop_run(network_id, "network deleted")
        self._lost(network_id)
        self._claims.pop(network_id, None)
        self._deps.events.forget(network_id)

    async def _hand(self, runner: NetworkRunner, request: Start | Stop) -> None:
        """Give a request to a runner; one dropped meanwhile (its lease lost) is no 500."""
        try:
            await runner.request(request)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            if self._ownership is None:
                raise
            raise OwnerUnreachable(
                f"network {runner.network_id} is changing hands: try again in a moment",
                owner=self._ownership.node,
                retry_after=1.0,
            ) from None

    async def _runner(self, network_id: int) -> NetworkRunner | str:
        """The network's runner here, started (and claimed) if need be; or the owner's name."""
        runner = self._runners.get(network_id)
        if runner is not None:
            return runner
        async with self._claims.setdefault(network_id, trio.Lock()):
            runner = self._runners.get(network_id)
            if runner is not None:
                return runner
            if self._ownership is None:
                return await self._start_runner(network_id, None)
            claimed = await self._ownership.claim(network_id)
            if isinstance(claimed, str):
                return claimed
            runner = await self._start_runner(network_id, claimed)
            try:  # first carry on the run the previous owner left: its lockout holds here
                await self._take_over(runner)
            except BaseException:
                self._lost(network_id)  # never held and idle: the lease expires, others adopt
                raise
            return runner

    async def _start_runner(self, network_id: int, fence: Fence | None) -> NetworkRunner:
        runner = NetworkRunner(network_id, self._deps, fence=fence, on_lost=self._lost)
        if self._ownership is not None:
            runner.hold_until(self._ownership.valid_until(network_id))
        self._runners[network_id] = runner
        await self._nursery.start(runner.run)
        return runner

    def _lost(self, network_id: int) -> None:
        """Drop the network's runner and end its request loop: its lease ran out
        (renewals failed; the lease expires) or the network was deleted."""
        runner = self._runners.pop(network_id, None)
        if runner is not None:
            runner.close()
        if self._ownership is not None:
            self._ownership.forget(network_id)

    # What the lease keeper tells the engine (engine/ownership.Keeper).

    def leases_valid_until(self, deadline: float) -> None:
        """Every held lease was renewed: runs may go on until ``deadline`` (Trio time)."""
        for runner in self._runners.values():
            runner.hold_until(deadline)

    async def lose(self, network_id: int) -> None:
        """Another process owns the network now: end the run here, writing nothing."""
        runner = self._runners.pop(network_id, None)
        if self._ownership is not None:
            self._ownership.forget(network_id)
        if runner is not None:
            logger.warning("network %s: another process took it over", network_id)
            await runner.lose()
            runner.close()

    async def adopt(self, network_id: int) -> None:
        """Take a network with an active run and no live owner, and resume it."""
        if not self._closing:
            await self._recover_network(network_id)

    async def recover(self) -> int:
        """Deal with runs a previous process left active; returns how many resumed.

        A run is active when the last row of its network's latest run is
        ``ready`` or ``invoking``. With ``resume_runs`` it continues from that
        row; otherwise (and for any older stray row) the row is failed as
        ``interrupted``. Either way no row stays ``invoking``.
        """
        rows = await self._deps.store.active_rows()
        resumed = 0
        for network_id in dict.fromkeys(row.network_id for row in rows):
            resumed += await self._recover_network(network_id)
        return resumed

    async def _recover_network(self, network_id: int) -> int:
        """Recover one network's active rows (claiming it first); 1 if its run resumed."""
        if self._ownership is not None:  # claiming takes over (see _runner)
            claimed = network_id not in self._runners
            runner = await self._runner(network_id)
            return int(claimed and not isinstance(runner, str) and runner.active)
        runner = await self._runner(network_id)
        assert not isinstance(runner, str)
        return await self._take_over(runner)

    async def _take_over(self, runner: NetworkRunner) -> int:
        """Settle what a previous process left of the network's runs; 1 if a run resumed."""
        store = self._deps.store
        network_id = runner.network_id
        fence = runner.fence
        # Read only now: once claimed, the previous owner can write nothing more.
        rows = await store.active_rows(network_id)
        latest = await store.read(invocation_queries.latest_run_number, network_id)
        last: Invocation | None = None
        for row in rows:
            if row.run_number != latest or (
                last is not None and last.sequence_number > row.sequence_number
            ):
                await store.fail(row.id, {"error": "interrupted"}, fence=fence)
                continue
            if last is not None:
                await store.fail(last.id, {"error": "interrupted"}, fence=fence)
            last = row
        if last is None or runner.active:
            return 0
        if not self._deps.settings.resume_runs:
            await store.fail(last.id, {"error": "interrupted"}, fence=fence)
            return 0
        try:
            network = await store.get_network(network_id)
            genesis = await store.get_invocation(last.run_number)
            reply = Reply[None]()
            await runner.request(Resume(network, genesis, last, reply))
            await reply.wait()
        except PanicError as exc:
            logger.error("network %s: cannot resume run: %s", network_id, exc)
            await store.fail(last.id, {"error": f"interrupted; not resumed: {exc}"}, fence=fence)
            return 0
        return 1

    async def shut_down(self) -> None:
        """End every run without failing it, so each resumes after a restart.

        From now on no run starts: a prompt arriving while the server says
        goodbye would otherwise start a run that is cut off at once.
        """
        self._closing = True
        async with trio.open_nursery() as nursery:
            for runner in self._runners.values():
                nursery.start_soon(runner.shut_down)
        if self._ownership is not None:  # released rows: another process resumes them now
            await self._ownership.release()


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
    ownership: Ownership | None = None,
) -> AsyncIterator[Engine]:
    """Run the engine; entering recovers interrupted runs, exiting ends all runs.

    On exit, active runs are shut down without being failed: with
    ``resume_runs`` they continue when the engine next opens. With ``runs``
    false the engine neither recovers nor starts runs (a program that only
    edits a database another process runs). With an ``ownership`` (several
    processes on PostgreSQL) its lease keeper runs in the engine's nursery
    and the engine runs only the networks it holds a lease on.
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
        engine = Engine(deps, nursery, runs=runs, ownership=ownership if runs else None)
        if runs and ownership is not None:
            await nursery.start(ownership.keep, engine)
        if runs:
            await engine.recover()
        try:
            yield engine
        finally:
            with trio.CancelScope(shield=True):
                await engine.shut_down()
            nursery.cancel_scope.cancel(reason="engine closed")
