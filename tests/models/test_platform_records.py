"""Each platform is described once, and everything that names one agrees with it."""

from __future__ import annotations

import dataclasses

from panic_trio.models import all_models, get_model
from panic_trio.models.platform_records import (
    BOARDS,
    RECORDS,
    board_label,
    board_token,
    checkable_tokens,
    display_name,
    token_labels,
    token_names,
    token_platform,
)
from panic_trio.settings import Settings


def test_every_base_url_setting_is_a_settings_field() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    named = {r.base_url_setting for r in RECORDS.values() if r.base_url_setting}
    assert named == {
        "openai_base_url",
        "replicate_base_url",
        "gemini_base_url",
        "vestaboard_base_url",
    }
    assert named <= fields


def test_every_model_runs_on_a_described_platform_that_serves_models() -> None:
    assert {m.platform for m in all_models()} <= {
        name for name, record in RECORDS.items() if record.serves_models
    }
    assert not RECORDS["vestaboard"].serves_models


def test_paid_and_docs_come_from_the_record() -> None:
    assert {name for name, record in RECORDS.items() if record.paid} == {
        "openai",
        "replicate",
        "gemini",
    }
    assert not get_model("dummy-t2t").paid
    assert get_model("gpt-5-chat").paid
    model = get_model("gpt-5-chat")
    assert model.url == RECORDS["openai"].docs_url.format(path=model.path)


def test_token_names_labels_and_probes() -> None:
    assert token_names() == (
        "openai",
        "replicate",
        "gemini",
        "vestaboard_panic_1",
        "vestaboard_panic_2",
        "vestaboard_panic_3",
        "vestaboard_panic_4",
    )
    assert token_labels()["vestaboard_panic_2"] == "Vestaboard Panic 2"
    assert token_labels()["gemini"] == "Gemini API Token"
    assert checkable_tokens() == ("openai", "replicate", "gemini")
    platform = token_platform("vestaboard_panic_3")
    assert platform is not None
    assert platform.name == "vestaboard"
    assert token_platform("nope") is None


def test_boards_and_display_names() -> None:
    assert BOARDS == ("panic_1", "panic_2", "panic_3", "panic_4")
    assert [board_token(b) for b in BOARDS] == list(RECORDS["vestaboard"].token_names)
    assert board_label("panic_4") == "Panic 4"
    assert display_name("openai") == "OpenAI"
    assert display_name("unknown-platform") == "unknown-platform"
