"""The end of a run: the write that must land even when a stop cancels the run, and its error.

Shielded and bounded, so a stop cannot skip it and a stuck database cannot
hold the stop forever. If the database refuses for a passing reason (locked,
full), the run still ends now and :func:`settle` keeps retrying in the
runner's nursery; should that fail too, start-up recovery settles the row.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import trio

from panic_trio.domain import Invocation
from panic_trio.errors import StoreError

logger = logging.getLogger(__name__)

CLEANUP_TIMEOUT_SECONDS: Final = 10.0
CLEANUP_FIRST_RETRY_SECONDS: Final = 0.05
SETTLE_SECONDS: Final = 300.0

Write = Callable[[], Awaitable[Invocation]]


async def durably(
    write: Write,
    network_id: int,
    nursery: trio.Nursery | None,
    on_settled: Callable[[Invocation], None],
) -> Invocation | None:
    """Run ``write`` shielded within :data:`CLEANUP_TIMEOUT_SECONDS`; ``None`` if it failed."""
    with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT_SECONDS):
        try:
            return await write()
        except StoreError as exc:
            logger.warning("network %s: could not end the run: %s", network_id, exc)
            if exc.transient and nursery is not None:
                nursery.start_soon(settle, write, network_id, on_settled)
            return None
    logger.error("network %s: recording the end of a run timed out", network_id)
    return None


async def settle(write: Write, network_id: int, on_settled: Callable[[Invocation], None]) -> None:
    """Retry a run-ending write with backoff until it lands (or :data:`SETTLE_SECONDS`)."""
    delay = CLEANUP_FIRST_RETRY_SECONDS
    with trio.move_on_after(SETTLE_SECONDS):
        while True:
            await trio.sleep(delay)
            delay = min(delay * 2, 2.0)
            try:
                settled = await write()
            except StoreError as exc:
                if not exc.transient:
                    logger.error("network %s: giving up: %s", network_id, exc)
                    return
                continue
            logger.info("network %s: invocation %s settled", network_id, settled.id)
            on_settled(settled)
            return
    logger.error("network %s: a run's last row is still unsettled", network_id)


def sole(exc: Exception) -> Exception:
    """The one error inside a nursery's exception group (or the group itself)."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
