"""Plain values shared by every layer: users, networks, invocations, status, events.

They are frozen dataclasses with no behaviour that does I/O, so they can cross
thread seams and be sent to any number of watchers safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

InvocationState = Literal["ready", "invoking", "completed", "failed"]
RunnerState = Literal["idle", "invoking", "waiting", "failed"]
EventKind = Literal["invocation", "status", "archived", "hidden"]

ACTIVE_STATES: Final[tuple[str, ...]] = ("ready", "invoking")
DEFAULT_LOCKOUT_SECONDS: Final = 30
MAX_PROMPT_CHARS: Final = 2000


def utc_now() -> datetime:
    """The current wall-clock time, timezone-aware UTC (for persisted timestamps)."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds, as the JSON API promises."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def usd(amount: float) -> str:
    """``$0.05``, ``$12.50``, ``$0.005``: cents unless the amount is finer."""
    if round(amount, 2) == amount:
        return f"${amount:,.2f}"
    return f"${amount:,.6f}".rstrip("0")


@dataclass(frozen=True, slots=True)
class User:
    """An account: owner of networks, tokens and API keys."""

    id: int
    email: str
    admin: bool = False
    # A session is valid only while it carries this number (bumped to end them all).
    session_version: int = field(default=0, compare=False)


QrMode = Literal["screen", "printed"]
QR_MODES: Final[tuple[QrMode, ...]] = ("screen", "printed")


@dataclass(frozen=True, slots=True)
class Network:
    """A cycle of models owned by a user."""

    id: int
    owner_id: int
    name: str
    description: str
    models: tuple[str, ...]
    lockout_seconds: int = DEFAULT_LOCKOUT_SECONDS
    daily_cap: float | None = None  # USD per day in the cap time zone; None: no cap
    run_cap: float | None = None  # USD per run
    # Credentials bind to these, not to the id alone (not part of equality:
    # two reads of one network are equal whatever its token generation).
    created_at: datetime | None = field(default=None, compare=False)
    token_generation: int = field(default=0, compare=False)
    # "screen" (a one-hour QR shown on screens) or "printed" (a lasting link
    # that mints one); sign_generation is that link's, bumped to rotate it.
    qr_mode: QrMode = field(default="screen", compare=False)
    sign_generation: int = field(default=0, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON API's shape."""
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "name": self.name,
            "description": self.description,
            "models": list(self.models),
            "lockout_seconds": self.lockout_seconds,
            "daily_cap": self.daily_cap,
            "run_cap": self.run_cap,
        }


@dataclass(frozen=True, slots=True)
class Invocation:
    """One model call of a run. ``run_number`` is the genesis's ``id``."""

    id: int
    network_id: int
    run_number: int
    sequence_number: int
    model: str
    input: str
    output: str | None
    state: InvocationState
    metadata: Mapping[str, Any]
    inserted_at: datetime
    updated_at: datetime

    @property
    def is_genesis(self) -> bool:
        """True for the first invocation of a run."""
        return self.sequence_number == 0

    def to_json(self) -> dict[str, Any]:
        """The JSON API's shape (times in ISO 8601 UTC with microseconds)."""
        return {
            "id": self.id,
            "network_id": self.network_id,
            "run_number": self.run_number,
            "sequence_number": self.sequence_number,
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "state": self.state,
            "metadata": dict(self.metadata),
            "inserted_at": iso(self.inserted_at),
            "updated_at": iso(self.updated_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Invocation:
        """The invocation back from :meth:`to_json`'s shape (an export's ``run.json``).

        Raises:
            KeyError, ValueError, TypeError: not that shape.
        """
        return cls(
            id=int(data["id"]),
            network_id=int(data["network_id"]),
            run_number=int(data["run_number"]),
            sequence_number=int(data["sequence_number"]),
            model=str(data["model"]),
            input=str(data["input"]),
            output=None if data["output"] is None else str(data["output"]),
            state=data["state"],
            metadata=dict(data["metadata"]),
            inserted_at=datetime.fromisoformat(data["inserted_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class RunnerStatus:
    """A network runner's latest state: a value, read at any moment without I/O.

    ``next_invocation_at`` is set while ``waiting``; ``lockout_until`` while a
    run is active and a new prompt would still be refused; ``error`` when the
    last run ``failed``. Times are wall-clock UTC, for countdowns in browsers.
    """

    state: RunnerState = "idle"
    genesis: Invocation | None = None
    current: Invocation | None = None
    next_invocation_at: datetime | None = None
    lockout_until: datetime | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        """True while a run is going (invoking or waiting for its next step)."""
        return self.state in ("invoking", "waiting")

    def to_json(self) -> dict[str, Any]:
        """The JSON API's shape."""
        return {
            "state": self.state,
            "genesis": self.genesis.to_json() if self.genesis else None,
            "current": self.current.to_json() if self.current else None,
            "next_invocation_at": iso(self.next_invocation_at),
            "lockout_until": iso(self.lockout_until),
            "error": self.error,
        }


IDLE: Final = RunnerStatus()


@dataclass(frozen=True, slots=True)
class Fence:
    """The fencing token of one network's lease: every write of its runs checks it.

    ``epoch`` grows each time the network changes owner, so a write carrying
    an older epoch is refused however late it arrives.
    """

    network_id: int
    epoch: int


@dataclass(frozen=True, slots=True)
class Event:
    """What watchers receive.

    ``kind`` is ``"invocation"`` when an invocation changed state,
    ``"archived"`` when only its URLs were rewritten to the archive (displays
    need not re-render), ``"hidden"`` when an operator hid (or showed again)
    its output, and ``"status"`` when only the runner status changed.
    ``status`` is always the runner's status at the time of the event.
    """

    kind: EventKind
    invocation: Invocation | None
    status: RunnerStatus
