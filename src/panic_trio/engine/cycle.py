"""A run's cycle: the models it follows, fixed when it starts.

A run that followed the network's *current* models would, after an edit,
feed a model the wrong kind of media (an image model given an mp3). So the
genesis keeps the cycle, and an edit applies to the next run.
"""

from __future__ import annotations

from panic_trio.domain import Invocation, Network


def run_cycle(genesis: Invocation, network: Network) -> tuple[str, ...]:
    """The models a run follows: its own cycle, kept with its genesis.

    Runs started before cycles were kept have none and follow the network's
    current models.
    """
    cycle = genesis.metadata.get("cycle")
    if isinstance(cycle, list) and cycle and all(isinstance(m, str) for m in cycle):
        return tuple(cycle)
    return network.models
