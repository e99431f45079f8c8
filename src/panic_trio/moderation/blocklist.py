"""A network's prompt blocklist as pure rules: which patterns are valid, which prompt they catch.

A pattern is one or more words. Words are compared whole, with case and
accents ignored (``Bomb`` catches ``bómb`` and ``BOMB``, not ``bombastic``);
``*`` stands for any letters and ``?`` for one (``bomb*`` also catches
``bombs``); several words catch those words in a row, whatever punctuation or
spacing lies between. No regular expressions: a pattern an operator types can
never make matching slow (each check is linear in the prompt's words).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

from panic_trio.errors import InvalidInput

MAX_PATTERN_CHARS: Final = 100
MAX_PATTERN_WORDS: Final = 8
MAX_PATTERNS: Final = 200
_WORD: Final = re.compile(r"\w+")
_PATTERN_WORD: Final = re.compile(r"[\w*?]+")
_WILDCARDS: Final = frozenset("*?")
_CHUNKS: Final = re.compile(r"[*?]+")


def _fold(text: str) -> str:
    """Lower case without accents: ``Bómb`` -> ``bomb``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words_of(prompt: str) -> list[str]:
    """The prompt's words, folded (punctuation and spacing dropped)."""
    return _WORD.findall(_fold(prompt))


def check_pattern(text: object) -> str:
    """A pattern as it is kept: its words, folded, one space apart.

    Raises:
        InvalidInput: empty, only wildcards, too long or too many words.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("type a word or a few words to block", field="pattern")
    if len(text) > MAX_PATTERN_CHARS:
        raise InvalidInput(f"a pattern is at most {MAX_PATTERN_CHARS} characters", field="pattern")
    words = _PATTERN_WORD.findall(_fold(text))
    if not words or any(set(word) <= _WILDCARDS for word in words):
        raise InvalidInput(
            "each word needs a letter or digit (a lone * would block every prompt)",
            field="pattern",
        )
    if len(words) > MAX_PATTERN_WORDS:
        raise InvalidInput(f"a pattern is at most {MAX_PATTERN_WORDS} words", field="pattern")
    return " ".join(words)


Part = tuple[str, tuple[str, ...] | None]  # a pattern word, and its letters if it has wildcards


def _part(word: str) -> Part:
    if _WILDCARDS.isdisjoint(word):
        return word, None
    return word, tuple(chunk for chunk in _CHUNKS.split(word) if chunk)


@dataclass(frozen=True, slots=True)
class Blocklist:
    """Checked patterns (from :func:`check_pattern`), ready to match prompts."""

    patterns: tuple[tuple[str, tuple[Part, ...]], ...]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> Blocklist:
        """A blocklist of patterns already checked."""
        return cls(tuple((p, tuple(_part(w) for w in p.split(" "))) for p in patterns))

    @property
    def literal(self) -> bool:
        """No wildcards: matching is a few dictionary lookups per pattern."""
        return all(letters is None for _, parts in self.patterns for _, letters in parts)

    def match(self, prompt: str) -> str | None:
        """The first pattern that catches ``prompt``, or ``None``.

        A literal first word is a dictionary lookup; a wildcard one is tried
        against each distinct word, after a substring test of its letters.
        """
        if not self.patterns:
            return None
        words = words_of(prompt)
        at: dict[str, list[int]] = {}
        for index, word in enumerate(words):
            at.setdefault(word, []).append(index)
        for pattern, parts in self.patterns:
            first, letters = parts[0]
            if letters is None:
                starts: Iterable[int] = at.get(first, ())
            else:
                starts = (i for word in at if _like(word, parts[0]) for i in at[word])
            for start in starts:
                window = words[start : start + len(parts)]
                if len(window) == len(parts) and all(
                    _like(word, part) for word, part in zip(window, parts, strict=True)
                ):
                    return pattern
        return None


def _like(word: str, part: Part) -> bool:
    """One folded word against one pattern word (``*`` any letters, ``?`` one)."""
    pattern, letters = part
    if letters is None:
        return word == pattern
    for chunk in letters:
        if chunk not in word:
            return False  # most words fail here, in C, before fnmatch runs
    return fnmatchcase(word, pattern)
