"""Which outputs are hidden, and invocations as screens may show them.

The database keeps every hidden output (``invocations.hidden_at``); rows read
from it carry ``metadata.hidden``. The runner's status holds invocations it
read before they were hidden, so every page and socket passes what it shows
through :class:`Concealed`, which knows the hidden ids of this process.
Hiding a step hides its output and the next step's input (the same text or
file); hiding the first step also hides the visitor's prompt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import overload

from panic_trio.domain import Invocation, RunnerStatus

Step = tuple[int, int | None, int]  # network, run number, sequence number


def _step(invocation: Invocation) -> Step:
    return invocation.network_id, invocation.run_number, invocation.sequence_number


class Concealed:
    """The hidden outputs (and the inputs made from them) of this process."""

    def __init__(self) -> None:
        self.outputs: set[int] = set()
        self._inputs: set[Step] = set()  # the steps after hidden ones, made or still to come

    def load(self, hidden: Iterable[Invocation]) -> None:
        """Start from what the database says is hidden."""
        self.outputs, self._inputs = set(), set()
        for invocation in hidden:
            self.mark(invocation, hidden=True)

    def mark(self, invocation: Invocation, *, hidden: bool) -> None:
        """Hide (or show again) ``invocation``'s output and the next step's input."""
        network, run, sequence = _step(invocation)
        if hidden:
            self.outputs.add(invocation.id)
            self._inputs.add((network, run, sequence + 1))
        else:
            self.outputs.discard(invocation.id)
            self._inputs.discard((network, run, sequence + 1))

    def hides(self, invocation: Invocation) -> bool:
        """True when the invocation's output is hidden."""
        return invocation.id in self.outputs or invocation.metadata.get("hidden") is True

    @overload
    def __call__(self, invocation: Invocation) -> Invocation: ...

    @overload
    def __call__(self, invocation: None) -> None: ...

    def __call__(self, invocation: Invocation | None) -> Invocation | None:
        """The invocation with what is hidden taken out (``metadata.hidden`` says so)."""
        if invocation is None:
            return None
        output_hidden = self.hides(invocation)
        input_hidden = _step(invocation) in self._inputs or (
            output_hidden and invocation.sequence_number == 0
        )
        if not (output_hidden or input_hidden):
            return invocation
        metadata = dict(invocation.metadata)
        if output_hidden:
            metadata["hidden"] = True
        if input_hidden:
            metadata["hidden_input"] = True
        return dataclasses.replace(
            invocation,
            output=None if output_hidden else invocation.output,
            input="" if input_hidden else invocation.input,
            metadata=metadata,
        )

    def status(self, status: RunnerStatus) -> RunnerStatus:
        """The status with its genesis and current step concealed."""
        genesis, current = self(status.genesis), self(status.current)
        if genesis is status.genesis and current is status.current:
            return status
        return dataclasses.replace(status, genesis=genesis, current=current)
