"""Who runs which network: the engine's seam to the processes beside it.

One process on SQLite owns every network and needs no fencing (``None``).
With several processes on PostgreSQL an :class:`Ownership` (the ``nodes``
part's leases) decides: the engine claims a network before its runner
starts, writes every row of a run with the claim's :class:`Fence`, hands a
request for a network owned elsewhere to :meth:`Ownership.forward`, and is
told by the keeper when leases are renewed, lost, or free to adopt.
"""

from __future__ import annotations

from typing import Protocol

import trio

from panic_trio.domain import Fence, Invocation

__all__ = ["Keeper", "Ownership"]


class Keeper(Protocol):
    """What the lease keeper tells the engine."""

    def leases_valid_until(self, deadline: float) -> None:
        """Every held lease was renewed: runs may go on until ``deadline`` (Trio time)."""
        ...

    async def lose(self, network_id: int) -> None:
        """Another process took the network: end its run here without writing."""
        ...

    async def adopt(self, network_id: int) -> None:
        """The network has an active run and no live owner: take it and resume it."""
        ...

    async def start_here(self, network_id: int, prompt: str, *, replace: bool) -> Invocation:
        """Another process forwarded a prompt: start the run here, never forwarding again."""
        ...

    async def stop_here(self, network_id: int, reason: str) -> bool:
        """Another process forwarded a stop: stop the run if it runs here."""
        ...


class Ownership(Protocol):
    """Leases on networks shared by several processes."""

    node: str

    async def claim(self, network_id: int) -> Fence | str:
        """Become the network's owner: its fencing token, or the live owner's node name."""
        ...

    def valid_until(self, network_id: int) -> float:
        """Until when (Trio time) a run of a held network may go on without a renewal."""
        ...

    async def owner_of(self, network_id: int) -> str | None:
        """The node name of the network's live owner (``None``: nobody)."""
        ...

    def forget(self, network_id: int) -> None:
        """Stop renewing the network's lease (its runner is gone); it expires."""
        ...

    async def release(self) -> None:
        """Let go of every lease at once (a graceful stop: others take over now)."""
        ...

    async def keep(self, keeper: Keeper, *, task_status: trio.TaskStatus[None]) -> None:
        """Renew the leases and watch for networks to adopt, until cancelled."""
        ...

    async def forward_start(
        self, network_id: int, prompt: str, *, replace: bool, owner: str
    ) -> Invocation:
        """Ask the owner process to start a run (its answer, or its error)."""
        ...

    async def forward_stop(self, network_id: int, reason: str, *, owner: str) -> bool:
        """Ask the owner process to stop the network's run."""
        ...
