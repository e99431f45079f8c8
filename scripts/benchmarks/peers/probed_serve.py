"""``panic-trio serve`` with its GC pauses, loop lag and long task steps recorded (``--probe``).

    python probed_serve.py OUT.json

``FANOUT_UNSETTLED=1``: without ``settle_heap``, as the server was before it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import trio


def probed_serve(out: Path) -> int:
    """``panic-trio serve`` with its GC pauses, loop lag and long task steps recorded in ``out``.

    Wall-clock times, so they line up with the rows' ``updated_at`` and the
    viewers' arrivals.
    """
    import gc

    from panic_trio.cli import main as cli

    pauses: list[tuple[float, float, int, int]] = []  # began, ms, generation, collected
    lags: list[tuple[float, float]] = []  # woke, ms late (a 1 ms sleep)
    long_steps: list[tuple[float, float, str]] = []  # began, ms, task (steps over 2 ms)
    began = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[:] = [time.time(), time.perf_counter()]
        else:
            ms = (time.perf_counter() - began[1]) * 1000
            pauses.append((began[0], ms, info["generation"], info["collected"]))

    class Steps(trio.abc.Instrument):
        started = 0.0

        def before_task_step(self, task: trio.lowlevel.Task) -> None:
            self.started = time.perf_counter()

        def after_task_step(self, task: trio.lowlevel.Task) -> None:
            ms = (time.perf_counter() - self.started) * 1000
            if ms > 2:
                long_steps.append((time.time() - ms / 1000, ms, task.name))

    original = trio.run

    def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def probed() -> Any:
            async with trio.open_nursery() as nursery:

                async def lag() -> None:
                    while True:
                        before = trio.current_time()
                        await trio.sleep(0.001)
                        late = trio.current_time() - before - 0.001
                        lags.append((time.time(), late * 1000))

                nursery.start_soon(lag)
                result = await fn(*args)
                nursery.cancel_scope.cancel()
            return result

        return original(probed, instruments=[Steps()], **kwargs)

    if os.environ.get("FANOUT_UNSETTLED"):  # as before the heap was settled
        from panic_trio.cli import serve

        serve.settle_heap = lambda: None
    gc.callbacks.append(on_gc)
    trio.run = run  # type: ignore[assignment]
    try:
        return cli(["serve"])
    finally:
        heap = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
        out.write_text(
            json.dumps({"gc": pauses, "lags": lags, "long_steps": long_steps, "heap": heap})
        )


if __name__ == "__main__":
    sys.exit(probed_serve(Path(sys.argv[1])))
