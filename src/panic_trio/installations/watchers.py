"""Watchers: what each screen of an installation shows, as pure rules.

A watcher is one screen's configuration: a ``grid`` of rows x columns that
fills slot by slot and wraps, a ``single`` slot that shows every
``stride``-th invocation (those with ``sequence % stride == offset``), or a
``vestaboard`` (the single rules, plus the board it drives and whether the
board shows the run's prompt). Everything here is a pure function of plain
values: the validation with the original's field-level messages, and the
selection rules every display and the Vestaboard dispatch apply.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from panic_trio.domain import Invocation
from panic_trio.errors import InvalidWatcher
from panic_trio.models.platform_records import BOARDS as BOARDS
from panic_trio.models.platform_records import board_label

WatcherType = Literal["grid", "single", "vestaboard"]
WATCHER_TYPES: Final[tuple[str, ...]] = ("grid", "single", "vestaboard")
NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9-]+$")
MAX_NAME_CHARS: Final = 100
MAX_DIMENSION: Final = 12  # rows or columns: beyond this the tiles are too small to see
MAX_STRIDE: Final = 10_000
_TRUE: Final = frozenset({"1", "true", "on", "yes"})


@dataclass(frozen=True, slots=True)
class Watcher:
    """One valid screen configuration (build it with :func:`check_watcher`)."""

    type: WatcherType
    name: str
    rows: int | None = None
    columns: int | None = None
    stride: int | None = None
    offset: int | None = None
    show_invoking: bool = False
    vestaboard_name: str | None = None
    initial_prompt: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stored (and JSON) form: every field, ``None`` where unused."""
        return asdict(self)

    @property
    def slots(self) -> int:
        """How many tiles the screen has (1 for single and vestaboard)."""
        if self.type == "grid":
            return (self.rows or 1) * (self.columns or 1)
        return 1

    @property
    def every(self) -> tuple[int, int]:
        """``(stride, offset)`` of a single or vestaboard watcher (``(1, 0)`` for a grid)."""
        return (self.stride or 1, self.offset or 0)

    def summary(self) -> str:
        """One line for the installation page, worded as the original's."""
        if self.type == "grid":
            return f"{self.rows} \N{MULTIPLICATION SIGN} {self.columns} grid"
        invoking = " (shows invoking)" if self.show_invoking else ""
        if self.type == "single":
            return f"Shows every {ordinal(self.stride or 1)} invocation, offset {self.offset}" + (
                invoking
            )
        board = board_label(self.vestaboard_name or "")
        prompt = ", shows initial prompt" if self.initial_prompt else ""
        return (
            f"{board} - every {ordinal(self.stride or 1)}, offset {self.offset}{invoking}{prompt}"
        )


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd``…"""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _integer(fields: Mapping[str, Any], key: str, errors: dict[str, str]) -> int | None:
    value: Any = fields.get(key)
    if _blank(value):
        return None
    if isinstance(value, bool):
        errors.setdefault(key, "must be a whole number")
        return None
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        errors.setdefault(key, "must be a whole number")
        return None
    if isinstance(value, float) and value != number:
        errors.setdefault(key, "must be a whole number")
        return None
    return number


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def _at_least(value: int | None, key: str, low: int, high: int, errors: dict[str, str]) -> None:
    if value is None:
        return
    if value < low:
        errors.setdefault(key, f"must be greater than or equal to {low}")
    elif value > high:
        errors.setdefault(key, f"must be less than or equal to {high}")


def watcher_errors(fields: Mapping[str, Any]) -> dict[str, str]:
    """Every problem with a watcher's fields, by field name (empty if valid).

    ``fields`` may come from a form (strings, checkboxes as ``"on"``) or from
    JSON (numbers and booleans). The messages are the original's.
    """
    return _parse(fields)[1]


def check_watcher(fields: Mapping[str, Any]) -> Watcher:
    """A valid :class:`Watcher` from ``fields``.

    Raises:
        InvalidWatcher: the first problem, with its field (see :func:`watcher_errors`).
    """
    watcher, errors = _parse(fields)
    if errors or watcher is None:
        field, message = next(iter(errors.items()))
        raise InvalidWatcher(message, field=field)
    return watcher


def _parse(fields: Mapping[str, Any]) -> tuple[Watcher | None, dict[str, str]]:
    errors: dict[str, str] = {}
    kind = str(fields.get("type") or "").strip()
    name = str(fields.get("name") or "").strip()
    if not kind or not name:
        errors["type" if not kind else "name"] = "type and name are required"
        return None, errors
    if kind not in WATCHER_TYPES:
        errors["type"] = f"must be one of {', '.join(WATCHER_TYPES)}"
        return None, errors
    if not NAME_PATTERN.match(name):
        errors["name"] = "Only letters, numbers, and hyphens allowed"
    elif len(name) > MAX_NAME_CHARS:
        errors["name"] = f"must be at most {MAX_NAME_CHARS} characters"
    rows, columns = _integer(fields, "rows", errors), _integer(fields, "columns", errors)
    stride, offset = _integer(fields, "stride", errors), _integer(fields, "offset", errors)
    board = None if _blank(fields.get("vestaboard_name")) else str(fields["vestaboard_name"])
    show_invoking = _flag(fields.get("show_invoking"))
    initial_prompt = _flag(fields.get("initial_prompt"))
    if kind == "grid":
        if rows is None or columns is None:
            errors.setdefault(
                "rows" if rows is None else "columns", "rows and columns are required for grid type"
            )
        if stride is not None or offset is not None or board is not None:
            field = (
                "stride"
                if stride is not None
                else "offset"
                if offset is not None
                else "vestaboard_name"
            )
            errors.setdefault(
                field, "stride, offset, and vestaboard_name are not allowed for grid type"
            )
        if show_invoking:
            errors.setdefault(
                "show_invoking", "show_invoking can only be set for single and vestaboard types"
            )
        _at_least(rows, "rows", 1, MAX_DIMENSION, errors)
        _at_least(columns, "columns", 1, MAX_DIMENSION, errors)
    else:
        if kind == "single":
            if stride is None or offset is None:
                errors.setdefault(
                    "stride" if stride is None else "offset",
                    "stride and offset are required for single type",
                )
            if rows is not None or columns is not None or board is not None:
                field = (
                    "rows"
                    if rows is not None
                    else "columns"
                    if columns is not None
                    else "vestaboard_name"
                )
                errors.setdefault(
                    field, "rows, columns, and vestaboard_name are not allowed for single type"
                )
        else:
            if stride is None or offset is None or board is None:
                field = (
                    "stride"
                    if stride is None
                    else "offset"
                    if offset is None
                    else "vestaboard_name"
                )
                errors.setdefault(
                    field, "stride, offset, and vestaboard_name are required for vestaboard type"
                )
            elif board not in BOARDS:
                errors.setdefault("vestaboard_name", f"must be one of {', '.join(BOARDS)}")
            if rows is not None or columns is not None:
                errors.setdefault(
                    "rows" if rows is not None else "columns",
                    "rows and columns are not allowed for vestaboard type",
                )
        _at_least(stride, "stride", 1, MAX_STRIDE, errors)
        _at_least(offset, "offset", 0, MAX_STRIDE, errors)
        if stride is not None and offset is not None and stride >= 1 and offset >= stride:
            errors.setdefault("offset", "offset must be less than stride")
    if initial_prompt and kind != "vestaboard":
        errors.setdefault("initial_prompt", "initial_prompt can only be true for vestaboard type")
    if errors:
        return None, errors
    return (
        Watcher(
            type=kind,  # type: ignore[arg-type]  # checked against WATCHER_TYPES above
            name=name,
            rows=rows,
            columns=columns,
            stride=stride,
            offset=offset,
            show_invoking=show_invoking,
            vestaboard_name=board,
            initial_prompt=initial_prompt,
        ),
        {},
    )


def check_unique_names(watchers: Iterable[Watcher]) -> None:
    """Refuse two watchers with the same name in one installation.

    Raises:
        InvalidWatcher: ``"Config names must be unique. Duplicates found: a, b"``.
    """
    counts = Counter(w.name for w in watchers)
    duplicates = [name for name, count in counts.items() if count > 1]
    if duplicates:
        raise InvalidWatcher(
            f"Config names must be unique. Duplicates found: {', '.join(duplicates)}",
            field="name",
        )


# Display selection: which invocation goes where on which screen.


def stride_matches(sequence_number: int, stride: int, offset: int) -> bool:
    """The single/vestaboard rule: ``sequence % stride == offset``."""
    return sequence_number % stride == offset


def slot_for(watcher: Watcher, invocation: Invocation) -> int | None:
    """The slot ``invocation`` goes to on this screen, or ``None`` if not shown.

    The caller has already checked that it belongs to the screen's run. A
    genesis goes to slot 0 of *every* screen whatever its stride, offset or
    show_invoking (a new prompt resets every screen). On a grid, every
    invocation goes to ``sequence % (rows * columns)``. On a single screen,
    only those with ``sequence % stride == offset``, and ``invoking`` ones
    only with ``show_invoking``.
    """
    sequence = invocation.sequence_number
    if sequence == 0:
        return 0
    if watcher.type == "grid":
        return sequence % watcher.slots
    stride, offset = watcher.every
    if not stride_matches(sequence, stride, offset):
        return None
    if invocation.state == "invoking" and not watcher.show_invoking:
        return None
    if invocation.state == "failed":
        return None  # a stopped or failed step: the last good output stays up
    return 0


def screen(watcher: Watcher, run: Sequence[Invocation]) -> dict[int, Invocation]:
    """What a screen shows for a run so far (for a viewer who joins mid-run).

    ``run`` is the run's invocations by sequence number; the result maps slot
    to invocation, exactly as if the screen had seen every event in order
    (rows still ``ready`` were never announced, so they are not shown).
    """
    shown: dict[int, Invocation] = {}
    for invocation in run:
        if invocation.state == "ready":
            continue  # prepared, not started: live screens never saw it
        if invocation.sequence_number == 0:
            shown = {}
        slot = slot_for(watcher, invocation)
        if slot is not None:
            shown[slot] = invocation
    return shown


def screen_sequences(watcher: Watcher, last_sequence: int) -> list[int]:
    """The sequence numbers :func:`screen` needs of a run whose last row is ``last_sequence``.

    A few rows, however long the run: the genesis (the prompt, and slot 0
    until overwritten) and the latest rows that can still be on screen. Only
    a run's last row can be ``ready`` or ``invoking`` (and so skipped), so a
    grid needs its slot count plus two from the end, and a single screen the
    last two sequences its stride matches.
    """
    if watcher.type == "grid":
        return sorted({0, *range(max(0, last_sequence - watcher.slots - 1), last_sequence + 1)})
    stride, offset = watcher.every
    if last_sequence < offset:
        return [0]
    latest = last_sequence - (last_sequence - offset) % stride
    return sorted({0, *(s for s in (latest - stride, latest) if s >= 0)})


def prompt_text(watcher: Watcher, genesis: Invocation) -> str | None:
    """The prompt a vestaboard watcher shows when a run starts, or ``None``.

    Sent once per run (the original sent it twice), when ``initial_prompt``
    is set or the stride rule matches sequence 0.
    """
    if watcher.type != "vestaboard" or not genesis.input.strip():
        return None
    stride, offset = watcher.every
    if watcher.initial_prompt or stride_matches(0, stride, offset):
        return genesis.input
    return None


def output_text(watcher: Watcher, done: Invocation, output_type: str) -> str | None:
    """The output a vestaboard watcher shows when ``done`` completes, or ``None``.

    Only text outputs of later invocations whose sequence matches the stride
    rule: never an image or audio URL, and never the genesis's output (its
    slot on the board is the prompt).
    """
    if watcher.type != "vestaboard" or done.sequence_number == 0 or output_type != "text":
        return None
    if not done.output or not done.output.strip():
        return None
    stride, offset = watcher.every
    return done.output if stride_matches(done.sequence_number, stride, offset) else None
