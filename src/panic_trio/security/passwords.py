"""Argon2 password hashing (blocking: call through a thread seam)."""

from __future__ import annotations

import functools
import secrets
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from panic_trio.errors import InvalidInput

MIN_PASSWORD_CHARS: Final = 8
MAX_PASSWORD_CHARS: Final = 1024
_hasher: Final = PasswordHasher()


def check_password_rules(password: str) -> None:
    """Reject passwords too short to protect an installation's tokens."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_CHARS} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(
            f"password must be at most {MAX_PASSWORD_CHARS} characters", field="password"
        )


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (about 50 ms of CPU)."""
    return _hasher.hash(password)


@functools.cache
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; never raises for a wrong password.

    With no hash (unknown email) it verifies against a decoy, so the answer
    takes as long and reveals nothing about which emails exist.
    """
    try:
        if password_hash is None:
            _hasher.verify(_decoy_hash(), password)
            return False
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
