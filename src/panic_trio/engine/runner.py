"""One network's runner: a request loop and at most one run, in its own nursery.

Requests (start, stop, resume) arrive on a memory channel and are handled one
at a time, so two prompts can never both start a run. Each run is one task in
one cancel scope: stopping or replacing a run cancels that scope (aborting an
in-flight model call), the run's own cleanup marks the interrupted invocation
``failed`` with ``metadata.cancelled``, and the request replies only after
that cleanup is done. Nothing of a cancelled run can execute afterwards.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

import outcome
import trio

from panic_trio.domain import Event, Fence, Invocation, Network, RunnerState, RunnerStatus
from panic_trio.engine import caps, endings, schedule
from panic_trio.engine.cycle import run_cycle
from panic_trio.engine.hooks import StepHooks
from panic_trio.engine.invoke import call_model
from panic_trio.engine.requests import Request, Resume, RunnerDeps, Start, Stop
from panic_trio.engine.run import REPLACED, SHUTDOWN, Run
from panic_trio.engine.spending import RunSpending
from panic_trio.engine.status import KEEP, Keep, changed
from panic_trio.errors import (
    LeaseLost,
    LockedOut,
    PlatformError,
    ResourceExhausted,
    StoreError,
)
from panic_trio.models import check_network
from panic_trio.settings import BackoffTiers, Settings

logger = logging.getLogger(__name__)

LOST: Final = "another process runs this network now"


class NetworkRunner:
    """Runs one network's runs, forever, until the engine shuts down."""

    def __init__(
        self,
        network_id: int,
        deps: RunnerDeps,
        *,
        fence: Fence | None = None,
        on_lost: Callable[[int], None] | None = None,
    ) -> None:
        self.fence = fence  # every write of a run carries it (several processes)
        self._on_lost = on_lost
        self._valid_until = math.inf  # the lease's end: no run of ours outlives it
        self.network_id = network_id
        self.status = RunnerStatus()
        self._deps = deps
        self._send, self._receive = trio.open_memory_channel[Request](0)
        self._nursery: trio.Nursery | None = None
        self._run: Run | None = None  # the latest run; active while its task lives
        self._spending = RunSpending(deps.store, deps.settings, deps.prices, deps.now)

    async def request(self, request: Request) -> None:
        """Hand a request to the loop (waits until the loop takes it)."""
        await self._send.send(request)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The request loop; ready as soon as it can take requests."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            async with self._receive:
                async for request in self._receive:
                    await self._handle(request)

    def close(self) -> None:
        """End the request loop once its current request is answered (a deleted network)."""
        self._send.close()

    async def shut_down(self) -> None:
        """End the active run without failing it (it resumes after a restart)."""
        await self._cancel(SHUTDOWN)

    async def lose(self) -> None:
        """Another process owns the network now: end the run here, writing nothing."""
        await self._cancel(LOST)

    def hold_until(self, deadline: float) -> None:
        """The lease was renewed until ``deadline`` (Trio time): past it, the run is cancelled."""
        self._valid_until = deadline
        if self._run is not None:
            self._run.scope.deadline = deadline

    async def _handle(self, request: Request) -> None:
        if isinstance(request, Start):
            request.reply.send(
                await outcome.acapture(
                    self._start, request.network, request.prompt, replace=request.replace
                )
            )
        elif isinstance(request, Stop):
            request.reply.send(await outcome.acapture(self._cancel, request.reason))
        else:
            request.reply.send(await outcome.acapture(self._resume, request))

    def network_changed(self, network: Network) -> None:
        """An edit of the network: its caps apply from the next call."""
        self._spending.use(network)

    @property
    def active(self) -> bool:
        """True while a run's task is alive."""
        return self._run is not None and self._run.active

    async def _start(self, network: Network | None, prompt: str, *, replace: bool) -> Invocation:
        if network is None:  # sent while idle: read the network with the genesis, one write
            if not self.active:
                store, admit = self._deps.store, partial(_admits, self._deps.settings)
                network, genesis = await store.start_genesis(
                    self.network_id, prompt, admit, fence=self.fence
                )
                if genesis is not None:
                    self._begin(network, genesis)
                    return genesis
            else:  # another prompt started a run in between: the usual way
                network = await self._deps.store.get_network(self.network_id)
                check_network(network.models)
        now = trio.current_time()
        run = self._run
        if run is not None and run.active and self.status.genesis is not None:
            remaining = schedule.lockout_remaining(run.genesis_at, now, network.lockout_seconds)
            locked = remaining > 0 and self.status.state != "failed"  # failed: only board sends
            if locked and not replace:
                raise LockedOut(self.status.genesis, remaining)
        await self._spending.check_start(network)
        if self.active:
            await self._cancel(REPLACED)
        genesis = await self._deps.store.create_genesis(
            network.id, network.models[0], prompt, cycle=network.models, fence=self.fence
        )
        self._begin(network, genesis)
        return genesis

    def _begin(self, network: Network, genesis: Invocation) -> None:
        # The lockout runs from when the genesis exists (its inserted_at), not
        # from the request: a slow write must not shorten it.
        at = trio.current_time()
        run = Run(genesis, genesis, genesis_at=at, lockout_seconds=network.lockout_seconds)
        self._launch(run, network, network.models, None, announce=True)

    async def _resume(self, request: Resume) -> None:
        if self.active:  # resumed already (start-up recovery and adoption both asked)
            return
        wall_now = self._deps.now()
        now = trio.current_time()
        run = Run(
            request.genesis,
            request.row,
            genesis_at=now - (wall_now - request.genesis.inserted_at).total_seconds(),
            lockout_seconds=request.network.lockout_seconds,
        )
        start_at = None
        if request.row.state == "ready" and request.row.sequence_number > 0:
            completed_at = now - (wall_now - request.row.inserted_at).total_seconds()
            delay = schedule.next_delay(completed_at - run.genesis_at, self._backoff)
            start_at = max(now, completed_at + delay)
        logger.info(
            "network %s: resuming run %s at step %s",
            self.network_id,
            request.genesis.run_number,
            request.row.sequence_number,
        )
        cycle = run_cycle(request.genesis, request.network)
        self._launch(run, request.network, cycle, start_at)

    def _launch(
        self,
        run: Run,
        network: Network,
        cycle: Sequence[str],
        start_at: float | None,
        *,
        announce: bool = False,
    ) -> None:
        assert self._nursery is not None
        assert run.pending is not None
        run.scope.deadline = self._valid_until
        self._run = run
        self._spending.use(network)
        self._set_status(
            genesis=run.genesis,
            lockout_until=self._wall(run.lockout_until),
            current=run.pending,
            error=None,
        )
        drive = partial(self._drive, run, network, cycle, run.pending, start_at, announce=announce)
        self._nursery.start_soon(self._run_task, run, network, drive)

    async def _cancel(self, reason: str) -> bool:
        run = self._run
        if run is None or not run.active:
            return False
        run.cancel(reason)
        await run.done.wait()
        return True

    @property
    def _backoff(self) -> BackoffTiers:
        return self._deps.settings.backoff_tiers

    async def _run_task(
        self, run: Run, network: Network, drive: Callable[[StepHooks], Awaitable[None]]
    ) -> None:
        """One run: invoke, complete, prepare the next, wait, repeat."""
        try:
            with run.scope:
                async with trio.open_nursery() as sends:  # board pushes: cancelled with the run
                    await drive(self._deps.hooks.for_run(sends, network))
            if run.scope.cancelled_caught and trio.current_time() >= run.scope.deadline:
                logger.error("network %s: lease not renewed in time; run ended", self.network_id)
                self._lose_lease()
        except Exception as group:
            exc = endings.sole(group)
            if isinstance(exc, LeaseLost):  # fenced: a late result of a paused process
                logger.warning("network %s: result discarded: %s", self.network_id, exc)
                run.take_pending()  # the new owner's events say what happens next
                self._lose_lease()
                return
            # The runner's boundary: a bug or a store failure ends this run only.
            logger.exception("network %s: run failed unexpectedly", self.network_id)
            reason = str(exc) if isinstance(exc, StoreError) else f"internal error: {exc}"
            await self._finish_pending(run, {"error": reason}, error=reason)
        finally:
            if run.pending is not None:
                await self._clean_up_cancelled(run)
            run.done.set()

    def _lose_lease(self) -> None:
        if self._on_lost is not None:
            self._on_lost(self.network_id)

    async def _drive(
        self,
        run: Run,
        network: Network,
        cycle: Sequence[str],
        current: Invocation,
        start_at: float | None,
        hooks: StepHooks,
        *,
        announce: bool,
    ) -> None:
        store = self._deps.store
        hold = await hooks.announce(current) if announce else None
        if hold is not None:
            start_at = trio.current_time() + hold
        if start_at is not None:
            self._set_status(state="waiting", current=current, next_at=start_at)
            await trio.sleep_until(start_at)
        pauses = 0  # in a row, for the current step, because the machine ran out of something
        while True:
            breach = await self._spending.breach(network.id, current.run_number, current.model)
            if breach is not None:
                logger.info("network %s: %s", self.network_id, breach.error)
                metadata = {"error": breach.error, "cap": breach.to_json()}
                await self._finish_pending(run, metadata, error=breach.error)
                return
            if current.state != "invoking":
                current = await store.set_invoking(current.id, fence=self.fence)
            run.pending = current
            self._set_status(current=current, next_at=None)
            self._publish(current)
            try:
                result = await call_model(self._deps, network, current)
            except ResourceExhausted as exc:  # the machine, not the step: pause, then again
                pause = schedule.resource_pause(pauses)
                pauses += 1
                logger.warning(
                    "network %s: %s; trying again in %g s", self.network_id, exc.message, pause
                )
                self._set_status(state="waiting", current=current, next_at=None)
                await trio.sleep(pause)
                continue
            except PlatformError as exc:
                failure = {"error": exc.message, "error_kind": exc.kind}
                await self._finish_pending(run, failure, error=exc.message)
                return
            pauses = 0
            now = trio.current_time()
            floor = await hooks.prepare(current, result.output)
            delay = schedule.next_delay(now - run.genesis_at, self._backoff, floor=floor)
            metadata, cost = self._spending.cost(current.model, result.metadata)
            done, current = await store.complete_and_prepare_next(
                current.id,
                result.output,
                metadata,
                start_next=delay <= 0,
                cost=cost,
                cycle=cycle,
                fence=self.fence,
            )
            run.pending = current
            hooks.dispatch(done)
            self._deps.on_completed(done, current)
            self._set_status(current=current, next_at=now + delay)
            self._publish(done)
            await trio.sleep_until(now + delay)

    async def _finish_pending(self, run: Run, metadata: dict[str, Any], *, error: str) -> None:
        """Fail the pending invocation and end the run with ``error``."""
        pending = run.take_pending()
        failed = None
        if pending is not None:
            failed = await self._durably(
                lambda: self._deps.store.fail(pending.id, metadata, fence=self.fence)
            )
        self._set_status(state="failed", current=failed or pending, next_at=None, error=error)
        if failed is not None:
            self._publish(failed)

    async def _clean_up_cancelled(self, run: Run) -> None:
        """After a cancel: fail (or, on shutdown, release) the pending invocation."""
        pending = run.take_pending()
        assert pending is not None
        store = self._deps.store
        if run.cancel_reason == LOST:
            return  # the new owner carries on from the row as it is, and says so
        if run.cancel_reason == SHUTDOWN:
            if pending.state == "invoking":
                await self._durably(lambda: store.set_ready(pending.id, fence=self.fence))
            return
        reason = {"cancelled": True, "error": f"cancelled: {run.cancel_reason}"}
        failed = await self._durably(lambda: store.fail(pending.id, reason, fence=self.fence))
        if failed is None:
            return
        # The genesis stays: after a stop, status still names the last run.
        self._set_status(state="idle", current=None, next_at=None, error=None)
        self._publish(failed)

    async def _durably(self, write: Callable[[], Awaitable[Invocation]]) -> Invocation | None:
        """A write that ends a run: shielded and bounded (see :mod:`.endings`)."""
        return await endings.durably(write, self.network_id, self._nursery, self._publish)

    def _set_status(
        self,
        *,
        state: RunnerState | None = None,
        genesis: Invocation | Keep | None = KEEP,
        lockout_until: datetime | Keep | None = KEEP,
        current: Invocation | Keep | None = KEEP,
        next_at: float | Keep | None = KEEP,
        error: str | Keep | None = KEEP,
    ) -> None:
        """Change the status (``next_at`` in Trio time) and tell watchers."""
        self.status = changed(
            self.status,
            state=state,
            genesis=genesis,
            lockout_until=lockout_until,
            current=current,
            next_invocation_at=next_at if isinstance(next_at, Keep | None) else self._wall(next_at),
            error=error,
        )
        self._emit(Event("status", None, self.status))

    def _wall(self, deadline: float) -> datetime:
        return self._deps.now() + timedelta(seconds=deadline - trio.current_time())

    def _publish(self, invocation: Invocation) -> None:
        self._emit(Event("invocation", invocation, self.status))

    def _emit(self, event: Event) -> None:
        self._deps.events.publish(self.network_id, event)


def _admits(settings: Settings, network: Network) -> bool:
    """Whether an idle runner may write the genesis at once (pure: runs in the write thread).

    Raises InvalidNetwork for a cycle that cannot run. With a spending cap
    the answer is no: the cap is checked first, the usual way.
    """
    check_network(network.models)
    return not caps.Limits(network.daily_cap, network.run_cap, settings.global_daily_cap).any
