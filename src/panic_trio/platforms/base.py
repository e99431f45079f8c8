"""The seam between the engine and the places models run.

The engine knows nothing of HTTP: it hands a :class:`Call` to the
:class:`Platform` named by the model and gets a :class:`Result` back, or a
:class:`~panic_trio.errors.PlatformError` whose message lands in the
invocation's ``metadata.error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from panic_trio.models import Model


@dataclass(frozen=True, slots=True)
class Call:
    """One model invocation as a platform sees it.

    ``token`` is the network owner's decrypted token for the platform, or
    ``None`` for platforms that need none.
    """

    model: Model
    input: str
    token: str | None
    invocation_id: int


@dataclass(frozen=True, slots=True)
class Result:
    """A model's output plus what the platform wants recorded in ``metadata``
    (``latency_ms``, ``attempts``, ``prediction_id``...)."""

    output: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Platform(Protocol):
    """Where a model runs. ``name`` matches ``Model.platform``.

    ``invoke`` must be cancellable at any await (a stop aborts it) and must
    raise only :class:`~panic_trio.errors.PlatformError` for provider failures.
    """

    name: str
    display_name: str
    requires_token: bool

    async def invoke(self, call: Call) -> Result:
        """Run ``call.model`` on ``call.input`` and return its output."""
        ...
