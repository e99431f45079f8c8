"""A platform wrapper for engine tests: records calls, fails or delays on cue.

It sits at the Platform seam (ours), around the real DummyPlatform.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from panic_trio.errors import PlatformError
from panic_trio.platforms.base import Call, Platform, Result


@dataclass
class Recorded:
    """One call: when it started (Trio time) and what it was."""

    started_at: float
    call: Call
    finished: bool = False


@dataclass
class ScriptedPlatform:
    """Delegates to ``inner`` unless ``script`` returns an exception to raise."""

    inner: Platform
    name: str = "dummy"
    display_name: str = "Dummy"
    requires_token: bool = False
    script: Callable[[Call], BaseException | None] = lambda call: None
    delay: float = 0.0
    output: Callable[[Call], str] | None = None
    calls: list[Recorded] = field(default_factory=list)

    async def invoke(self, call: Call) -> Result:
        """Record, then delay, then fail or delegate."""
        record = Recorded(trio.current_time(), call)
        self.calls.append(record)
        if self.delay:
            await trio.sleep(self.delay)
        problem = self.script(call)
        if problem is not None:
            raise problem
        result = Result(self.output(call)) if self.output else await self.inner.invoke(call)
        record.finished = True
        return result


def fail_with(message: str) -> Callable[[Call], BaseException | None]:
    """A script that fails every call with a PlatformError."""
    return lambda call: PlatformError(message, platform="dummy", model=call.model.id)
