"""Installations and their watchers, as methods of :class:`~panic_trio.panic.Panic`.

Kept apart from the accounts, networks and runs of ``panic.py``; every write
here tells the engine's Vestaboard dispatcher to forget the watchers it
cached, so an edit applies at the next step of a run, and wakes whoever waits
in :meth:`InstallationMethods.installation_changed` (the screens, which
reload).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import trio

from panic_trio.engine.boards import Boards, TokenLookup
from panic_trio.errors import InvalidInput, InvalidWatcher
from panic_trio.platforms.registry import Platforms
from panic_trio.store import installations as installation_queries
from panic_trio.store.installations import Installation
from panic_trio.store.store import Store
from panic_trio.watchers import Watcher, check_watcher

MAX_INSTALLATION_NAME_CHARS: Final = 200


class InstallationMethods:
    """The installation half of the embedding API (mixed into ``Panic``)."""

    store: Store
    boards: Boards | None
    _installation_changes: dict[int, trio.Event]  # set up by Panic

    async def installation_changed(self, installation_id: int) -> None:
        """Return the next time the installation or its watchers change, or it is deleted."""
        await self._installation_changes.setdefault(installation_id, trio.Event()).wait()

    async def create_installation(
        self, network_id: int, name: str, watchers: Iterable[Mapping[str, Any] | Watcher] = ()
    ) -> Installation:
        """Create an installation of a network, with optional watchers.

        Raises:
            InvalidInput: a blank or over-long name.
            InvalidWatcher: a watcher is invalid or two share a name.
            NotFound: no such network.
        """
        checked = [_as_watcher(w) for w in watchers]
        created = await self.store.write(
            installation_queries.insert_installation,
            network_id,
            _installation_name(name),
            checked,
            self.store.now(),
        )
        self._changed(created.id)
        return created

    async def get_installation(self, installation_id: int) -> Installation:
        """The installation, or :class:`NotFound`."""
        return await self.store.read(installation_queries.installation_by_id, installation_id)

    async def list_installations(
        self, *, owner_id: int | None = None, network_id: int | None = None
    ) -> list[Installation]:
        """Installations of one owner's networks and/or one network, oldest first."""
        return await self.store.read(
            installation_queries.list_installations, owner_id=owner_id, network_id=network_id
        )

    async def update_installation(
        self, installation_id: int, *, name: str | None = None, network_id: int | None = None
    ) -> Installation:
        """Rename an installation or move it to another network."""
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = _installation_name(name)
        if network_id is not None:
            fields["network_id"] = network_id
        if not fields:
            return await self.get_installation(installation_id)
        updated = await self.store.write(
            installation_queries.update_installation, installation_id, fields, self.store.now()
        )
        self._changed(installation_id)
        return updated

    async def delete_installation(self, installation_id: int) -> None:
        """Delete an installation (its screens show nothing new afterwards)."""
        await self.store.write(installation_queries.delete_installation, installation_id)
        self._changed(installation_id)

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
        self, installation_id: int, edit: installation_queries.WatcherEdit
    ) -> Installation:
        edited = await self.store.write(
            installation_queries.edit_watchers, installation_id, edit, self.store.now()
        )
        self._changed(installation_id)
        return edited

    def _changed(self, installation_id: int | None) -> None:
        """Boards forget their cached watchers; waiters wake (``None``: every installation)."""
        if self.boards is not None:
            self.boards.forget()
        ids = list(self._installation_changes) if installation_id is None else [installation_id]
        for changed in ids:
            waiting = self._installation_changes.pop(changed, None)
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


def vestaboard_dispatcher(store: Store, platforms: Platforms, tokens: TokenLookup) -> Boards | None:
    """The engine's Vestaboard dispatcher (``None`` without a client)."""
    client = platforms.vestaboard
    return None if client is None else Boards(store, client.send_text, tokens)


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
