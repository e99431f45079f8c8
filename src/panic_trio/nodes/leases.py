"""Network leases on PostgreSQL: claim, renew, release, and adopt the orphans.

A process runs a network only while it holds the network's lease (see
:mod:`panic_trio.store.leases`). The keeper renews every held lease each
third of ``PANIC_LEASE_SECONDS`` (on its own database thread, logging a slow
round) and tells the engine until when its runs may
go on: a run is cancelled at that deadline, a fifth of the lease before the
lease can expire in the database, so a process cut off from the database
stops calling models before another may start. Twice a second it looks for
networks with an active run and no live owner (a process died, or let go at
a graceful stop) and adopts them: the engine claims them and resumes.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, Final

import trio

from panic_trio.domain import Fence, Invocation
from panic_trio.engine.ownership import Keeper
from panic_trio.errors import OwnerUnreachable, PanicError, StoreError
from panic_trio.nodes.backplane import EVENTS, Backplane
from panic_trio.nodes.listener import Handler, Listener
from panic_trio.nodes.relay import Relay
from panic_trio.nodes.routing import Router, inbox
from panic_trio.store import leases as lease_queries
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)

SCAN_SECONDS: Final = 0.5  # how soon a released or expired network is adopted
MARGIN: Final = 0.2  # of the lease: runs end this much before it can expire
SLOW: Final = 1 / 6  # of the lease: a renewal round this late or long is logged


class Leases:
    """This process's leases: an :class:`~panic_trio.engine.ownership.Ownership`."""

    def __init__(
        self,
        store: Store,
        node: str,
        seconds: float,
        database_url: str,
        *,
        backplane: Backplane | None = None,
        relay: Relay | None = None,
    ) -> None:
        self.node = node
        self._store = store
        self._seconds = seconds
        self._router = Router(store, node)
        self._backplane = backplane
        handlers: dict[str, Handler] = {inbox(node): self._router.receive}
        if backplane is not None:
            handlers[EVENTS] = backplane.receive
        self._relay = relay
        if relay is not None:
            handlers[relay.channel] = relay.receive
        self._listener = Listener(database_url, handlers)
        self._held: dict[int, Fence] = {}
        self._valid_until: dict[int, float] = {}

    def valid_until(self, network_id: int) -> float:
        """Until when (Trio time) a run of the network may go on without a renewal."""
        return self._valid_until.get(network_id, trio.current_time())

    def _deadline(self, asked_at: float) -> float:
        return asked_at + self._seconds * (1 - MARGIN)

    async def claim(self, network_id: int) -> Fence | str:
        """Take the network if nobody lives holding it: its fence, or the owner's name."""
        asked_at = trio.current_time()
        taken = await self._store.control_write(
            lease_queries.take, network_id, self.node, self._seconds
        )
        if isinstance(taken, lease_queries.Holder):
            if taken.owner == self.node:  # let go here a moment ago: not expired yet
                raise OwnerUnreachable(
                    f"network {network_id} is changing hands: try again in a moment",
                    owner=self.node,
                    retry_after=max(1.0, taken.seconds_left),
                )
            return taken.owner
        self._held[network_id] = taken
        self._valid_until[network_id] = self._deadline(asked_at)
        logger.info("network %s: taken (epoch %s)", network_id, taken.epoch)
        return taken

    async def owner_of(self, network_id: int) -> str | None:
        """The node name of the network's live owner (``None``: nobody)."""
        found = await self._store.control_write(lease_queries.holder, network_id)
        return None if found is None else found.owner

    def forget(self, network_id: int) -> None:
        """Stop renewing the network's lease; it expires and another process adopts it."""
        self._held.pop(network_id, None)
        self._valid_until.pop(network_id, None)

    async def release(self) -> None:
        """Let go of every lease at once, so other processes resume the runs now."""
        held, self._held = list(self._held.values()), {}
        self._valid_until.clear()
        if not held:
            return
        try:
            count = await self._store.control_write(lease_queries.release, self.node, held)
        except StoreError as exc:
            logger.warning("could not release leases (they expire by themselves): %s", exc)
            return
        logger.info("released %s leases", count)

    async def keep(self, keeper: Keeper, *, task_status: trio.TaskStatus[None]) -> None:
        """Listen for requests, renew the leases and adopt orphaned networks, until cancelled."""
        async with trio.open_nursery() as nursery:
            self._router.attach(nursery, partial(self._serve, keeper))
            if self._backplane is not None:
                await nursery.start(self._backplane.run)
            if self._relay is not None:
                await nursery.start(self._relay.run)
            await nursery.start(self._listener.run)
            nursery.start_soon(self._keep_renewing, keeper)
            nursery.start_soon(self._keep_adopting, keeper)
            task_status.started()

    async def _serve(self, keeper: Keeper, request: dict[str, Any]) -> Any:
        """A request another process forwarded (see :mod:`.routing`)."""
        network_id = int(request["network"])
        if request.get("op") == "start":
            genesis = await keeper.start_here(
                network_id, str(request["prompt"]), replace=bool(request.get("replace"))
            )
            return genesis.to_json()
        if request.get("op") == "stop":
            return await keeper.stop_here(network_id, str(request.get("reason", "stopped")))
        raise OwnerUnreachable(
            f"unknown request {request.get('op')!r}", owner=self.node, retry_after=1
        )

    async def _keep_renewing(self, keeper: Keeper) -> None:
        """Renewals on their own task: adopting many orphans must never delay them."""
        while True:
            due = trio.current_time() + self._seconds / 3
            await trio.sleep_until(due)
            woke = trio.current_time()
            await self._renew(keeper)
            took = trio.current_time() - woke
            if woke - due + took > self._seconds * SLOW:
                logger.warning(
                    "lease renewal slow: woke %.2f s late, took %.2f s (%s leases)",
                    woke - due,
                    took,
                    len(self._held),
                )

    async def _keep_adopting(self, keeper: Keeper) -> None:
        while True:
            await self._adopt_orphans(keeper)
            await trio.sleep(min(SCAN_SECONDS, self._seconds / 3))

    async def _renew(self, keeper: Keeper) -> None:
        asked_at = trio.current_time()
        held = list(self._held.values())
        try:
            kept = await self._store.renewal_write(
                lease_queries.renew, self.node, held, self._seconds
            )
        except StoreError as exc:
            logger.warning("could not renew leases: %s", exc)
            return
        deadline = self._deadline(asked_at)
        for network_id in kept:
            self._valid_until[network_id] = deadline
        keeper.leases_valid_until(deadline)  # before the losses: they may take a while
        for fence in held:
            if fence.network_id not in kept and self._held.get(fence.network_id) == fence:
                self.forget(fence.network_id)
                await keeper.lose(fence.network_id)

    async def _adopt_orphans(self, keeper: Keeper) -> None:
        try:
            orphans = await self._store.control_write(lease_queries.orphans)
        except StoreError as exc:
            logger.warning("could not look for networks to adopt: %s", exc)
            return
        for network_id in orphans:
            if network_id in self._held:
                continue
            try:
                await keeper.adopt(network_id)
            except PanicError as exc:
                logger.warning("network %s: could not adopt: %s", network_id, exc)

    async def forward_start(
        self, network_id: int, prompt: str, *, replace: bool, owner: str
    ) -> Invocation:
        """Ask the owner to start the run; its genesis, or its error (``LockedOut``…)."""
        request = {"op": "start", "network": network_id, "prompt": prompt, "replace": replace}
        return Invocation.from_json(await self._router.ask(owner, request))

    async def forward_stop(self, network_id: int, reason: str, *, owner: str) -> bool:
        """Ask the owner to stop the run; whether one was stopped."""
        request = {"op": "stop", "network": network_id, "reason": reason}
        return bool(await self._router.ask(owner, request))
