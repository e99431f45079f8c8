"""Who sent a prompt: the source the prompt log records and the keys it is rate limited by.

A visitor with a terminal token is limited per address *and* per token, so
one QR code shared round a room (or a script replaying one token from many
addresses) gets the same allowance as one visitor, on every prompt path of
this process. Owners and admins are limited per account.
"""

from __future__ import annotations

from dataclasses import dataclass

from panic_trio.domain import Network, User
from panic_trio.moderation import PromptSource
from panic_trio.web.terminal_tokens import TerminalTokens


@dataclass(frozen=True, slots=True)
class Prompter:
    """A prompt's source (for the log) and its rate-limit keys (all charged at once)."""

    source: PromptSource
    limit_keys: tuple[str, ...]


def prompter(
    network: Network,
    *,
    user: User | None,
    token: str | None,
    address: str | None,
    tokens: TerminalTokens,
) -> Prompter:
    """The prompter behind a request: a signed-in manager of the network, else a token holder."""
    if user is not None and (user.admin or user.id == network.owner_id):
        kind = "owner" if user.id == network.owner_id else "admin"
        return Prompter(PromptSource(kind, client=address), (f"user:{user.id}",))
    token_id = tokens.token_id(token)
    keys = (f"ip:{address}",) + ((f"token:{token_id}",) if token_id else ())
    return Prompter(PromptSource("token", token=token_id, client=address), keys)
