"""Installations and displays: which screens and boards show a network, and how.

One part: the watcher rules (pure functions), the installation value, the
embedding API ``Panic`` composes (``panic.installations``) and the
Vestaboard dispatch, which the engine runs through its ``RunHooks`` protocol
without importing this part. The web's display and installation pages are
its views (``web/displays.py``, ``web/installations.py``).
"""

from panic_trio.installations.boards import Boards, vestaboard_dispatcher
from panic_trio.installations.installation import Installation
from panic_trio.installations.part import Installations
from panic_trio.installations.relay import Relay
from panic_trio.installations.viewers import Viewers
from panic_trio.installations.watchers import Watcher, check_watcher, watcher_errors

__all__ = [
    "Boards",
    "Installation",
    "Installations",
    "Relay",
    "Viewers",
    "Watcher",
    "check_watcher",
    "vestaboard_dispatcher",
    "watcher_errors",
]
