"""The cost of every invocation, from the usage the providers' fakes report.

Each fake answers with the provider's real usage fields (OpenAI ``usage``,
Gemini ``usageMetadata``, Replicate ``metrics``); the recorded cost must be
the price table times that usage, exactly, and the ``cost`` column must agree.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from sqlalchemy import select

from panic_trio import Panic, Settings
from panic_trio.domain import Invocation, User
from panic_trio.models.prices import builtin_prices
from panic_trio.store.schema import invocations
from tests.fakes import gemini, openai, replicate
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI, completion
from tests.fakes.replicate import FakeReplicate
from tests.runs import completed_at_least, start_and_wait

GUARD = 10
MILLION = Decimal(1_000_000)
PRICES = builtin_prices()


@pytest.fixture
def settings(
    settings: Settings,
    openai_fake: FakeOpenAI,
    replicate_fake: FakeReplicate,
    gemini_fake: FakeGemini,
    tmp_path: Path,
) -> Settings:
    override = tmp_path / "prices.toml"
    override.write_text(
        '[models."moondream2"]\nper_second = 0.000725\nread_on = 2026-11-30\n'
        'source = "https://replicate.com/pricing"\n'
    )
    return dataclasses.replace(
        settings,
        openai_base_url=openai_fake.url,
        replicate_base_url=replicate_fake.url,
        gemini_base_url=gemini_fake.url,
        platform_retries=0,
        prices=override,
    )


@pytest.fixture
async def owner(panic: Panic, owner: User) -> User:
    tokens = {"openai": openai.TOKEN, "replicate": replicate.TOKEN, "gemini": gemini.KEY}
    for name, value in tokens.items():
        await panic.set_platform_token(owner.id, name, value)
    return owner


async def completed(panic: Panic, network_id: int, steps: int) -> list[Invocation]:
    with trio.fail_after(GUARD):
        genesis, event = await start_and_wait(
            panic, network_id, "a lighthouse", completed_at_least(steps - 1)
        )
        assert event.status.state != "failed", event.status.error
        await panic.stop_run(network_id)
    rows = await panic.list_run(network_id, genesis.run_number)
    return [r for r in rows if r.state == "completed"]


def rate(model: str, key: str) -> Decimal:
    price = PRICES.get(model)
    assert price is not None
    return price.rates[key]


async def cost_column(panic: Panic, row: Invocation) -> float | None:
    def query(conn: object) -> float | None:
        return conn.execute(  # type: ignore[attr-defined,no-any-return]
            select(invocations.c.cost).where(invocations.c.id == row.id)
        ).scalar()

    return await panic.store.read(query)


async def test_openai_cost_is_the_token_price_times_the_reported_usage(
    panic: Panic, owner: User, openai_fake: FakeOpenAI
) -> None:
    usages = [(40, 12), (1234, 150), (7, 1)]
    for n, (prompt, completion_tokens) in enumerate(usages, 1):
        reply = completion(f"verse {n}", number=n)
        reply["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        }
        openai_fake.replies.append(reply)
    net = await panic.create_network(owner.id, "gpt", models=["gpt-5-chat"])
    rows = await completed(panic, net.id, steps=3)
    for row, (prompt, completion_tokens) in zip(rows, usages, strict=True):
        expected = (
            prompt * rate("gpt-5-chat", "per_million_input_tokens")
            + completion_tokens * rate("gpt-5-chat", "per_million_output_tokens")
        ) / MILLION
        cost = row.metadata["cost"]
        assert cost["amount"] == float(expected)
        assert cost["currency"] == "USD"
        assert f"{prompt} input tokens" in cost["basis"]
        assert cost["usage"]["input_tokens"] == prompt
        assert cost["price_source"].startswith("https://")
        assert await cost_column(panic, row) == float(expected)
    assert rows[0].metadata["cost"]["amount"] == 0.00017  # 40 * 1.25/M + 12 * 10/M


async def test_gemini_cost_bills_thinking_tokens_as_output(
    panic: Panic, owner: User, gemini_fake: FakeGemini, settings: Settings
) -> None:
    gemini_fake.response = gemini.reply("Soft rain on a roof.")
    gemini_fake.response["usageMetadata"] = {
        "promptTokenCount": 873,
        "candidatesTokenCount": 41,
        "thoughtsTokenCount": 9,
        "totalTokenCount": 923,
    }
    net = await panic.create_network(
        owner.id, "g", models=["dummy-t2a", "gemini-audio-description"]
    )
    rows = await completed(panic, net.id, steps=2)
    dummy, described = rows[0], rows[1]
    assert dummy.metadata["cost"]["amount"] == 0
    model = "gemini-audio-description"
    expected = (
        873 * rate(model, "per_million_input_tokens")
        + (41 + 9) * rate(model, "per_million_output_tokens")
    ) / MILLION
    assert described.metadata["cost"]["amount"] == float(expected)
    assert described.metadata["cost"]["usage"] == {
        "calls": 1,
        "input_tokens": 873,
        "output_tokens": 50,
    }


async def test_replicate_cost_by_output_by_tokens_by_seconds_and_unknown(
    panic: Panic, owner: User, replicate_fake: FakeReplicate, settings: Settings
) -> None:
    replicate_fake.script(
        "google/imagen-4-fast",
        output="https://replicate.delivery/fake/out.png",
        metrics={"predict_time": 3.2, "image_count": 1},
    )
    replicate_fake.script("lucataco/moondream2", output=["A red ", "kite"])  # predict_time 2.5
    replicate_fake.script(
        "anthropic/claude-4-sonnet",
        output=["A ", "poem"],
        metrics={"predict_time": 1.1, "input_token_count": 310, "output_token_count": 57},
    )
    replicate_fake.script("zsxkib/molmo-7b", output="A kite")
    net = await panic.create_network(
        owner.id,
        "r",
        models=["imagen-4-fast", "moondream2", "claude-4-sonnet", "imagen-4-fast", "molmo-7b"],
    )
    rows = await completed(panic, net.id, steps=5)
    by_model = {r.model: r.metadata["cost"] for r in rows}
    assert by_model["imagen-4-fast"]["amount"] == float(rate("imagen-4-fast", "per_output"))
    # moondream2's price comes from the operator's PANIC_PRICES file.
    assert by_model["moondream2"]["amount"] == float(Decimal("2.5") * Decimal("0.000725"))
    assert by_model["moondream2"]["price_read_on"] == "2026-11-30"
    claude = (
        310 * rate("claude-4-sonnet", "per_million_input_tokens")
        + 57 * rate("claude-4-sonnet", "per_million_output_tokens")
    ) / MILLION
    assert by_model["claude-4-sonnet"]["amount"] == float(claude)
    unknown = by_model["molmo-7b"]
    assert unknown["amount"] is None
    assert "no price known for molmo-7b" in unknown["basis"]
    molmo = next(r for r in rows if r.model == "molmo-7b")
    assert await cost_column(panic, molmo) is None
