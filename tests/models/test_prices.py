"""Price tables as data: the built-in file, an operator's overrides, cost = price times usage."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from panic_trio.errors import ConfigError
from panic_trio.models import all_models
from panic_trio.models.prices import builtin_prices, load_prices

TABLE = builtin_prices()


def test_every_priced_model_exists_and_every_price_says_when_and_where_it_was_read() -> None:
    ids = {m.id for m in all_models()}
    priced = [m.id for m in all_models() if TABLE.get(m.id) is not None]
    assert priced
    for model_id in priced:
        assert model_id in ids
        price = TABLE.get(model_id)
        assert price is not None
        assert price.source
        assert price.read_on.year >= 2025


def test_dummy_models_cost_nothing() -> None:
    for model in all_models():
        if model.platform == "dummy":
            cost = TABLE.cost(model.id, None)
            assert cost.amount == 0
            assert cost.to_json()["amount"] == 0.0


def test_token_prices_are_exact_decimals() -> None:
    cost = TABLE.cost("gpt-5-chat", {"input_tokens": 40, "output_tokens": 12})
    price = TABLE.get("gpt-5-chat")
    assert price is not None
    expected = (
        40 * price.rates["per_million_input_tokens"] + 12 * price.rates["per_million_output_tokens"]
    ) / 1_000_000
    assert cost.amount == expected
    assert cost.to_json()["amount"] == float(expected)


def test_unknown_price_or_missing_usage_is_null_and_says_why() -> None:
    unknown = TABLE.cost("whisper", {"seconds": 3.0}).to_json()
    assert unknown["amount"] is None
    assert unknown["basis"] == "no price known for whisper; add one with PANIC_PRICES"
    no_usage = TABLE.cost("gpt-5-chat", {}).to_json()
    assert no_usage["amount"] is None
    assert "reported no input tokens" in no_usage["basis"]
    assert TABLE.expected("gpt-5-chat") is None  # depends on usage
    assert TABLE.expected("imagen-4-fast") == TABLE.get("imagen-4-fast").rates["per_output"]  # type: ignore[union-attr]


def test_an_operators_file_replaces_tables_model_by_model(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[models."whisper"]\nper_second = 0.000225\nread_on = 2026-11-30\n'
        'source = "https://replicate.com/pricing#hardware"\n'
        '[models."gpt-5-chat"]\nper_call = 0.5\nread_on = 2026-11-30\nsource = "my invoice"\n'
    )
    table = load_prices(path)
    assert table.cost("whisper", {"seconds": 4}).amount == Decimal("0.000900")
    assert table.cost("gpt-5-chat", {"input_tokens": 10**6}).amount == Decimal("0.5")
    assert table.get("imagen-4-fast") == TABLE.get("imagen-4-fast")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "is not valid TOML"),
        ('[models."x"]\nper_call = -1\nread_on = 2026-11-30\nsource = "s"\n', "number >= 0"),
        ('[models."x"]\nper_call = "a lot"\nread_on = 2026-11-30\nsource = "s"\n', "number >= 0"),
        ('[models."x"]\nper_token = 1\nread_on = 2026-11-30\nsource = "s"\n', "unknown key"),
        ('[models."x"]\nper_call = 1\nsource = "s"\n', "read_on must be a date"),
        ('[models."x"]\nper_call = 1\nread_on = 2026-11-30\n', "source must say where"),
        ("models = 3\n", "expected [models"),
    ],
)
def test_a_bad_price_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_prices(path)


def test_a_missing_price_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PANIC_PRICES: cannot read"):
        load_prices(tmp_path / "nope.toml")
