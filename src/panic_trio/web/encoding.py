"""JSON frames for live sockets, each engine event encoded once.

Fan-out cost is dominated by per-message work times the number of viewers,
so the text of an event is computed by the first socket that sends it and
reused by every other socket.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from panic_trio.domain import Event, Invocation, RunnerStatus
from panic_trio.moderation import Concealed

_NOTHING_HIDDEN: Final = Concealed()

# Why a step ended, in words that may name a provider or a missing token:
# for owner pages only, never for the public (screens, info, terminal).
PRIVATE_METADATA: Final = frozenset(
    {
        "error",
        "error_kind",
        "cancelled",
        "archive_error",
        "failed_predictions",
        "content_filter_reason",
    }
)


def dumps(message: dict[str, Any]) -> str:
    """Compact JSON for the wire."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def status_message(status: RunnerStatus) -> str:
    """A ``status`` frame."""
    return dumps({"type": "status", "status": status.to_json()})


def public_invocation(invocation: Invocation | None) -> dict[str, Any] | None:
    """An invocation's JSON without the reasons it failed or was cancelled."""
    if invocation is None:
        return None
    data = invocation.to_json()
    data["metadata"] = {k: v for k, v in data["metadata"].items() if k not in PRIVATE_METADATA}
    return data


def public_status(status: RunnerStatus) -> dict[str, Any]:
    """A status's JSON for the public: no error text, invocations without reasons."""
    data = status.to_json()
    data["error"] = None
    data["genesis"] = public_invocation(status.genesis)
    data["current"] = public_invocation(status.current)
    return data


def public_status_message(status: RunnerStatus) -> str:
    """A ``status`` frame for a viewer who does not manage the network."""
    return dumps({"type": "status", "status": public_status(status)})


def public_network_message(event: Event) -> str:
    """The frame a network socket sends for ``event`` to a viewer who does not manage it."""
    if event.kind == "status" or event.invocation is None:
        return public_status_message(event.status)
    return dumps({"type": event.kind, "invocation": public_invocation(event.invocation)})


def network_message(event: Event, concealed: Concealed = _NOTHING_HIDDEN) -> str:
    """The frame a network socket sends for ``event``."""
    if event.kind == "status" or event.invocation is None:
        return status_message(concealed.status(event.status))
    return dumps({"type": event.kind, "invocation": concealed(event.invocation).to_json()})


def concealed_public_message(event: Event, concealed: Concealed = _NOTHING_HIDDEN) -> str:
    """:func:`public_network_message` with hidden outputs taken out."""
    return public_network_message(_conceal(event, concealed))


def combined_message(event: Event, concealed: Concealed = _NOTHING_HIDDEN) -> str:
    """Protocol 2: an ``invocation`` frame carries the status it came with (one frame, not two)."""
    if event.kind != "invocation" or event.invocation is None:
        return network_message(event, concealed)
    event = _conceal(event, concealed)
    invocation = event.invocation.to_json() if event.invocation else None
    return dumps({"type": "invocation", "invocation": invocation, "status": event.status.to_json()})


def public_combined_message(event: Event, concealed: Concealed = _NOTHING_HIDDEN) -> str:
    """Protocol 2 for a viewer who does not manage the network."""
    if event.kind != "invocation" or event.invocation is None:
        return concealed_public_message(event, concealed)
    event = _conceal(event, concealed)
    invocation, status = public_invocation(event.invocation), public_status(event.status)
    return dumps({"type": "invocation", "invocation": invocation, "status": status})


def feed_message(event: Event, concealed: Concealed = _NOTHING_HIDDEN) -> str:
    """The frame the admin feed sends: the invocation with its network's status."""
    event = _conceal(event, concealed)
    invocation = event.invocation.to_json() if event.invocation else None
    return dumps({"type": event.kind, "invocation": invocation, "status": event.status.to_json()})


def _conceal(event: Event, concealed: Concealed) -> Event:
    """The event as screens may show it: hidden outputs (and prompts) taken out."""
    return Event(
        kind=event.kind,
        invocation=concealed(event.invocation),
        status=concealed.status(event.status),
    )


class EventEncoder:
    """Encodes each engine event once, however many sockets send it.

    Every subscriber receives the same :class:`Event` object, so the first
    socket to send it encodes it and the others reuse the text. The cache
    keeps the event itself, so an ``id`` is never confused with a new one.
    """

    def __init__(self, encode: Callable[[Event], str], *, size: int = 256) -> None:
        self._encode = encode
        self._size = size
        self._cache: OrderedDict[int, tuple[Event, str]] = OrderedDict()
        self.encoded = 0

    def __call__(self, event: Event) -> str:
        """The frame for ``event`` (cached by identity)."""
        cached = self._cache.get(id(event))
        if cached is not None and cached[0] is event:
            return cached[1]
        text = self._encode(event)
        self.encoded += 1
        self._cache[id(event)] = (event, text)
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return text
