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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

import outcome
import trio

from panic_trio.domain import Event, Invocation, Network, RunnerState, RunnerStatus
from panic_trio.engine import schedule
from panic_trio.engine.cycle import run_cycle
from panic_trio.engine.hooks import StepHooks
from panic_trio.engine.invoke import call_model
from panic_trio.engine.requests import Request, Resume, RunnerDeps, Start, Stop
from panic_trio.engine.spending import RunSpending
from panic_trio.errors import (
    LockedOut,
    PlatformError,
    ResourceExhausted,
    StoreError,
)

logger = logging.getLogger(__name__)

CLEANUP_TIMEOUT_SECONDS: Final = 10.0
CLEANUP_FIRST_RETRY_SECONDS: Final = 0.05
SETTLE_SECONDS: Final = 300.0
STOPPED: Final = "stopped"
REPLACED: Final = "replaced by a new run"
SHUTDOWN: Final = "server shutting down"


class NetworkRunner:
    """Runs one network's runs, forever, until the engine shuts down."""

    def __init__(self, network_id: int, deps: RunnerDeps) -> None:
        self.network_id = network_id
        self.status = RunnerStatus()
        self._deps = deps
        self._send, self._receive = trio.open_memory_channel[Request](0)
        self._nursery: trio.Nursery | None = None
        self._scope: trio.CancelScope | None = None
        self._run_done = trio.Event()
        self._cancel_reason = STOPPED
        self._genesis_at = 0.0
        self._lockout_until = 0.0
        self._pending: Invocation | None = None
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
        return self._scope is not None and not self._run_done.is_set()

    async def _start(self, network: Network, prompt: str, *, replace: bool) -> Invocation:
        now = trio.current_time()
        if self.active and self.status.genesis is not None:
            remaining = schedule.lockout_remaining(self._genesis_at, now, network.lockout_seconds)
            locked = remaining > 0 and self.status.state != "failed"  # failed: only board sends
            if locked and not replace:
                raise LockedOut(self.status.genesis, remaining)
        await self._spending.check_start(network)
        if self.active:
            await self._cancel(REPLACED)
        genesis = await self._deps.store.create_genesis(
            network.id, network.models[0], prompt, cycle=network.models
        )
        # The lockout runs from when the genesis exists (its inserted_at), not
        # from the request: a slow write must not shorten it.
        self._genesis_at = trio.current_time()
        self._lockout_until = self._genesis_at + network.lockout_seconds
        await self._launch(network, network.models, genesis, genesis, None, announce=True)
        return genesis

    async def _resume(self, request: Resume) -> None:
        wall_now = self._deps.now()
        now = trio.current_time()
        self._genesis_at = now - (wall_now - request.genesis.inserted_at).total_seconds()
        self._lockout_until = self._genesis_at + request.network.lockout_seconds
        start_at = None
        if request.row.state == "ready" and request.row.sequence_number > 0:
            completed_at = now - (wall_now - request.row.inserted_at).total_seconds()
            delay = schedule.next_delay(completed_at - self._genesis_at, self._backoff)
            start_at = max(now, completed_at + delay)
        logger.info(
            "network %s: resuming run %s at step %s",
            self.network_id,
            request.genesis.run_number,
            request.row.sequence_number,
        )
        cycle = run_cycle(request.genesis, request.network)
        await self._launch(request.network, cycle, request.genesis, request.row, start_at)

    async def _launch(
        self,
        network: Network,
        cycle: Sequence[str],
        genesis: Invocation,
        first: Invocation,
        start_at: float | None,
        *,
        announce: bool = False,
    ) -> None:
        assert self._nursery is not None
        self._scope = trio.CancelScope()
        self._run_done = trio.Event()
        self._cancel_reason = SHUTDOWN  # any cancel not asked for by _cancel() is a shutdown
        self._pending = first
        self._spending.use(network)
        self._set_status(genesis=genesis, current=first, error=None)
        drive = partial(self._drive, network, cycle, first, start_at, announce=announce)
        self._nursery.start_soon(self._run, network, drive, self._scope, self._run_done)

    async def _cancel(self, reason: str) -> bool:
        if not self.active:
            return False
        assert self._scope is not None
        self._cancel_reason = reason
        self._scope.cancel(reason=reason)
        await self._run_done.wait()
        return True

    @property
    def _backoff(self) -> Any:
        return self._deps.settings.backoff_tiers

    async def _run(
        self,
        network: Network,
        drive: Callable[[StepHooks], Awaitable[None]],
        scope: trio.CancelScope,
        done: trio.Event,
    ) -> None:
        """One run: invoke, complete, prepare the next, wait, repeat."""
        try:
            with scope:
                async with trio.open_nursery() as sends:  # board pushes: cancelled with the run
                    await drive(self._deps.hooks.for_run(sends, network))
        except Exception as group:
            exc = _sole(group)
            # The runner's boundary: a bug or a store failure ends this run only.
            logger.exception("network %s: run failed unexpectedly", self.network_id)
            reason = str(exc) if isinstance(exc, StoreError) else f"internal error: {exc}"
            await self._finish_pending({"error": reason}, error=reason)
        finally:
            if self._pending is not None:
                await self._clean_up_cancelled()
            done.set()

    async def _drive(
        self,
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
                await self._finish_pending(metadata, error=breach.error)
                return
            if current.state != "invoking":
                current = await store.set_invoking(current.id)
            self._pending = current
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
                await self._finish_pending(failure, error=exc.message)
                return
            pauses = 0
            now = trio.current_time()
            floor = await hooks.prepare(current, result.output)
            delay = schedule.next_delay(now - self._genesis_at, self._backoff, floor=floor)
            metadata, cost = self._spending.cost(current.model, result.metadata)
            done, current = await store.complete_and_prepare_next(
                current.id,
                result.output,
                metadata,
                start_next=delay <= 0,
                cost=cost,
                cycle=cycle,
            )
            self._pending = current
            hooks.dispatch(done)
            self._deps.on_completed(done, current)
            self._set_status(current=current, next_at=now + delay)
            self._publish(done)
            await trio.sleep_until(now + delay)

    async def _finish_pending(self, metadata: dict[str, Any], *, error: str) -> None:
        """Fail the pending invocation and end the run with ``error``."""
        pending, self._pending = self._pending, None
        failed = None
        if pending is not None:
            failed = await self._durably(lambda: self._deps.store.fail(pending.id, metadata))
        self._set_status(state="failed", current=failed or pending, next_at=None, error=error)
        if failed is not None:
            self._publish(failed)

    async def _clean_up_cancelled(self) -> None:
        """After a cancel: fail (or, on shutdown, release) the pending invocation."""
        pending, self._pending = self._pending, None
        assert pending is not None
        store = self._deps.store
        if self._cancel_reason == SHUTDOWN:
            if pending.state == "invoking":
                await self._durably(lambda: store.set_ready(pending.id))
            return
        reason = {"cancelled": True, "error": f"cancelled: {self._cancel_reason}"}
        failed = await self._durably(lambda: store.fail(pending.id, reason))
        if failed is None:
            return
        # The genesis stays: after a stop, status still names the last run.
        self._set_status(state="idle", current=None, next_at=None, error=None)
        self._publish(failed)

    async def _durably(self, write: Callable[[], Awaitable[Invocation]]) -> Invocation | None:
        """A write that ends a run: shielded and bounded, so a stop cannot skip it.

        If the database refuses for a passing reason (locked, full), the run
        still ends now and :meth:`_settle` keeps retrying in the background;
        should that fail too, start-up recovery settles the row.
        """
        with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT_SECONDS):
            try:
                return await write()
            except StoreError as exc:
                logger.warning("network %s: could not end the run: %s", self.network_id, exc)
                if exc.transient and self._nursery is not None:
                    self._nursery.start_soon(self._settle, write)
                return None
        logger.error("network %s: recording the end of a run timed out", self.network_id)
        return None

    async def _settle(self, write: Callable[[], Awaitable[Invocation]]) -> None:
        """Retry a run-ending write with backoff until it lands (or ``SETTLE_SECONDS``)."""
        delay = CLEANUP_FIRST_RETRY_SECONDS
        with trio.move_on_after(SETTLE_SECONDS):
            while True:
                await trio.sleep(delay)
                delay = min(delay * 2, 2.0)
                try:
                    settled = await write()
                except StoreError as exc:
                    if not exc.transient:
                        logger.error("network %s: giving up: %s", self.network_id, exc)
                        return
                    continue
                logger.info("network %s: invocation %s settled", self.network_id, settled.id)
                self._publish(settled)
                return
        logger.error("network %s: a run's last row is still unsettled", self.network_id)

    def _set_status(self, *, state: RunnerState | None = None, **changes: Any) -> None:
        """Update the status value and tell watchers.

        ``changes`` may name ``genesis``, ``current``, ``next_at`` (Trio time)
        and ``error``; the state is derived unless given.
        """
        fields: dict[str, Any] = {}
        if "genesis" in changes:
            genesis = changes["genesis"]
            fields["genesis"] = genesis
            fields["lockout_until"] = None if genesis is None else self._wall(self._lockout_until)
        if "current" in changes:
            fields["current"] = changes["current"]
        if "next_at" in changes:
            next_at = changes["next_at"]
            fields["next_invocation_at"] = None if next_at is None else self._wall(next_at)
        if "error" in changes:
            fields["error"] = changes["error"]
        status = replace(self.status, **fields)
        if state is None:
            if status.current is not None and status.current.state == "invoking":
                state = "invoking"
            elif status.next_invocation_at is not None:
                state = "waiting"
            else:
                state = status.state
        if state in ("idle", "failed"):
            status = replace(status, next_invocation_at=None, lockout_until=None)
        self.status = replace(status, state=state)
        self._emit(Event("status", None, self.status))

    def _wall(self, deadline: float) -> datetime:
        return self._deps.now() + timedelta(seconds=deadline - trio.current_time())

    def _publish(self, invocation: Invocation) -> None:
        self._emit(Event("invocation", invocation, self.status))

    def _emit(self, event: Event) -> None:
        self._deps.events.publish(self.network_id, event)


def _sole(exc: Exception) -> Exception:
    """The one error inside the nursery's exception group (or the group itself)."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
