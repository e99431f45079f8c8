"""Prompts as a visitor might type them: unicode, control characters, 100 KB, blank.

The rule (contract): a prompt must have visible text, at most 2,000
characters and no NUL. Anything else is refused with a message, before
anything is written; anything valid is stored exactly as typed.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from panic_trio.domain import MAX_PROMPT_CHARS
from panic_trio.errors import InvalidPrompt
from panic_trio.inputs import check_prompt
from tests.inputs.conftest import FUZZ, Portal, snapshot
from tests.web.conftest import World, client

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from("\x7f\u2028\u2029")
WHITESPACE = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000\u200b"), max_size=50)
PROMPTS = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.text(CONTROL, max_size=30),
    WHITESPACE,
    st.builds(lambda s, n: (s or "x") * n, st.text(min_size=1, max_size=3), st.integers(1, 2100)),
    st.just("x" * 100_000),
    st.just("\U0001f600" * MAX_PROMPT_CHARS),
    st.just("a\x00b"),
    st.just(""),
)


def is_valid(prompt: str) -> bool:
    return bool(prompt.strip()) and len(prompt) <= MAX_PROMPT_CHARS and "\x00" not in prompt


@given(prompt=PROMPTS)
@example(prompt="é" * MAX_PROMPT_CHARS)
@example(prompt="é" * (MAX_PROMPT_CHARS + 1))
def test_check_prompt_accepts_exactly_the_valid_prompts(prompt: str) -> None:
    if is_valid(prompt):
        assert check_prompt(prompt) == prompt
    else:
        with pytest.raises(InvalidPrompt) as refused:
            check_prompt(prompt)
        assert refused.value.field == "prompt"
        assert refused.value.message
        assert len(refused.value.message) < 200  # never echoes a 100 KB prompt back


async def post_prompt(world: World, prompt: str) -> None:
    key = await world.panic.create_api_key(world.owner.id, "fuzz")
    before = await snapshot(world)
    response = await client(world).post(
        f"/api/networks/{world.network.id}/runs",
        json={"prompt": prompt},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = await response.get_json()
    if is_valid(prompt):
        assert response.status_code == 201, body
        genesis = await world.panic.get_invocation(body["genesis"]["id"])
        assert genesis.input == prompt  # exactly as typed, whatever the script
        assert await world.panic.stop_run(world.network.id)
    else:
        assert response.status_code == 422, body
        assert body["error"] == "invalid_prompt"
        assert isinstance(body["message"], str)
        assert body["message"]
        assert await snapshot(world) == before


@FUZZ
@given(prompt=PROMPTS)
def test_the_api_stores_valid_prompts_exactly_and_refuses_the_rest(
    portal: Portal, prompt: str
) -> None:
    portal.run(post_prompt, portal.world, prompt)


async def surrogates_and_oversized_bodies(world: World) -> None:
    key = await world.panic.create_api_key(world.owner.id, "fuzz")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    url = f"/api/networks/{world.network.id}/runs"
    before = await snapshot(world)
    # JSON may spell a lone surrogate; no database can store it as UTF-8.
    for raw in (b'{"prompt": "\\ud800"}', b'{"prompt": "ok \\udfff then"}'):
        response = await client(world).post(url, data=raw, headers=headers)
        assert response.status_code == 422, await response.get_data(as_text=True)
        assert (await response.get_json())["error"] == "invalid_prompt"
    # Over the 256 KB body limit: refused before it is parsed.
    huge = json.dumps({"prompt": "x" * 300_000}).encode()
    response = await client(world).post(url, data=huge, headers=headers)
    assert response.status_code == 413
    assert await snapshot(world) == before
    # ...and the server goes on serving.
    ok = await client(world).post(url, json={"prompt": "still here"}, headers=headers)
    assert ok.status_code == 201


def test_lone_surrogates_and_oversized_bodies_are_refused_cleanly(portal: Portal) -> None:
    portal.run(surrogates_and_oversized_bodies, portal.world)
