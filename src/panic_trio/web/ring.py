"""The network drawn as what it is, a cycle: the geometry of the SVG ring.

Pure functions: where each model's node sits, the arcs between them, and
which node is lit for a runner status. The template draws the static picture
(it works without JavaScript); ``static/ring.js`` moves the light, the step
counter and the last output's thumbnail from the same events the screens use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from panic_trio.domain import Invocation, RunnerStatus
from panic_trio.models import find_model

SIZE: Final = 400.0
RADIUS: Final = 140.0
NODE_RADIUS: Final = 36.0
MAX_NAME_CHARS: Final = 22


@dataclass(frozen=True, slots=True)
class RingNode:
    """One model of the cycle, placed on the ring."""

    index: int
    model_id: str
    name: str
    input_type: str
    output_type: str
    x: float
    y: float
    arc: str  # the SVG path from this node to the next

    @property
    def short_name(self) -> str:
        """The name as drawn (the full name is the node's accessible name)."""
        if len(self.name) <= MAX_NAME_CHARS:
            return self.name
        return self.name[: MAX_NAME_CHARS - 1] + "…"

    @property
    def label(self) -> str:
        """The node's accessible name: position, model and its types."""
        return f"{self.index + 1}: {self.name}, {self.input_type} → {self.output_type}"


def _point(angle: float, radius: float = RADIUS) -> tuple[float, float]:
    centre = SIZE / 2
    return round(centre + radius * math.cos(angle), 2), round(centre + radius * math.sin(angle), 2)


def _angle(index: int, count: int) -> float:
    return -math.pi / 2 + 2 * math.pi * index / count


def _arc(index: int, count: int) -> str:
    """An arc along the ring from node ``index`` to the next, clear of both nodes."""
    gap = NODE_RADIUS / RADIUS * 1.25
    start = _angle(index, count) + gap
    end = _angle(index + 1, count) - gap
    if end <= start:  # a single model loops back to itself
        end = start + 2 * math.pi - 2 * gap
    large = 1 if end - start > math.pi else 0
    (x1, y1), (x2, y2) = _point(start), _point(end)
    return f"M {x1} {y1} A {RADIUS} {RADIUS} 0 {large} 1 {x2} {y2}"


def ring_nodes(models: Sequence[str]) -> list[RingNode]:
    """The nodes of a cycle, clockwise from the top."""
    nodes = []
    count = len(models)
    for index, model_id in enumerate(models):
        model = find_model(model_id)
        x, y = _point(_angle(index, count))
        nodes.append(
            RingNode(
                index=index,
                model_id=model_id,
                name=model.name if model else f"{model_id} (unknown)",
                input_type=model.input_type if model else "?",
                output_type=model.output_type if model else "?",
                x=x,
                y=y,
                arc=_arc(index, count),
            )
        )
    return nodes


def node_of(invocation: Invocation | None, models: Sequence[str]) -> int | None:
    """The node an invocation belongs to: its place in the cycle by sequence number.

    If the cycle was edited since and that place now holds another model,
    the first node of the invocation's model; ``None`` if it has none.
    """
    if invocation is None or not models:
        return None
    index = invocation.sequence_number % len(models)
    if models[index] == invocation.model:
        return index
    return models.index(invocation.model) if invocation.model in models else None


def lit_node(status: RunnerStatus, models: Sequence[str]) -> int | None:
    """The node lit for a status: the model invoking, or about to be, while a run is active."""
    return node_of(status.current, models) if status.active else None


@dataclass(frozen=True, slots=True)
class RingView:
    """What the template draws: the nodes, the lit one, the step and the last output."""

    nodes: list[RingNode]
    lit: int | None
    sequence: int | None
    thumb_node: int | None
    thumb_kind: str | None
    thumb_src: str | None

    @property
    def title(self) -> str:
        """The drawing's accessible name."""
        count = len(self.nodes)
        return f"The network as a ring of {count} model{'s' if count != 1 else ''}"


def ring_view(
    models: Sequence[str], status: RunnerStatus, recent: Sequence[Invocation]
) -> RingView:
    """The ring for a status and the run's latest invocations (oldest first)."""
    last = next((i for i in reversed(recent) if i.state == "completed" and i.output), None)
    model = find_model(last.model) if last else None
    return RingView(
        nodes=ring_nodes(models),
        lit=lit_node(status, models),
        sequence=status.current.sequence_number if status.active and status.current else None,
        thumb_node=node_of(last, models),
        thumb_kind=model.output_type if model else None,
        thumb_src=last.output if last else None,
    )
