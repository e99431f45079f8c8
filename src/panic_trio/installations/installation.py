"""The installation value: a named, ordered set of watchers for one network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from panic_trio.installations.watchers import Watcher, check_unique_names, check_watcher
from panic_trio.security.tokens import creation_identity


@dataclass(frozen=True, slots=True)
class Installation:
    """A named, ordered set of watchers (screens and boards) for one network."""

    id: int
    network_id: int
    name: str
    watchers: tuple[Watcher, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def public_id(self) -> str:
        """What display links carry: the id bound to this installation's creation."""
        return creation_identity(self.id, self.created_at)

    def watcher(self, name: str) -> Watcher | None:
        """The watcher called ``name``, or ``None``."""
        return next((w for w in self.watchers if w.name == name), None)


def installation_from_row(row: Any) -> Installation:
    """An :class:`Installation` from an ``installations`` row (watchers as JSON)."""
    return Installation(
        id=row.id,
        network_id=row.network_id,
        name=row.name,
        watchers=tuple(check_watcher(w) for w in row.watchers),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def watchers_json(watchers: Sequence[Watcher]) -> list[dict[str, Any]]:
    """The stored form of an installation's watchers; :class:`InvalidWatcher` on a taken name."""
    check_unique_names(watchers)
    return [w.to_json() for w in watchers]
