"""Signed public links to one run: ``<network_id>.<run_number>.<nonce>.<signature>``.

The owner makes a run public; the store keeps a random nonce for it, and the
link carries that nonce signed (HMAC-SHA256) with a key derived for this
purpose only. A link works while the run's stored nonce is the one it
carries: revoking deletes the nonce, sharing again makes a new one, and the
share goes with the run when its network is deleted, so a reused id never
inherits it. Neither the ids nor a copy of the database are enough to make
a link: the signature needs the server's key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

MAX_LINK_TOKEN_CHARS: Final = 200


class RunLinks:
    """Signs and reads the tokens of public run links.

    Args:
        key: the HMAC key (derive it from the secret key for this purpose).
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, network_id: int, run_number: int, nonce: str) -> str:
        """The token of the public link to a run shared under ``nonce``."""
        body = f"{network_id}.{run_number}.{nonce}"
        return f"{body}.{self._sign(body)}"

    def nonce(self, token: str | None, network_id: int, run_number: int) -> str | None:
        """The nonce a well-signed token for this run carries, else ``None``.

        The caller still compares it with the stored one (revocation).
        """
        if not token or len(token) > MAX_LINK_TOKEN_CHARS:
            return None
        body, _, signature = token.rpartition(".")
        if not body or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        parts = body.split(".")
        if len(parts) != 3 or parts[:2] != [str(network_id), str(run_number)]:
            return None
        return parts[2]

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
