"""Platform tokens: each user's provider keys, encrypted at rest, never shown whole.

:class:`TokenMethods` is the token half of the embedding API (mixed into
``Panic``, like the installations and run history): storing and reading a
token, masking it for pages, testing it against its provider, and warning
about networks whose owner lacks one.
"""

from __future__ import annotations

from collections.abc import Sequence

from panic_trio.domain import Network
from panic_trio.errors import InvalidInput, MissingToken, NotFound, PlatformError
from panic_trio.models import find_model
from panic_trio.models.platform_records import token_names, token_platform
from panic_trio.platforms.registry import Platforms
from panic_trio.security import tokens
from panic_trio.store import accounts
from panic_trio.store.store import Store
from panic_trio.token_sets import TokenSets


class TokenMethods:
    """Each user's platform tokens (mixed into ``Panic``)."""

    store: Store
    platforms: Platforms
    token_sets: TokenSets
    _cipher: tokens.TokenCipher

    async def set_platform_token(self, user_id: int, name: str, value: str | None) -> None:
        """Store a platform token encrypted (``None`` or blank removes it).

        Raises:
            InvalidInput: unknown token name.
            NotFound: no such user.
        """
        if name not in token_names():
            raise InvalidInput(
                f"unknown token name {name!r} (use one of {', '.join(token_names())})",
                field="name",
            )
        if await self.store.get_user(user_id) is None:
            raise NotFound(f"no user with id {user_id}")
        value = (value or "").strip()
        ciphertext = self._cipher.encrypt(value) if value else None
        await self.store.store_platform_token(user_id, name, ciphertext)

    async def platform_token(self, user_id: int, name: str) -> str | None:
        """The decrypted token (for the engine; never show it to people)."""
        ciphertext = await self.store.platform_token(user_id, name)
        return None if ciphertext is None else self._cipher.decrypt(ciphertext)

    async def token_warnings(
        self, owner_id: int, model_ids: Sequence[str], *, network: Network | None = None
    ) -> list[str]:
        """What the owner's runs would fail on for want of a token, one line per platform.

        A network is valid without tokens (they can be added later), so these
        are warnings, shown by the editor and ``panic-trio network check``.
        With ``network``, its tokens are the ones its runs use (its chosen set).
        """
        needs: dict[str, list[str]] = {}
        for model in filter(None, map(find_model, model_ids)):
            platform = self.platforms.by_name.get(model.platform)
            if platform is not None and platform.requires_token:
                names = needs.setdefault(model.platform, [])
                if model.name not in names:
                    names.append(model.name)
        warnings = []
        for name, models in needs.items():
            if network is not None:
                token = await self.token_sets.for_network(network, name)
            else:
                token = await self.platform_token(owner_id, name)
            if not token:
                display = self.platforms.by_name[name].display_name
                warnings.append(
                    f"{', '.join(models)} need{'s' if len(models) == 1 else ''} a {display} "
                    "token, and the network's owner has none: add one on the dashboard"
                )
        return warnings

    async def check_platform_token(self, user_id: int, name: str) -> None:
        """Test the user's ``name`` token with a cheap call to the provider.

        Raises:
            MissingToken: the user has no such token.
            PlatformError: the provider refused it, or could not be asked.
        """
        token = await self.platform_token(user_id, name)
        if not token:
            raise MissingToken(f"no {name} token is set", platform=name)
        if self.platforms.tokens is None:
            raise PlatformError("tokens cannot be tested on this server", platform=name)
        record = token_platform(name)
        await self.platforms.tokens.check(record.name if record else name, token)

    async def masked_tokens(self, user_id: int) -> dict[str, str]:
        """The user's tokens as they may be shown: masked."""
        stored = await self.store.read(accounts.platform_tokens_of, user_id)
        return {name: tokens.mask(self._cipher.decrypt(ct)) for name, ct in stored.items()}
