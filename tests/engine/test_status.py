"""The runner's status change: only the named fields change, the state is derived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from panic_trio.domain import Invocation, InvocationState, RunnerStatus
from panic_trio.engine.status import changed

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def row(state: InvocationState, seq: int = 0) -> Invocation:
    return Invocation(
        id=10 + seq,
        network_id=1,
        run_number=10,
        sequence_number=seq,
        model="dummy-t2t",
        input="a red balloon",
        output=None,
        state=state,
        metadata={},
        inserted_at=T0,
        updated_at=T0,
    )


def test_only_the_named_fields_change() -> None:
    before = RunnerStatus(state="failed", error="boom", genesis=row("completed"))
    after = changed(before, current=row("ready", 1))
    assert after.genesis == before.genesis
    assert after.error == "boom"
    assert after.current == row("ready", 1)
    cleared = changed(after, error=None, genesis=None)
    assert (cleared.error, cleared.genesis, cleared.current) == (None, None, row("ready", 1))


def test_the_state_is_derived_from_the_row_and_the_countdown() -> None:
    start = RunnerStatus()
    assert changed(start, current=row("invoking")).state == "invoking"
    waiting = changed(start, current=row("ready", 1), next_invocation_at=T0)
    assert waiting.state == "waiting"
    assert changed(waiting, next_invocation_at=None).state == "waiting"  # kept: no new fact
    assert changed(waiting, current=row("invoking", 1), next_invocation_at=None).state == (
        "invoking"
    )


def test_idle_and_failed_show_no_countdowns() -> None:
    lockout = T0 + timedelta(seconds=30)
    going = changed(
        RunnerStatus(), current=row("ready", 1), next_invocation_at=T0, lockout_until=lockout
    )
    assert going.lockout_until == lockout
    for state in ("idle", "failed"):
        ended = changed(going, state=state)
        assert (ended.state, ended.next_invocation_at, ended.lockout_until) == (state, None, None)
        assert ended.current == going.current
