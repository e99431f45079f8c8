"""Signed terminal tokens: what a QR code carries so a visitor may prompt.

A token is ``<identity>.<generation>.<issued_ms>.<nonce>.<signature>``: an
HMAC-SHA256 over the first four parts with a key derived for this purpose
only. It is valid for one hour for one network: the network's creation
identity (:func:`~panic_trio.security.tokens.creation_identity`), so a
token of a deleted network never works on a newer one, and its token
generation, which its owner bumps to revoke every token issued so far.
The millisecond time and the nonce make two tokens issued moments apart
differ (the original's tests check this).
Wall-clock time is right here: tokens outlive processes and cross machines.

A printed sign's lasting link carries ``<identity>.<sign generation>.<signature>``
(three parts, signed over ``sign.<identity>.<generation>``, so it can never
pass as a terminal token or the reverse). It works while the network shows
its QR as a printed sign of that generation; scanning it mints a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Final, Literal

from panic_trio.domain import Network
from panic_trio.security.tokens import creation_identity, identity_row_id

TOKEN_LIFETIME_SECONDS: Final = 3600.0
CLOCK_SKEW_SECONDS: Final = 300.0
MAX_TOKEN_CHARS: Final = 200

TokenCheck = Literal["ok", "expired", "invalid", "wrong_network", "revoked"]


class TerminalTokens:
    """Issues and checks terminal tokens.

    Args:
        key: the HMAC key (derive it from the secret key for this purpose).
        lifetime: seconds a token stays valid.
        clock: wall-clock seconds; tests pass a fake to age tokens.
    """

    def __init__(
        self,
        key: bytes,
        *,
        lifetime: float = TOKEN_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.lifetime = lifetime
        self._clock = clock

    def issue(self, network: Network) -> str:
        """A fresh token for ``network`` (as it is now: its identity and generation)."""
        issued_ms = int(self._clock() * 1000)
        identity = creation_identity(network.id, network.created_at)
        body = f"{identity}.{network.token_generation}.{issued_ms}.{secrets.token_urlsafe(6)}"
        return f"{body}.{self._sign(body)}"

    def check(self, token: str | None, network: Network) -> TokenCheck:
        """Whether ``token`` lets its holder prompt ``network`` (as read just now)."""
        parsed = self._parse(token)
        if parsed is None:
            return "invalid"
        identity, generation, issued = parsed
        age = self._clock() - issued
        if age < -CLOCK_SKEW_SECONDS:
            return "invalid"
        if age > self.lifetime:
            return "expired"
        if identity_row_id(identity) != network.id:
            return "wrong_network"
        if identity != creation_identity(network.id, network.created_at):
            return "revoked"  # the network it was for was deleted; this one is newer
        if generation != network.token_generation:
            return "revoked"
        return "ok"

    def sign_code(self, network: Network) -> str:
        """The lasting code of ``network``'s printed sign (as it is now)."""
        identity = creation_identity(network.id, network.created_at)
        body = f"{identity}.{network.sign_generation}"
        return f"{body}.{self._sign(f'sign.{body}')}"

    def sign_network_id(self, code: str | None) -> int | None:
        """The network a well-signed sign code names (check it with :meth:`sign_works`)."""
        if not code or len(code) > MAX_TOKEN_CHARS:
            return None
        body, _, signature = code.rpartition(".")
        expected = self._sign(f"sign.{body}")
        if not body or not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        identity, _, generation = body.partition(".")
        if not (generation.isascii() and generation.isdigit()):
            return None
        return identity_row_id(identity)

    def sign_works(self, code: str, network: Network) -> bool:
        """Whether ``code`` is ``network``'s printed sign now (not rotated nor revoked)."""
        return network.qr_mode == "printed" and hmac.compare_digest(
            code.encode(), self.sign_code(network).encode()
        )

    def token_id(self, token: str | None) -> str | None:
        """A well-signed token's id, ``<issued_ms>.<nonce>``: names it in logs and limits.

        Not a credential: without the signature it lets no one prompt.
        """
        if self._parse(token) is None:
            return None
        assert token is not None
        _identity, _generation, issued_ms, nonce, _signature = token.split(".")
        return f"{issued_ms}.{nonce}"

    def expires_at(self, token: str) -> float | None:
        """Wall-clock expiry of a well-signed token, else ``None``."""
        parsed = self._parse(token)
        return None if parsed is None else parsed[2] + self.lifetime

    def _parse(self, token: str | None) -> tuple[str, int, float] | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        body, _, signature = token.rpartition(".")
        if not body or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        parts = body.split(".")
        if len(parts) != 4 or identity_row_id(parts[0]) is None:
            return None
        if not (parts[1] + parts[2]).isascii() or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return parts[0], int(parts[1]), int(parts[2]) / 1000

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
