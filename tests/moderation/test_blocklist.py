"""The blocklist's rules: what a pattern may be, and which prompts it catches."""

from __future__ import annotations

import time
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_trio.errors import InvalidInput
from panic_trio.moderation import blocklist
from panic_trio.moderation.blocklist import MAX_PATTERNS, Blocklist, check_pattern


def blocks(patterns: list[str], prompt: str) -> str | None:
    return Blocklist.of(check_pattern(p) for p in patterns).match(prompt)


@pytest.mark.parametrize(
    ("pattern", "prompt", "caught"),
    [
        ("bomb", "a BOMB in the sea", True),
        ("bomb", "a bómb in the sea", True),  # accents ignored
        ("bomb", "a bo\u0301mb in the sea", True),  # ...written as a letter and a mark too
        ("bo", "a bo\u0301mb in the sea", False),  # a mark is inside its word, not between two
        ("\u0915", "\u0915\u094d\u0937", False),  # a virama joins a conjunct: one word
        ("bomb", "bombastic prose", False),  # whole words only
        ("bomb", "bomb-shaped cloud", True),  # punctuation separates words
        ("bomb*", "two bombs", True),
        ("*bomb", "a timebomb", True),
        ("f?ck", "fuck that", True),
        ("f?ck", "fck that", False),
        ("Red  Balloon!", "a red, balloon", True),  # a phrase: those words in a row
        ("red balloon", "a red big balloon", False),
        ("red balloon", "balloon red", False),
        ("straße", "STRASSE", True),  # case folded the Unicode way
    ],
)
def test_patterns_catch_whole_words_in_any_case(pattern: str, prompt: str, caught: bool) -> None:
    assert (blocks([pattern], prompt) is not None) == caught


def test_the_first_pattern_that_catches_is_named() -> None:
    assert blocks(["cat", "dog*"], "hot dogs") == "dog*"
    assert blocks([], "anything at all") is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "type a word"),
        ("   ", "type a word"),
        ("*", "lone \\*"),
        ("a ** b", "lone \\*"),
        ("!!!", "lone \\*"),
        ("x" * 101, "at most 100 characters"),
        ("a b c d e f g h i", "at most 8 words"),
    ],
)
def test_bad_patterns_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_pattern(text)


def test_a_pattern_is_kept_folded_and_spaced() -> None:
    assert check_pattern("  Red,   BALLÓON ") == "red balloon"


@given(st.text(max_size=300))
def test_a_prompt_always_catches_its_own_words(prompt: str) -> None:
    """Its words as the blocklist reads them: a combining mark belongs to its word
    (``bo`` + U+0301 + ``mb`` is one word, ``bomb``), which ``\\w+`` on the raw text
    would split in two (the cases above)."""
    words = blocklist.words_of(prompt)
    if not words or len(words[0]) > 100:
        return
    try:
        pattern = check_pattern(words[0])
    except InvalidInput:
        return
    assert Blocklist.of([pattern]).match(prompt) is not None


def test_matching_a_long_prompt_against_a_full_list_stays_fast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No pattern can make a check slow: no regular expressions, linear in the words.

    The words pass the literal-chunk filter for many patterns (``b1`` is in
    ``…b10c``), so the wildcard matcher itself runs, counted: the slow path is timed.
    """
    matched: list[str] = []

    def counted(word: str, pattern: str) -> bool:
        matched.append(word)
        return fnmatchcase(word, pattern)

    monkeypatch.setattr(blocklist, "fnmatchcase", counted)
    patterns = [check_pattern(f"*a*a*a*a*a*b{n}") for n in range(MAX_PATTERNS)]
    words = [f"{'a' * 9}b{n}c" for n in range(MAX_PATTERNS)]  # b{n}c: no pattern ends there
    prompt = " ".join(words)
    started = time.perf_counter()
    assert Blocklist.of(patterns).match(prompt) is None
    elapsed = time.perf_counter() - started
    assert len(matched) >= MAX_PATTERNS  # the wildcard matcher really ran
    assert elapsed < 2.0, elapsed  # measured 0.04-0.2 s; generous for a busy machine
