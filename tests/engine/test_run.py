"""One run's state: its lockout, its cancel reason, its pending row settled once."""

from __future__ import annotations

import trio

from panic_trio.engine.run import SHUTDOWN, Run
from tests.engine.test_status import row


def test_the_lockout_counts_from_the_genesis() -> None:
    run = Run(row("invoking"), row("invoking"), genesis_at=100.0, lockout_seconds=30)
    assert run.lockout_until == 130.0
    assert run.active


def test_a_cancel_nobody_asked_for_is_a_shutdown() -> None:
    run = Run(row("invoking"), row("invoking"), genesis_at=0.0, lockout_seconds=0)
    assert run.cancel_reason == SHUTDOWN


async def test_cancel_cancels_the_scope_with_its_reason() -> None:
    run = Run(row("invoking"), row("invoking"), genesis_at=0.0, lockout_seconds=0)
    with run.scope:
        run.cancel("stopped")
        await trio.sleep_forever()
    assert run.scope.cancelled_caught
    assert run.cancel_reason == "stopped"


def test_the_pending_row_is_taken_once() -> None:
    run = Run(row("invoking"), row("ready", 1), genesis_at=0.0, lockout_seconds=0)
    assert run.take_pending() == row("ready", 1)
    assert run.take_pending() is None
    run.done.set()
    assert not run.active
