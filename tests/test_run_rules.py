"""The pure rules of runs as artefacts: endings, cost, a run's own cycle, page sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from panic_trio.domain import Invocation
from panic_trio.errors import InvalidInput
from panic_trio.runs import check_page_size, ending_of, run_cycle, step_cost

MOMENT = datetime(2026, 12, 1, 3, 0, 0, 123456, tzinfo=UTC)


def invocation(**fields: Any) -> Invocation:
    values: dict[str, Any] = {
        "id": 7,
        "network_id": 2,
        "run_number": 7,
        "sequence_number": 0,
        "model": "dummy-t2i",
        "input": "a <b>bold</b> prompt",
        "output": None,
        "state": "completed",
        "metadata": {},
        "inserted_at": MOMENT,
        "updated_at": MOMENT,
    }
    values.update(fields)
    return Invocation(**values)


@pytest.mark.parametrize(
    ("state", "metadata", "expected"),
    [
        ("ready", {}, ("running", None)),
        ("invoking", {}, ("running", None)),
        ("failed", {"cancelled": True, "error": "cancelled: stopped"}, ("stopped", None)),
        (
            "failed",
            {"cancelled": True, "error": "cancelled: replaced by a new run"},
            ("replaced", None),
        ),
        ("failed", {"error": "interrupted"}, ("interrupted", None)),
        ("failed", {"error": "interrupted; not resumed: boom"}, ("interrupted", None)),
        ("failed", {"error": "HTTP 400 from OpenAI"}, ("failed", "HTTP 400 from OpenAI")),
        ("failed", {}, ("failed", "unknown error")),
        ("completed", {}, ("stopped", None)),
    ],
)
def test_how_a_run_ended_comes_from_its_last_invocation(
    state: str, metadata: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    assert ending_of(state, metadata) == expected


def test_a_steps_cost_is_its_amount_or_unknown() -> None:
    assert step_cost(invocation(metadata={"cost": {"amount": 0.04, "currency": "USD"}})) == 0.04
    assert step_cost(invocation(metadata={"cost": {"amount": 0, "currency": "USD"}})) == 0.0
    assert step_cost(invocation(metadata={"cost": {"amount": None, "basis": "no price"}})) is None
    assert step_cost(invocation(metadata={"cost": "lots"})) is None
    assert step_cost(invocation()) is None


def test_a_run_uses_its_own_cycle_when_the_genesis_recorded_one() -> None:
    network_now = ["dummy-t2t"]
    recorded = invocation(metadata={"cycle": ["dummy-t2i", "dummy-i2t"]})
    assert run_cycle(recorded, network_now) == ["dummy-t2i", "dummy-i2t"]
    assert run_cycle(invocation(), network_now) == ["dummy-t2t"]
    assert run_cycle(invocation(metadata={"cycle": [1, 2]}), network_now) == ["dummy-t2t"]
    assert run_cycle(invocation(metadata={"cycle": []}), network_now) == ["dummy-t2t"]


@pytest.mark.parametrize("bad", ["0", "101", "-1", "ten", "", None, "1.5"])
def test_page_sizes_are_1_to_100(bad: Any) -> None:
    assert check_page_size("1") == 1
    assert check_page_size(100) == 100
    with pytest.raises(InvalidInput, match="limit"):
        check_page_size(bad)


def test_an_invocation_round_trips_through_its_json() -> None:
    original = invocation(
        output="x", state="failed", metadata={"error": "no", "cost": {"amount": 0.5}}
    )
    assert Invocation.from_json(original.to_json()) == original
