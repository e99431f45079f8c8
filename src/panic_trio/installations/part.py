"""The installations part: installations, their watchers, and the screens' wake-ups.

``Panic`` composes one :class:`Installations` (``panic.installations``). Every
write tells the Vestaboard dispatcher to forget the watchers it cached, so an
edit applies at the next step of a run, and wakes whoever waits in
:meth:`Installations.changed` (the screens, which reload). With several
processes on one database the part is given a :class:`Relay`: edits,
requests for the screens and viewer counts reach the other processes too,
and what they say arrives in :meth:`Installations.heard`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

import trio

from panic_trio.errors import InvalidInput, InvalidWatcher
from panic_trio.installations.boards import Boards
from panic_trio.installations.installation import (
    Installation,
    installation_from_row,
    watchers_json,
)
from panic_trio.installations.relay import Relay
from panic_trio.installations.viewers import VIEWERS, Viewers
from panic_trio.installations.watchers import Watcher, check_watcher
from panic_trio.store import installations as queries
from panic_trio.store.store import Store

MAX_INSTALLATION_NAME_CHARS: Final = 200
IDENTIFY_SECONDS: Final = 30.0  # how long a screen shows its own name when asked
ALL_SCREENS: Final = ""  # a ScreenRequest's watcher when every screen should answer
SCREEN_REQUESTS: Final = ("identify", "reload", "sound")
CHANGED: Final = "changed"  # relayed kinds: an installation changed (or every one)
ASKED: Final = "asked"  # an operator asked the screens


class ScreenRequest(NamedTuple):
    """What an operator asked the open screens: ``request``, for ``watcher`` (or all)."""

    request: str
    watcher: str


class Installations:
    """Installations and watchers of every network (the part's embedding API)."""

    def __init__(
        self, store: Store, boards: Boards | None = None, *, relay: Relay | None = None
    ) -> None:
        self._store = store
        self._boards = boards
        self._relay = relay
        self._changes: dict[int, trio.Event] = {}
        self._requests: dict[int, tuple[trio.Event, list[ScreenRequest]]] = {}
        self.viewers = Viewers(relay)  # display sockets per watcher, every process's

    @property
    def dropped(self) -> int:
        """Messages for the other processes' screens that were lost (lossy, like all fan-out)."""
        return 0 if self._relay is None else self._relay.dropped

    def heard(self, node: str, message: dict[str, Any]) -> None:
        """What another process's installations part said (through the relay)."""
        kind = message.get("kind")
        if kind == CHANGED:
            changed = message.get("installation")
            self._wake(None if changed is None else int(changed))
        elif kind == ASKED:
            asked = ScreenRequest(str(message["request"]), str(message["watcher"]))
            self._ask(int(message["installation"]), asked)
        elif kind == VIEWERS:
            self.viewers.heard(node, message)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """With a relay: announce viewer counts, forget silent processes (until cancelled)."""
        await self.viewers.run(task_status=task_status)

    async def changed(self, installation_id: int) -> None:
        """Return the next time the installation or its watchers change, or it is deleted."""
        await self._changes.setdefault(installation_id, trio.Event()).wait()

    async def identify(self, installation_id: int, watcher: str | None = None) -> Installation:
        """Ask the installation's open screens (or only ``watcher``'s) to show their names.

        Each shows "<installation> · <watcher>" for :data:`IDENTIFY_SECONDS`,
        so an operator can tell which TV is which. Screens not open now see
        nothing later.

        Raises:
            NotFound: no such installation.
            InvalidWatcher: it has no watcher called ``watcher``.
        """
        return await self.ask_screens(installation_id, "identify", watcher)

    async def ask_screens(
        self, installation_id: int, request: str, watcher: str | None = None
    ) -> Installation:
        """Ask the open screens (or only ``watcher``'s) for one of :data:`SCREEN_REQUESTS`.

        ``identify`` shows their names, ``reload`` loads the page again,
        ``sound`` tries their audio again (a browser that wants a tap first
        keeps its "tap to enable sound" cue). Screens not open now see
        nothing later.

        Raises:
            InvalidInput: not one of :data:`SCREEN_REQUESTS`.
            NotFound: no such installation.
            InvalidWatcher: it has no watcher called ``watcher``.
        """
        if request not in SCREEN_REQUESTS:
            raise InvalidInput(
                f"a screen can be asked to {', '.join(SCREEN_REQUESTS)}", field="request"
            )
        installation = await self.get(installation_id)
        if watcher is not None:
            _watcher_index(installation.watchers, watcher)
        asked = ScreenRequest(request, ALL_SCREENS if watcher is None else watcher)
        self._ask(installation_id, asked)
        if self._relay is not None:
            self._relay.send({"kind": ASKED, "installation": installation_id, **asked._asdict()})
        return installation

    def _ask(self, installation_id: int, request: ScreenRequest) -> None:
        """This process's screens of the installation hear ``request``."""
        waiting, asked = self._requests.pop(installation_id, (None, []))
        if waiting is not None:
            asked.append(request)
            waiting.set()

    async def screen_requests(self, installation_id: int) -> list[ScreenRequest]:
        """Wait for the next :meth:`ask_screens` of this installation.

        Returns what was asked since the wait began, in order (``watcher`` is
        :data:`ALL_SCREENS` when every screen should answer).
        """
        waiting, asked = self._requests.setdefault(installation_id, (trio.Event(), []))
        await waiting.wait()
        return asked

    async def create(
        self, network_id: int, name: str, watchers: Iterable[Mapping[str, Any] | Watcher] = ()
    ) -> Installation:
        """Create an installation of a network, with optional watchers.

        Raises:
            InvalidInput: a blank or over-long name.
            InvalidWatcher: a watcher is invalid or two share a name.
            NotFound: no such network.
        """
        checked = watchers_json([_as_watcher(w) for w in watchers])
        created = await self._store.write(
            queries.insert_installation,
            network_id,
            _installation_name(name),
            checked,
            self._store.now(),
        )
        self._changed(created.id)
        return installation_from_row(created)

    async def get(self, installation_id: int) -> Installation:
        """The installation, or :class:`NotFound`."""
        row = await self._store.read(queries.installation_by_id, installation_id)
        return installation_from_row(row)

    async def find(
        self, *, owner_id: int | None = None, network_id: int | None = None
    ) -> list[Installation]:
        """Installations of one owner's networks and/or one network, oldest first."""
        rows = await self._store.read(
            queries.list_installations, owner_id=owner_id, network_id=network_id
        )
        return [installation_from_row(r) for r in rows]

    async def update(
        self, installation_id: int, *, name: str | None = None, network_id: int | None = None
    ) -> Installation:
        """Rename an installation or move it to another network."""
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = _installation_name(name)
        if network_id is not None:
            fields["network_id"] = network_id
        if not fields:
            return await self.get(installation_id)
        updated = await self._store.write(
            queries.update_installation, installation_id, fields, self._store.now()
        )
        self._changed(installation_id)
        return installation_from_row(updated)

    async def delete(self, installation_id: int) -> None:
        """Delete an installation (its screens show nothing new afterwards)."""
        await self._store.write(queries.delete_installation, installation_id)
        self._changed(installation_id)

    def network_deleted(self) -> None:
        """A network went, and its installations with it: forget and wake everything."""
        self._changed(None)

    async def add_watcher(
        self, installation_id: int, watcher: Mapping[str, Any] | Watcher
    ) -> Installation:
        """Append a watcher. Raises :class:`InvalidWatcher` (bad fields, taken name)."""
        checked = _as_watcher(watcher)
        return await self._edit_watchers(installation_id, lambda ws: [*ws, checked])

    async def update_watcher(
        self, installation_id: int, name: str, watcher: Mapping[str, Any] | Watcher
    ) -> Installation:
        """Replace the watcher called ``name`` in place (it may be renamed)."""
        checked = _as_watcher(watcher)

        def edit(watchers: list[Watcher]) -> list[Watcher]:
            _watcher_index(watchers, name)
            return [checked if w.name == name else w for w in watchers]

        return await self._edit_watchers(installation_id, edit)

    async def remove_watcher(self, installation_id: int, name: str) -> Installation:
        """Remove the watcher called ``name``; :class:`InvalidWatcher` if there is none."""

        def edit(watchers: list[Watcher]) -> list[Watcher]:
            del watchers[_watcher_index(watchers, name)]
            return watchers

        return await self._edit_watchers(installation_id, edit)

    async def reorder_watchers(self, installation_id: int, names: Sequence[str]) -> Installation:
        """Put the watchers in the order of ``names`` (which must name each exactly once)."""

        def edit(watchers: list[Watcher]) -> list[Watcher]:
            if sorted(names) != sorted(w.name for w in watchers):
                raise InvalidWatcher("the new order must name every watcher exactly once")
            return [watchers[_watcher_index(watchers, n)] for n in names]

        return await self._edit_watchers(installation_id, edit)

    async def _edit_watchers(
        self, installation_id: int, edit: Callable[[list[Watcher]], list[Watcher]]
    ) -> Installation:
        def stored_edit(stored: queries.WatchersJson) -> queries.WatchersJson:
            return watchers_json(edit([check_watcher(w) for w in stored]))

        edited = await self._store.write(
            queries.edit_watchers, installation_id, stored_edit, self._store.now()
        )
        self._changed(installation_id)
        return installation_from_row(edited)

    def _changed(self, installation_id: int | None) -> None:
        """Here and in every other process: see :meth:`_wake`."""
        self._wake(installation_id)
        if self._relay is not None:
            self._relay.send({"kind": CHANGED, "installation": installation_id})

    def _wake(self, installation_id: int | None) -> None:
        """Boards forget their cached watchers; waiters wake (``None``: every installation)."""
        if self._boards is not None:
            self._boards.forget()
        ids = list(self._changes) if installation_id is None else [installation_id]
        for changed in ids:
            waiting = self._changes.pop(changed, None)
            if waiting is not None:
                waiting.set()


def _as_watcher(watcher: Mapping[str, Any] | Watcher) -> Watcher:
    """Installations: a validated watcher from fields or a watcher."""
    return watcher if isinstance(watcher, Watcher) else check_watcher(watcher)


def _watcher_index(watchers: Sequence[Watcher], name: str) -> int:
    """Installations: where the watcher called ``name`` is, or :class:`InvalidWatcher`."""
    for index, watcher in enumerate(watchers):
        if watcher.name == name:
            return index
    raise InvalidWatcher(f"watcher with name '{name}' not found", field="name")


def _installation_name(name: str) -> str:
    """Installations: a cleaned name, or :class:`InvalidInput`."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise InvalidInput("name is required", field="name")
    if len(cleaned) > MAX_INSTALLATION_NAME_CHARS:
        raise InvalidInput(
            f"name must be at most {MAX_INSTALLATION_NAME_CHARS} characters", field="name"
        )
    return cleaned
