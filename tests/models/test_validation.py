"""Network validation, ported from the original's HEAD validation tests (messages exact)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_trio.errors import InvalidInput, InvalidNetwork
from panic_trio.models.catalog import all_models, get_model
from panic_trio.models.validation import check_network, compatible_next, network_problem

SD = "Stable Diffusion 3.5 Turbo"


def first_of(input_type: str, output_type: str) -> str:
    """The original's `Model.all(input_type:, output_type:) |> List.first()`."""
    return next(
        m.id for m in all_models() if (m.input_type, m.output_type) == (input_type, output_type)
    )


# --- model_io_connections_test.exs ----------------------------------------------------------


def test_empty_network_is_invalid() -> None:
    assert network_problem([]) == "network must contain at least one model"


def test_single_text_to_text_model_forms_a_cycle() -> None:
    assert network_problem(["gpt-5-chat"]) is None


def test_multiple_text_to_text_models_form_a_cycle() -> None:
    assert network_problem(["gpt-5-chat", "dummy-t2t", "gpt-5-chat"]) is None


def test_incompatible_sequential_types_are_rejected() -> None:
    assert network_problem(["stable-diffusion", "gpt-5-chat"]) == (
        f"{SD} output (image) does not match GPT-5 Chat input (text)"
    )


def test_network_that_does_not_close_is_rejected() -> None:
    image_to_non_text = next(
        m for m in all_models() if m.input_type == "image" and m.output_type != "text"
    )
    assert image_to_non_text.id == "dummy-i2i"
    assert network_problem(["stable-diffusion", image_to_non_text.id]) == (
        "Network doesn't form a valid cycle: Dummy Image-to-Image output (image)"
        f" doesn't match {SD} input (text)"
    )


def test_text_image_text_cycle_is_valid() -> None:
    ids = [first_of("text", "image"), first_of("image", "text")]
    assert ids == ["stable-diffusion", "bunny-phi-2-siglip"]
    assert network_problem(ids) is None


def test_text_audio_text_cycle_is_valid() -> None:
    ids = [first_of("text", "audio"), first_of("audio", "text")]
    assert ids == ["musicgen", "gemini-audio-description"]
    assert network_problem(ids) is None


def test_text_image_audio_is_not_a_cycle() -> None:
    ids = [first_of("text", "image"), first_of("image", "audio")]
    assert network_problem(ids) == (
        "Network doesn't form a valid cycle: Dummy Image-to-Audio output (audio)"
        f" doesn't match {SD} input (text)"
    )


def test_complex_text_cycle_is_valid() -> None:
    text_models = [m.id for m in all_models() if m.input_type == m.output_type == "text"][:3]
    assert len(text_models) == 3
    assert network_problem(text_models) is None


def test_multiple_violations_put_the_cycle_error_first() -> None:
    assert network_problem(["stable-diffusion", "gpt-5-chat", "stable-diffusion"]) == (
        f"Network doesn't form a valid cycle: {SD} output (image) doesn't match {SD} input (text), "
        f"{SD} output (image) does not match GPT-5 Chat input (text)"
    )


def test_sequential_errors_follow_network_order_after_the_cycle_error() -> None:
    assert network_problem(["dummy-i2i", "dummy-t2a", "dummy-t2t"]) == ", ".join(
        [
            "Network doesn't form a valid cycle: Dummy Text-to-Text output (text)"
            " doesn't match Dummy Image-to-Image input (image)",
            "Initial input output (text) does not match Dummy Image-to-Image input (image)",
            "Dummy Image-to-Image output (image) does not match Dummy Text-to-Audio input (text)",
            "Dummy Text-to-Audio output (audio) does not match Dummy Text-to-Text input (text)",
        ]
    )


def test_first_model_must_take_text() -> None:
    non_text_input = next(m for m in all_models() if m.input_type != "text")
    assert non_text_input.id == "gemini-audio-description"
    name = non_text_input.name
    assert network_problem([non_text_input.id]) == (
        f"Network doesn't form a valid cycle: {name} output (text) doesn't match {name} input"
        f" (audio), Initial input output (text) does not match {name} input (audio)"
    )


def test_first_model_must_take_text_even_when_the_cycle_closes() -> None:
    # image -> image closes on itself; only the initial-input rule fails.
    assert network_problem(["dummy-i2i"]) == (
        "Initial input output (text) does not match Dummy Image-to-Image input (image)"
    )
    assert network_problem(["bunny-phi-2-siglip", "stable-diffusion"]) == (
        "Initial input output (text) does not match Bunny Phi 2 SigLIP input (image)"
    )


def test_unknown_model_is_reported_by_id() -> None:
    assert network_problem(["invalid-model-id"]) == (
        "Network contains models that no longer exist: invalid-model-id"
    )


def test_unknown_models_are_listed_in_order_and_trump_other_errors() -> None:
    assert network_problem(["dummy-i2i", "gpt-4o", "gpt-5-chat", "vestaboard-panic-1"]) == (
        "Network contains models that no longer exist: gpt-4o, vestaboard-panic-1"
    )


def test_every_text_to_text_model_cycles_alone_and_doubled() -> None:
    text_models = [m.id for m in all_models() if m.input_type == m.output_type == "text"]
    assert "gpt-5-chat" in text_models
    for model_id in text_models:
        assert network_problem([model_id]) is None
        assert network_problem([model_id, model_id]) is None


@pytest.mark.parametrize("model_id", [m.id for m in all_models()])
def test_single_model_cycles_iff_text_in_and_text_out(model_id: str) -> None:
    model = get_model(model_id)
    ok = model.input_type == "text" and model.output_type == "text"
    assert (network_problem([model_id]) is None) is ok


# --- network_test.exs / network_model_integration_test.exs -----------------------------------


def test_update_models_example_and_its_reverse() -> None:
    assert network_problem(["stable-diffusion", "bunny-phi-2-siglip"]) is None
    assert network_problem(["bunny-phi-2-siglip", "stable-diffusion"]) is not None


def test_check_network_accepts_a_valid_text_cycle() -> None:
    check_network(["dummy-t2t"])
    check_network(("dummy-t2t", "gpt-5-chat"))


def test_check_network_rejects_a_bad_chain_with_the_reason() -> None:
    with pytest.raises(InvalidNetwork) as info:
        check_network(["dummy-t2i", "dummy-t2t"])
    assert info.value.field == "models"
    assert info.value.message == (
        "Dummy Text-to-Image output (image) does not match Dummy Text-to-Text input (text)"
    )
    assert str(info.value) == info.value.message
    assert isinstance(info.value, InvalidInput)


def test_check_network_rejects_a_chain_that_does_not_close() -> None:
    with pytest.raises(InvalidNetwork, match=r"^Network doesn't form a valid cycle: ") as info:
        check_network(["dummy-t2i", "dummy-i2i"])
    assert info.value.message == (
        "Network doesn't form a valid cycle: Dummy Image-to-Image output (image)"
        " doesn't match Dummy Text-to-Image input (text)"
    )


def test_check_network_rejects_empty() -> None:
    with pytest.raises(InvalidNetwork, match=r"^network must contain at least one model$"):
        check_network([])


def test_check_network_rejects_unknown_ids() -> None:
    with pytest.raises(InvalidNetwork, match=r"no longer exist: nope$"):
        check_network(["dummy-t2t", "nope"])


def test_order_matters() -> None:
    assert network_problem(["dummy-t2i", "dummy-i2t"]) is None
    assert network_problem(["dummy-i2t", "dummy-t2i"]) is not None


def test_multi_type_cycle() -> None:
    check_network(["dummy-t2i", "dummy-i2a", "dummy-a2i", "dummy-i2t"])
    check_network(["dummy-t2a", "dummy-a2a", "dummy-a2t", "dummy-t2t"])


def test_identical_model_repetition() -> None:
    check_network(["dummy-t2t"] * 5)
    check_network(["dummy-t2i", "dummy-i2t"] * 3)


def test_deprecated_models_still_validate() -> None:
    check_network(["flux-schnell", "blip-2", "meta-llama-3-8b-songifier"])


# --- property: valid iff every hop (initial text, neighbours, wrap-around) matches -----------

ALL_IDS = [m.id for m in all_models()]


@given(st.lists(st.sampled_from(ALL_IDS), min_size=1, max_size=8))
def test_valid_iff_every_hop_matches(ids: list[str]) -> None:
    models = [get_model(i) for i in ids]
    outputs = ["text", *(m.output_type for m in models)]
    sequential_ok = all(out == m.input_type for out, m in zip(outputs, models, strict=False))
    closes = models[-1].output_type == models[0].input_type
    problem = network_problem(ids)
    assert (problem is None) is (sequential_ok and closes)
    if problem is not None:
        assert problem.startswith("Network doesn't form a valid cycle: ") is not closes


# --- compatible_next (the cycle editor's "Add model..." options) -----------------------------


def test_compatible_next_for_an_empty_draft_is_text_input_models() -> None:
    options = compatible_next([])
    assert options
    assert all(m.input_type == "text" and not m.deprecated for m in options)
    ids = {m.id for m in options}
    assert {"gpt-5-chat", "stable-diffusion", "lyria-2", "dummy-t2t", "dummy-t2a"} <= ids
    assert "flux-schnell" not in ids  # deprecated
    assert "whisper" not in ids  # audio input


def test_compatible_next_follows_the_last_output_type() -> None:
    options = compatible_next(["dummy-t2t", "dummy-t2i"])
    ids = [m.id for m in options]
    assert ids == [m.id for m in all_models(include_deprecated=False) if m.input_type == "image"]
    assert "moondream2" in ids
    assert "dummy-i2i" in ids
    assert "bunny-phi-2-siglip" not in ids  # deprecated image->text


def test_compatible_next_after_audio() -> None:
    ids = {m.id for m in compatible_next(["musicgen"])}
    assert ids == {
        "gemini-audio-description",
        "gemini-audio-description-pro",
        "whisper",
        "dummy-a2t",
        "dummy-a2i",
        "dummy-a2a",
    }


def test_compatible_next_skips_unknown_ids() -> None:
    assert compatible_next(["dummy-t2a", "gone-model"]) == compatible_next(["dummy-t2a"])
    assert compatible_next(["gone-model"]) == compatible_next([])
