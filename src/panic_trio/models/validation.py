"""Network validation: can this cycle of models run?

A port of the original's HEAD ``ModelIOConnections.network_runnable?``, messages
word for word, because operators and the web editor show them verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from panic_trio.errors import InvalidNetwork
from panic_trio.models.catalog import MediaType, Model, all_models, find_model

# A run starts from a typed prompt, so the chain begins with a text "output".
_INITIAL_NAME: Final = "Initial input"
_INITIAL_OUTPUT: Final[MediaType] = "text"


def network_problem(model_ids: Sequence[str]) -> str | None:
    """Why the cycle cannot run, in the original's words, or ``None`` if it can.

    Unknown ids are reported first and alone (nothing else can be checked).
    Otherwise the cycle-closing error comes first, then each mismatched
    neighbour pair in network order, joined with ``", "``.
    """
    models = [find_model(m) for m in model_ids]
    missing = [i for i, m in zip(model_ids, models, strict=True) if m is None]
    if missing:
        return f"Network contains models that no longer exist: {', '.join(missing)}"
    known = [m for m in models if m is not None]
    if not known:
        return "network must contain at least one model"

    errors: list[str] = []
    first, last = known[0], known[-1]
    if last.output_type != first.input_type:
        errors.append(
            f"Network doesn't form a valid cycle: {last.name} output ({last.output_type})"
            f" doesn't match {first.name} input ({first.input_type})"
        )
    prev_name, prev_out = _INITIAL_NAME, _INITIAL_OUTPUT
    for model in known:
        if prev_out != model.input_type:
            errors.append(
                f"{prev_name} output ({prev_out}) does not match"
                f" {model.name} input ({model.input_type})"
            )
        prev_name, prev_out = model.name, model.output_type
    return ", ".join(errors) or None


def check_network(model_ids: Sequence[str]) -> None:
    """Raise :class:`InvalidNetwork` with the reason if the cycle cannot run."""
    problem = network_problem(model_ids)
    if problem is not None:
        raise InvalidNetwork(problem, field="models")


def compatible_next(model_ids: Sequence[str]) -> tuple[Model, ...]:
    """The models the cycle editor may offer to append next.

    Non-deprecated models whose input type is the output type of the last
    known model (text for an empty draft, since a run starts from a prompt).
    Unknown ids are skipped, as the editor drops models that no longer exist.
    """
    known = [m for m in map(find_model, model_ids) if m is not None]
    wanted = known[-1].output_type if known else _INITIAL_OUTPUT
    return tuple(m for m in all_models(include_deprecated=False) if m.input_type == wanted)
