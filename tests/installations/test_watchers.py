"""The watcher rules: validation with the original's messages, and display selection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_trio.domain import Invocation, InvocationState
from panic_trio.errors import InvalidWatcher
from panic_trio.installations.watchers import (
    BOARDS,
    Watcher,
    check_unique_names,
    check_watcher,
    ordinal,
    output_text,
    prompt_text,
    screen,
    screen_sequences,
    slot_for,
    watcher_errors,
)

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def inv(
    seq: int, state: InvocationState = "completed", *, output: str | None = "out"
) -> Invocation:
    return Invocation(
        id=100 + seq,
        network_id=1,
        run_number=100,
        sequence_number=seq,
        model="dummy-t2t",
        input=f"in {seq}",
        output=output,
        state=state,
        metadata={},
        inserted_at=T0,
        updated_at=T0,
    )


def grid(rows: int, columns: int) -> Watcher:
    return check_watcher({"type": "grid", "name": "g", "rows": rows, "columns": columns})


def single(stride: int, offset: int, show_invoking: bool = False) -> Watcher:
    return check_watcher(
        {"type": "single", "name": "s", "stride": stride, "offset": offset,
         "show_invoking": show_invoking}
    )  # fmt: skip


def board(stride: int = 1, offset: int = 0, initial_prompt: bool = False) -> Watcher:
    return check_watcher(
        {"type": "vestaboard", "name": "b", "stride": stride, "offset": offset,
         "vestaboard_name": "panic_1", "initial_prompt": initial_prompt}
    )  # fmt: skip


# Validation: the accepted shapes


def test_valid_watchers_of_each_type() -> None:
    assert grid(2, 3).slots == 6
    assert single(3, 1).every == (3, 1)
    assert single(1, 0, show_invoking=True).show_invoking
    for name in BOARDS:
        watcher = check_watcher(
            {"type": "vestaboard", "name": "b", "stride": 2, "offset": 0,
             "vestaboard_name": name, "show_invoking": True, "initial_prompt": True}
        )  # fmt: skip
        assert watcher.vestaboard_name == name
        assert watcher.initial_prompt


def test_form_strings_and_checkboxes_are_understood() -> None:
    watcher = check_watcher(
        {"type": "single", "name": "live-view", "stride": " 2 ", "offset": "0",
         "show_invoking": "on", "rows": "", "vestaboard_name": ""}
    )  # fmt: skip
    assert watcher == Watcher(type="single", name="live-view", stride=2, offset=0,
                              show_invoking=True)  # fmt: skip
    assert check_watcher(watcher.to_json()) == watcher


# Validation: every invalid combination, with its field and message

INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"name": "x"}, "type", "type and name are required"),
    ({"type": "grid", "rows": 1, "columns": 1}, "name", "type and name are required"),
    ({"type": "tv", "name": "x"}, "type", "must be one of grid, single, vestaboard"),
    ({"type": "grid", "name": "a b", "rows": 1, "columns": 1}, "name",
     "Only letters, numbers, and hyphens allowed"),
    ({"type": "grid", "name": "x", "columns": 3}, "rows",
     "rows and columns are required for grid type"),
    ({"type": "grid", "name": "x", "rows": 3}, "columns",
     "rows and columns are required for grid type"),
    ({"type": "grid", "name": "x", "rows": 1, "columns": 1, "stride": 1}, "stride",
     "stride, offset, and vestaboard_name are not allowed for grid type"),
    ({"type": "grid", "name": "x", "rows": 1, "columns": 1, "offset": 0}, "offset",
     "stride, offset, and vestaboard_name are not allowed for grid type"),
    ({"type": "grid", "name": "x", "rows": -1, "columns": 2}, "rows",
     "must be greater than or equal to 1"),
    ({"type": "grid", "name": "x", "rows": 2, "columns": 0}, "columns",
     "must be greater than or equal to 1"),
    ({"type": "grid", "name": "x", "rows": 1, "columns": 1, "show_invoking": True},
     "show_invoking", "show_invoking can only be set for single and vestaboard types"),
    ({"type": "grid", "name": "x", "rows": "two", "columns": 1}, "rows", "must be a whole number"),
    ({"type": "single", "name": "x", "offset": 0}, "stride",
     "stride and offset are required for single type"),
    ({"type": "single", "name": "x", "stride": 2}, "offset",
     "stride and offset are required for single type"),
    ({"type": "single", "name": "x", "stride": 2, "offset": 0, "rows": 1}, "rows",
     "rows, columns, and vestaboard_name are not allowed for single type"),
    ({"type": "single", "name": "x", "stride": 3, "offset": 3}, "offset",
     "offset must be less than stride"),
    ({"type": "single", "name": "x", "stride": 0, "offset": 0}, "stride",
     "must be greater than or equal to 1"),
    ({"type": "single", "name": "x", "stride": 2, "offset": -1}, "offset",
     "must be greater than or equal to 0"),
    ({"type": "single", "name": "x", "stride": 2, "offset": 0, "initial_prompt": True},
     "initial_prompt", "initial_prompt can only be true for vestaboard type"),
    ({"type": "vestaboard", "name": "x", "stride": 2, "offset": 0}, "vestaboard_name",
     "stride, offset, and vestaboard_name are required for vestaboard type"),
    ({"type": "vestaboard", "name": "x", "offset": 0, "vestaboard_name": "panic_1"}, "stride",
     "stride, offset, and vestaboard_name are required for vestaboard type"),
    ({"type": "vestaboard", "name": "x", "stride": 1, "offset": 0, "vestaboard_name": "panic_9"},
     "vestaboard_name", "must be one of panic_1, panic_2, panic_3, panic_4"),
    ({"type": "vestaboard", "name": "x", "stride": 1, "offset": 0, "vestaboard_name": "panic_1",
      "columns": 2}, "columns", "rows and columns are not allowed for vestaboard type"),
    ({"type": "vestaboard", "name": "x", "stride": 2, "offset": 2, "vestaboard_name": "panic_1"},
     "offset", "offset must be less than stride"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "field", "message"), INVALID)
def test_invalid_watchers_are_rejected_on_the_named_field(
    fields: dict[str, Any], field: str, message: str
) -> None:
    assert watcher_errors(fields)[field] == message
    with pytest.raises(InvalidWatcher) as refused:
        check_watcher(fields)
    assert refused.value.field is not None
    assert refused.value.message == watcher_errors(fields)[refused.value.field]


def test_names_are_unique_within_an_installation() -> None:
    check_unique_names([grid(1, 1), single(2, 0)])
    with pytest.raises(InvalidWatcher, match=r"Config names must be unique\. Duplicates found: g$"):
        check_unique_names([grid(1, 1), single(2, 0), grid(2, 2)])


def test_summaries_read_like_the_original() -> None:
    assert grid(2, 3).summary() == "2 \N{MULTIPLICATION SIGN} 3 grid"
    assert single(3, 1).summary() == "Shows every 3rd invocation, offset 1"
    assert single(2, 0, True).summary() == "Shows every 2nd invocation, offset 0 (shows invoking)"
    assert board(2, 0).summary() == "Panic 1 - every 2nd, offset 0"
    assert board(1, 0, True).summary() == "Panic 1 - every 1st, offset 0, shows initial prompt"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
    ]  # fmt: skip


# Display selection


@pytest.mark.parametrize(("rows", "columns"), [(1, 1), (2, 3), (3, 4)])
def test_a_grid_fills_slot_by_slot_and_wraps(rows: int, columns: int) -> None:
    watcher = grid(rows, columns)
    slots = rows * columns
    assert [slot_for(watcher, inv(s)) for s in range(3 * slots)] == list(range(slots)) * 3
    assert slot_for(watcher, inv(slots + 1, "invoking")) == 1 % slots  # invoking tiles show


def test_a_grid_joined_mid_run_shows_the_latest_of_each_slot() -> None:
    run = [inv(s) for s in range(9)]
    shown = screen(grid(2, 3), run)
    assert {slot: i.sequence_number for slot, i in shown.items()} == {
        0: 6, 1: 7, 2: 8, 3: 3, 4: 4, 5: 5
    }  # fmt: skip


@pytest.mark.parametrize(("stride", "offset"), [(1, 0), (3, 1), (4, 3), (5, 0)])
def test_a_single_screen_shows_sequence_mod_stride_equals_offset(stride: int, offset: int) -> None:
    watcher = single(stride, offset)
    shown = [s for s in range(1, 40) if slot_for(watcher, inv(s)) == 0]
    assert shown == [s for s in range(1, 40) if s % stride == offset]
    assert all(slot_for(watcher, inv(s)) is None for s in range(1, 40) if s not in shown)


def test_show_invoking_decides_whether_invoking_states_appear() -> None:
    hidden, showing = single(3, 1), single(3, 1, show_invoking=True)
    for state in ("ready", "completed"):
        assert slot_for(hidden, inv(4, state)) == 0
    for watcher in (hidden, showing):  # a failed step never replaces the last good output
        assert slot_for(watcher, inv(4, "failed")) is None
    assert slot_for(hidden, inv(4, "invoking")) is None
    assert slot_for(showing, inv(4, "invoking")) == 0
    assert slot_for(showing, inv(5, "invoking")) is None  # still only its stride


def test_the_genesis_resets_every_screen_whatever_its_rule() -> None:
    for watcher in (grid(2, 2), single(3, 2), single(2, 1), board(4, 3)):
        assert slot_for(watcher, inv(0, "invoking")) == 0
        assert slot_for(watcher, inv(0, "completed")) == 0


def test_a_single_screen_joined_mid_run_shows_its_latest_match() -> None:
    run = [inv(s) for s in range(8)] + [inv(8, "invoking")]
    assert screen(single(3, 1), run)[0].sequence_number == 7
    assert screen(single(3, 2), run)[0].sequence_number == 5
    assert screen(single(3, 2, True), run)[0].sequence_number == 8
    assert screen(single(5, 4), run[:3])[0].sequence_number == 0  # only the genesis so far
    assert screen(grid(2, 2), [inv(0), inv(1, "ready")]) == {0: inv(0)}  # not started yet


# Vestaboard text


def test_the_prompt_goes_to_boards_with_initial_prompt_or_offset_zero() -> None:
    genesis = inv(0, "invoking", output=None)
    assert prompt_text(board(2, 0), genesis) == "in 0"
    assert prompt_text(board(2, 1), genesis) is None
    assert prompt_text(board(2, 1, initial_prompt=True), genesis) == "in 0"
    assert prompt_text(single(1, 0), genesis) is None


def test_later_invocations_send_text_outputs_only() -> None:
    watcher = board(2, 1)
    assert output_text(watcher, inv(3, output="hello"), "text") == "hello"
    assert output_text(watcher, inv(4, output="hello"), "text") is None
    assert output_text(watcher, inv(3, output="https://x.test/a.png"), "image") is None
    assert output_text(watcher, inv(3, output="https://x.test/a.ogg"), "audio") is None
    assert output_text(board(1, 0), inv(0, output="genesis output"), "text") is None
    assert output_text(board(1, 0), inv(1, output="  "), "text") is None


watchers_strategy = st.one_of(
    st.builds(
        lambda r, c: Watcher(type="grid", name="g", rows=r, columns=c),
        st.integers(1, 12),
        st.integers(1, 12),
    ),
    st.builds(
        lambda stride, offset, show: Watcher(
            type="single", name="s", stride=stride, offset=offset, show_invoking=show
        ),
        st.integers(1, 60),
        st.integers(0, 60),
        st.booleans(),
    ),
)


@given(
    watcher=watchers_strategy,
    length=st.integers(1, 400),
    last=st.sampled_from(["completed", "failed", "invoking", "ready"]),
)
def test_a_screen_from_its_few_rows_is_the_screen_from_the_whole_run(
    watcher: Watcher, length: int, last: InvocationState
) -> None:
    # Public pages read only these rows (issue 12: a 3,522-step run took 16x longer).
    run = [inv(seq) for seq in range(length - 1)] + [inv(length - 1, last)]
    wanted = screen_sequences(watcher, length - 1)
    assert len(wanted) <= max(watcher.slots + 3, 3)
    few = [row for row in run if row.sequence_number in wanted]
    assert screen(watcher, few) == screen(watcher, run)
    assert few[0].sequence_number == 0  # the prompt
