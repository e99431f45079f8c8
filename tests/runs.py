"""Waiting on a run's events: start a run and wait for the step or failure a test needs."""

from __future__ import annotations

from collections.abc import Callable

from panic_trio import Panic
from panic_trio.domain import Event, Invocation


def failed(event: Event) -> bool:
    return event.status.state == "failed"


def completed_at_least(seq: int) -> Callable[[Event], bool]:
    """Step ``seq`` (or a later one) completed, or the run failed (callers check which)."""

    def done(event: Event) -> bool:
        row = event.invocation if event.kind == "invocation" else None
        return failed(event) or (
            row is not None and row.state == "completed" and row.sequence_number >= seq
        )

    return done


async def start_and_wait(
    panic: Panic, network_id: int, prompt: str, done: Callable[[Event], bool]
) -> tuple[Invocation, Event]:
    """Start a run; return its genesis and the first event satisfying ``done``."""
    async with panic.watch(network_id) as events:
        genesis = await panic.start_run(network_id, prompt)
        async for event in events:
            if done(event):
                return genesis, event
    raise AssertionError("the event stream ended")
