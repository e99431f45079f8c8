"""The ring's geometry and which node is lit (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from panic_trio.domain import Invocation, RunnerStatus
from panic_trio.web.ring import lit_node, node_of, ring_nodes, ring_view

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CYCLE = ["dummy-t2i", "dummy-i2t", "dummy-t2a", "dummy-a2t"]


def step(
    sequence: int, model: str, state: str = "invoking", output: str | None = None
) -> Invocation:
    return Invocation(9, 1, 9, sequence, model, "in", output, state, {}, NOW, NOW)  # type: ignore[arg-type]


def test_one_node_per_model_clockwise_from_the_top_with_accessible_names() -> None:
    nodes = ring_nodes(CYCLE)
    assert [n.model_id for n in nodes] == CYCLE
    assert [n.label for n in nodes] == [
        "1: Dummy Text-to-Image, text → image",
        "2: Dummy Image-to-Text, image → text",
        "3: Dummy Text-to-Audio, text → audio",
        "4: Dummy Audio-to-Text, audio → text",
    ]
    assert (nodes[0].x, nodes[0].y) == (200.0, 60.0)  # top
    assert (nodes[1].x, nodes[1].y) == (340.0, 200.0)  # right: clockwise
    assert all(
        re.fullmatch(r"M [\d.]+ [\d.]+ A 140.0 140.0 0 0 1 [\d.]+ [\d.]+", n.arc) for n in nodes
    )


def test_a_single_model_loops_back_to_itself_with_a_large_arc() -> None:
    (only,) = ring_nodes(["dummy-t2t"])
    assert " 0 1 1 " in only.arc
    assert ring_nodes(["no-such-model"])[0].label == "1: no-such-model (unknown), ? → ?"


def test_the_lit_node_is_the_current_invocations_place_in_the_cycle() -> None:
    assert lit_node(RunnerStatus(), CYCLE) is None
    invoking = RunnerStatus(state="invoking", current=step(6, "dummy-t2a"))
    waiting = RunnerStatus(state="waiting", current=step(7, "dummy-a2t", "ready"))
    failed = RunnerStatus(state="failed", current=step(7, "dummy-a2t", "failed"))
    assert lit_node(invoking, CYCLE) == 2
    assert lit_node(waiting, CYCLE) == 3
    assert lit_node(failed, CYCLE) is None


def test_after_an_edit_the_node_is_found_by_model() -> None:
    assert node_of(step(5, "dummy-t2a"), CYCLE) == 2  # 5 % 4 = 1 holds another model now
    assert node_of(step(5, "dummy-i2i"), CYCLE) is None
    assert node_of(None, CYCLE) is None


def test_the_last_completed_output_sits_at_its_node() -> None:
    recent = [
        step(0, "dummy-t2i", "completed", "http://x/dummy/a.png"),
        step(1, "dummy-i2t", "completed", "a caption"),
        step(2, "dummy-t2a", "invoking"),
    ]
    view = ring_view(CYCLE, RunnerStatus(state="invoking", current=recent[-1]), recent)
    assert (view.lit, view.sequence) == (2, 2)
    assert (view.thumb_node, view.thumb_kind, view.thumb_src) == (1, "text", "a caption")
    assert view.title == "The network as a ring of 4 models"
