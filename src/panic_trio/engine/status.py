"""How a runner's status changes: one typed, pure rule.

A change names only the fields it sets; :data:`KEEP` (the default) leaves a
field as it is. The state is derived unless given: ``invoking`` while the
current row is being invoked, ``waiting`` while a next step is scheduled, and
an idle or failed runner shows no countdowns.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final

from panic_trio.domain import Invocation, RunnerState, RunnerStatus


class Keep(enum.Enum):
    """The type of :data:`KEEP`."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP
"""Leave this field of the status as it is."""


def changed(
    status: RunnerStatus,
    *,
    state: RunnerState | None = None,
    genesis: Invocation | Keep | None = KEEP,
    lockout_until: datetime | Keep | None = KEEP,
    current: Invocation | Keep | None = KEEP,
    next_invocation_at: datetime | Keep | None = KEEP,
    error: str | Keep | None = KEEP,
) -> RunnerStatus:
    """``status`` with the given fields set and its state derived (unless ``state``)."""
    new_current = status.current if current is KEEP else current
    new_next = status.next_invocation_at if next_invocation_at is KEEP else next_invocation_at
    new_lockout = status.lockout_until if lockout_until is KEEP else lockout_until
    if state is None:
        if new_current is not None and new_current.state == "invoking":
            state = "invoking"
        elif new_next is not None:
            state = "waiting"
        else:
            state = status.state
    if state in ("idle", "failed"):
        new_next = new_lockout = None
    return RunnerStatus(
        state=state,
        genesis=status.genesis if genesis is KEEP else genesis,
        current=new_current,
        next_invocation_at=new_next,
        lockout_until=new_lockout,
        error=status.error if error is KEEP else error,
    )
