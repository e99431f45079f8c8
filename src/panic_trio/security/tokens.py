"""Encryption of platform tokens at rest, and hashing of personal API keys.

Platform tokens (OpenAI, Replicate, ...) must be readable by the engine, so
they are encrypted (Fernet) with a key derived from the secret key; a copy of
the database or a backup alone does not reveal them. Personal API keys only
need checking, so only their SHA-256 is stored (they are random, so a fast
hash is enough).

Anything handed out that names a row (a QR code's terminal token, a display
link, a share link) binds to the row's :func:`creation_identity`, not to its
id alone: even if an id named another row one day (a database restored from
an old backup), a credential for the old row can never act on the new one.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from panic_trio.errors import ConfigError, StoreError

API_KEY_PREFIX: Final = "pt_"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY_FILE: Final = "secret_key"


def load_secret_key(configured: str | None, data_dir: Path) -> str:
    """The configured secret key, or one generated once and kept in ``data_dir``."""
    if configured:
        if len(configured) < 16:
            raise ConfigError("PANIC_SECRET_KEY must be at least 16 characters")
        return configured
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner only: it holds the key
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key)
    tmp.chmod(0o600)
    tmp.replace(path)
    return key


def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for one ``purpose``, so one secret never serves two uses directly."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(secret_key.encode())


class TokenCipher:
    """Encrypts and decrypts platform tokens with a key derived from the secret key."""

    def __init__(self, secret_key: str) -> None:
        key = base64.urlsafe_b64encode(derive_key(secret_key, "panic-trio platform tokens"))
        self._fernet = Fernet(key)

    def encrypt(self, value: str) -> bytes:
        """Ciphertext for ``value`` (authenticated; different every time)."""
        return self._fernet.encrypt(value.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        """The token, or :class:`StoreError` if the secret key has changed."""
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise StoreError(
                "a stored platform token cannot be decrypted: was PANIC_SECRET_KEY changed? "
                "Set the token again."
            ) from None


def new_api_key() -> str:
    """A fresh personal API key, shown to its owner once."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


def mask(value: str) -> str:
    """A token as it may be shown: the last four characters only."""
    if len(value) <= 8:
        return "•" * len(value)
    return "•" * 8 + value[-4:]


def creation_stamp(created_at: datetime) -> str:
    """A row's creation time to the microsecond, in base 36 (short enough for a URL)."""
    number = (created_at - _EPOCH) // timedelta(microseconds=1)
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if number == 0:
            return digits


def creation_identity(row_id: int, created_at: datetime | None) -> str:
    """``<id>-<creation stamp>``: names one row for ever, even if its id were reused."""
    if created_at is None:
        raise ValueError("a creation identity needs the row's created_at")
    return f"{row_id}-{creation_stamp(created_at)}"


def identity_row_id(identity: str) -> int | None:
    """The id in a :func:`creation_identity` (``None`` if it is not one)."""
    row_id, dash, stamp = identity.partition("-")
    if not dash or not (row_id.isascii() and row_id.isdigit()):
        return None
    if not stamp or not set(stamp) <= set(_DIGITS):
        return None
    return int(row_id)
