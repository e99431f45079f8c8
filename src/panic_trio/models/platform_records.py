"""Each platform described once: its name, words, tokens, base-URL setting and docs.

Everything that needs a platform's identity reads it here: the registry and
the platform classes (name, display name), the catalog (which models are
paid, where to read about them, which platform keys exist), the error
messages (display names), the token store and the dashboard's token form
(token names and labels), the token test (its probe) and the Vestaboard
boards. It is pure data with no imports of ours, so the catalog, which sits
below the platforms, can read it as well as they can.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True, slots=True)
class TokenProbe:
    """A free authenticated request that tells whether a token works.

    ``path`` is appended to the platform's base URL; ``auth`` says how the
    token travels (``Authorization: Bearer`` or a ``key`` query parameter).
    """

    path: str
    auth: Literal["bearer", "key_param"]


@dataclass(frozen=True, slots=True)
class PlatformRecord:
    """One platform's identity.

    ``name`` is the key models name in ``Model.platform`` and the registry
    builds the platform under. ``tokens`` pairs each owner token the platform
    reads with its label on the dashboard. ``base_url_setting`` names the
    ``Settings`` field (``PANIC_<FIELD>``) that points it elsewhere.
    ``docs_url`` is where a person reads about one of its models (``{path}``
    is the model's path). ``serves_models`` is false for a display (a board
    receives text, it runs no model).
    """

    name: str
    display_name: str
    tokens: tuple[tuple[str, str], ...] = ()
    base_url_setting: str | None = None
    docs_url: str = "#"
    probe: TokenProbe | None = None
    serves_models: bool = True

    @property
    def token_names(self) -> tuple[str, ...]:
        """The owner tokens this platform reads."""
        return tuple(name for name, _ in self.tokens)

    @property
    def paid(self) -> bool:
        """A model here is billed to its owner's provider account (so it needs a token)."""
        return self.serves_models and bool(self.tokens)


BOARDS: Final[tuple[str, ...]] = ("panic_1", "panic_2", "panic_3", "panic_4")
"""The Vestaboards an installation can drive (``watchers``' ``vestaboard_name``)."""

_BOARD_TOKEN_PREFIX: Final = "vestaboard_"


def board_token(board: str) -> str:
    """The owner's token for a board: ``panic_1`` → ``vestaboard_panic_1``."""
    return _BOARD_TOKEN_PREFIX + board


def board_label(board: str) -> str:
    """A board as people read it: ``panic_1`` → ``Panic 1``."""
    return board.replace("panic_", "Panic ")


RECORDS: Final[dict[str, PlatformRecord]] = {
    record.name: record
    for record in (
        PlatformRecord(name="dummy", display_name="Dummy", docs_url="/about#dummy-models"),
        PlatformRecord(
            name="openai",
            display_name="OpenAI",
            tokens=(("openai", "OpenAI API Token"),),
            base_url_setting="openai_base_url",
            docs_url="https://platform.openai.com/docs/models/{path}",
            probe=TokenProbe("/models", "bearer"),
        ),
        PlatformRecord(
            name="replicate",
            display_name="Replicate",
            tokens=(("replicate", "Replicate API Token"),),
            base_url_setting="replicate_base_url",
            docs_url="https://replicate.com/{path}",
            probe=TokenProbe("/account", "bearer"),
        ),
        PlatformRecord(
            name="gemini",
            display_name="Gemini",
            tokens=(("gemini", "Gemini API Token"),),
            base_url_setting="gemini_base_url",
            docs_url="https://ai.google.dev/gemini-api/docs/models#{path}",
            probe=TokenProbe("/models", "key_param"),
        ),
        PlatformRecord(
            name="vestaboard",
            display_name="Vestaboard",
            tokens=tuple(
                (board_token(board), "Vestaboard " + board_label(board)) for board in BOARDS
            ),
            base_url_setting="vestaboard_base_url",
            serves_models=False,
        ),
    )
}
"""Every platform by name. Read it through the functions below, at call time."""


def platform_record(name: str) -> PlatformRecord | None:
    """The record of the platform called ``name``, or ``None``."""
    return RECORDS.get(name)


def display_name(platform: str) -> str:
    """The platform's name as an operator knows it (``"openai"`` → ``"OpenAI"``)."""
    record = RECORDS.get(platform)
    return platform if record is None else record.display_name


def token_labels() -> Mapping[str, str]:
    """Every owner token name with its dashboard label, in the records' order."""
    return {name: label for record in RECORDS.values() for name, label in record.tokens}


def token_names() -> tuple[str, ...]:
    """Every platform token name an owner can store."""
    return tuple(token_labels())


def checkable_tokens() -> tuple[str, ...]:
    """The token names whose platform has a probe (the dashboard's Test button)."""
    return tuple(name for record in RECORDS.values() if record.probe for name in record.token_names)


def token_platform(token: str) -> PlatformRecord | None:
    """The platform that reads the owner token ``token``."""
    for record in RECORDS.values():
        if token in record.token_names:
            return record
    return None
