"""Events: the values watchers receive and the lossy fan-out that carries them.

Its own part so the engine, the archive, the web and the installations can
all publish or watch without depending on each other; it depends on nothing
of ours but :mod:`panic_trio.domain`.
"""

from panic_trio.events.broadcast import Broadcast, Subscription
from panic_trio.events.bus import EventBus, Publisher

__all__ = ["Broadcast", "EventBus", "Publisher", "Subscription"]
