"""Named token sets: several per user, shared with other users, chosen per network.

:class:`TokenSets` is a part of ``Panic`` (``panic.token_sets``). Tokens are
encrypted before they reach the store and only ever leave it masked (the
last four characters); the engine reads a network's token through
:meth:`TokenSets.for_network`. Every method takes the acting user and checks
what that user may do: only a set's owner changes it; a member may use it
for their networks and leave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from panic_trio.domain import Network
from panic_trio.errors import InvalidInput
from panic_trio.inputs import check_email
from panic_trio.models.platform_records import token_names
from panic_trio.security import tokens
from panic_trio.store import token_sets as queries
from panic_trio.store.store import Store

MAX_NAME_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A set as a page may show it: tokens masked, never whole."""

    id: int
    name: str
    owner_id: int
    owner_email: str
    mine: bool
    members: list[dict[str, Any]]
    masked: dict[str, str]


def check_set_name(name: object) -> str:
    """A set's name: visible text, at most 200 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("give the token set a name", field="name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"a name is at most {MAX_NAME_CHARS} characters", field="name")
    return name


class TokenSets:
    """Each user's named token sets, and which set each network's runs use."""

    def __init__(self, store: Store, cipher: tokens.TokenCipher) -> None:
        self.store = store
        self._cipher = cipher

    async def list(self, user_id: int) -> list[TokenSet]:
        """The sets the user owns or was given, oldest first (the first owned is the default)."""
        rows = await self.store.read(queries.sets_for, user_id)
        return [
            TokenSet(
                id=r["id"],
                name=r["name"],
                owner_id=r["owner_id"],
                owner_email=r["owner_email"],
                mine=r["mine"],
                members=r["members"],
                masked={
                    name: tokens.mask(self._cipher.decrypt(ct)) for name, ct in r["tokens"].items()
                },
            )
            for r in rows
        ]

    async def create(self, user_id: int, name: str) -> int:
        """A new, empty set of the user's; returns its id.

        Raises:
            InvalidInput: no name, too long, or one of the user's sets has it.
        """
        name = check_set_name(name)
        return await self.store.write(queries.create_set, user_id, name, self.store.now())

    async def rename(self, user_id: int, set_id: int, name: str) -> None:
        """Rename one of the user's sets (``NotFound`` for anyone else's)."""
        await self.store.write(queries.rename_set, user_id, set_id, check_set_name(name))

    async def delete(self, user_id: int, set_id: int) -> int:
        """Delete one of the user's sets; returns how many networks went back to defaults."""
        return await self.store.write(queries.delete_set, user_id, set_id)

    async def set_token(self, user_id: int, set_id: int, name: str, value: str | None) -> None:
        """Store one token of one of the user's sets, encrypted (blank or ``None`` removes it).

        Raises:
            InvalidInput: an unknown token name.
            NotFound: not the user's set.
        """
        if name not in token_names():
            raise InvalidInput(f"unknown token name {name!r}", field="name")
        value = (value or "").strip()
        ciphertext = self._cipher.encrypt(value) if value else None
        await self.store.write(
            queries.store_token, user_id, set_id, name, ciphertext, self.store.now()
        )

    async def share(self, user_id: int, set_id: int, email: str) -> str:
        """Share one of the user's sets with another account; returns its email.

        Raises:
            InvalidInput: no account with that email, the user's own, or shared already.
            NotFound: not the user's set.
        """
        return await self.store.write(
            queries.share_set, user_id, set_id, check_email(email), self.store.now()
        )

    async def unshare(self, user_id: int, set_id: int, member_id: int) -> int:
        """End a share (the owner: anyone's; a member: their own); returns networks moved back."""
        return await self.store.write(queries.unshare_set, user_id, set_id, member_id)

    async def choose(self, network_id: int, set_id: int | None) -> None:
        """The set a network's runs use (``None``: its owner's own sets, first first).

        Callers check the acting user may manage the network; the set must be
        one the network's owner may use (``InvalidInput`` otherwise).
        """
        await self.store.write(queries.choose_for_network, network_id, set_id)

    async def chosen(self, owner_id: int) -> dict[int, int | None]:
        """Each of the owner's networks with its chosen set (``None``: the default)."""
        return await self.store.read(queries.chosen_sets, owner_id)

    async def for_network(self, network: Network, name: str) -> str | None:
        """The decrypted token ``network``'s runs use for ``name`` (for the engine only)."""
        ciphertext = await self.store.read(queries.network_token, network.id, name)
        return None if ciphertext is None else self._cipher.decrypt(ciphertext)
