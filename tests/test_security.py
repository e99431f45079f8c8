"""Passwords, token encryption and API keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from panic_trio.errors import ConfigError, InvalidInput, StoreError
from panic_trio.security import passwords, tokens


def test_passwords_are_argon2_hashed_and_verified() -> None:
    hashed = passwords.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "wrong")
    assert not passwords.verify_password("not a hash", "x")
    assert not passwords.verify_password(None, "anything")


def test_weak_passwords_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 8"):
        passwords.check_password_rules("short")


def test_tokens_round_trip_and_differ_in_ciphertext() -> None:
    cipher = tokens.TokenCipher("a secret key of some length")
    a, b = cipher.encrypt("sk-live-123"), cipher.encrypt("sk-live-123")
    assert a != b
    assert b"sk-live" not in a
    assert cipher.decrypt(a) == "sk-live-123"


def test_a_changed_secret_key_gives_a_readable_error() -> None:
    ciphertext = tokens.TokenCipher("the first secret key").encrypt("x")
    with pytest.raises(StoreError, match="PANIC_SECRET_KEY"):
        tokens.TokenCipher("another secret key!!").decrypt(ciphertext)


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = tokens.load_secret_key(None, tmp_path)
    assert tokens.load_secret_key(None, tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert tokens.load_secret_key("configured secret key", tmp_path) == "configured secret key"
    with pytest.raises(ConfigError):
        tokens.load_secret_key("short", tmp_path)


def test_api_keys_are_random_and_only_hashes_are_kept() -> None:
    key = tokens.new_api_key()
    assert key.startswith("pt_")
    assert key != tokens.new_api_key()
    assert tokens.hash_api_key(key) == tokens.hash_api_key(key)
    assert key not in tokens.hash_api_key(key)


def test_masking_shows_only_the_tail() -> None:
    assert tokens.mask("sk-abcdefghijkl1234") == "••••••••1234"
    assert tokens.mask("short") == "•••••"
