"""Rules for values people type: prompts, emails, network fields.

Each check raises :class:`~panic_trio.errors.InvalidInput` (or a subclass)
naming the field, before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from panic_trio.domain import MAX_PROMPT_CHARS
from panic_trio.errors import InvalidInput, InvalidNetwork, InvalidPrompt
from panic_trio.models import check_network

MAX_NAME_CHARS: Final = 200
MAX_DESCRIPTION_CHARS: Final = 10_000
MAX_LOCKOUT_SECONDS: Final = 24 * 3600
MAX_CAP_USD: Final = 1_000_000.0
NETWORK_FIELDS: Final = ("name", "description", "models", "lockout_seconds", "daily_cap", "run_cap")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _is_unicode_text(value: str) -> bool:
    """False for strings with lone surrogates (JSON can spell them; UTF-8 cannot store them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_prompt(prompt: object) -> str:
    """A prompt must have visible text, at most 2,000 characters, no NUL, valid Unicode."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidPrompt("prompt must not be empty", field="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidPrompt(
            f"prompt must be at most {MAX_PROMPT_CHARS:,} characters (it has {len(prompt):,})",
            field="prompt",
        )
    if "\x00" in prompt:
        raise InvalidPrompt("prompt must not contain NUL characters", field="prompt")
    if not _is_unicode_text(prompt):
        raise InvalidPrompt("prompt must be valid Unicode text", field="prompt")
    return prompt


def check_email(email: object) -> str:
    """A plausible email address, trimmed and lower-cased."""
    if (
        not isinstance(email, str)
        or not _EMAIL.match(email.strip())
        or len(email) > 320
        or not _is_unicode_text(email)
    ):
        raise InvalidInput("enter a valid email address", field="email")
    return email.strip().lower()


def _text(value: object, field: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} must be at most {limit:,} characters", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters", field=field)
    if not _is_unicode_text(value):
        raise InvalidInput(f"{field} must be valid Unicode text", field=field)
    return value


def check_lockout(value: object) -> int:
    """Lockout seconds: a whole number from 0 (no lockout) to one day."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("lockout seconds must be a whole number", field="lockout_seconds")
    if not 0 <= value <= MAX_LOCKOUT_SECONDS:
        raise InvalidInput(
            f"lockout seconds must be between 0 and {MAX_LOCKOUT_SECONDS:,}",
            field="lockout_seconds",
        )
    return value


def check_cap(value: object, field: str) -> float | None:
    """A spending cap in USD: ``None`` (no cap) or an amount from 0 to a million."""
    if value is None:
        return None
    words = field.replace("_", " ")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{words} must be an amount in USD, or empty for none", field=field)
    if not (0 <= value <= MAX_CAP_USD):
        raise InvalidInput(f"{words} must be between 0 and {MAX_CAP_USD:,.0f} USD", field=field)
    return float(value)


def check_models(models: object) -> list[str]:
    """A model list that forms a runnable cycle (the original's messages)."""
    if isinstance(models, str) or not isinstance(models, list | tuple):
        raise InvalidNetwork("models must be a list of model ids", field="models")
    if not all(isinstance(m, str) for m in models):
        raise InvalidNetwork("models must be a list of model ids", field="models")
    check_network(list(models))
    return list(models)


def check_known_fields(fields: Mapping[str, Any]) -> None:
    """Refuse fields a network does not have (an ``owner_id`` is not yours to set)."""
    unknown = sorted(set(fields) - set(NETWORK_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown network field(s): {', '.join(map(str, unknown))}")


def check_network_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a create or update of a network; returns the cleaned values."""
    check_known_fields(fields)
    cleaned: dict[str, Any] = {}
    if "name" in fields:
        cleaned["name"] = _text(fields["name"], "name", MAX_NAME_CHARS, required=True)
    if "description" in fields:
        cleaned["description"] = _text(
            fields["description"], "description", MAX_DESCRIPTION_CHARS, required=False
        )
    if "models" in fields:
        cleaned["models"] = check_models(fields["models"])
    if "lockout_seconds" in fields:
        cleaned["lockout_seconds"] = check_lockout(fields["lockout_seconds"])
    for cap in ("daily_cap", "run_cap"):
        if cap in fields:
            cleaned[cap] = check_cap(fields[cap], cap)
    return cleaned
