"""The model catalog: the original's HEAD list (model_test.exs) plus the dummies."""

from __future__ import annotations

import dataclasses
import re

import pytest

from panic_trio.errors import NotFound
from panic_trio.models.catalog import (
    DUMMY_MODELS,
    REAL_MODELS,
    Model,
    all_models,
    find_model,
    get_model,
)

ASSERTED_DEPRECATED = {
    "bunny-phi-2-siglip",
    "uform-gen",
    "blip-2",
    "blip-3",
    "florence-2-large",
    "sdxl",
    "icons",
    "sdxl-lightning-4step",
    "kandinsky-2.2",
    "proteus-v0.2",
    "sticker-maker",
    "flux-schnell",
}
ALSO_DEPRECATED = {
    "llava-13b",
    "seedream-3",
    "meta-llama-3-8b-instruct",
    "meta-llama-3-8b-songifier",
    "musicgen",
    "riffusion",
}

# (id, name, platform, path, input, output) for every real model at HEAD, in order.
HEAD_TABLE = [
    ("gemini-audio-description", "Gemini Audio Description (Flash)", "gemini",
     "gemini-2.5-flash", "audio", "text"),
    ("gemini-audio-description-pro", "Gemini Audio Description (Pro)", "gemini",
     "gemini-2.5-pro", "audio", "text"),
    ("gpt-5-chat", "GPT-5 Chat", "openai", "gpt-5-chat-latest", "text", "text"),
    ("bunny-phi-2-siglip", "Bunny Phi 2 SigLIP", "replicate", "adirik/bunny-phi-2-siglip",
     "image", "text"),
    ("florence-2-large", "Florence 2", "replicate", "lucataco/florence-2-large", "image", "text"),
    ("uform-gen", "UForm", "replicate", "zsxkib/uform-gen", "image", "text"),
    ("molmo-7b", "Molmo 7B-D", "replicate", "zsxkib/molmo-7b", "image", "text"),
    ("moondream2", "Moondream 2", "replicate", "lucataco/moondream2", "image", "text"),
    ("blip-2", "BLIP 2", "replicate", "salesforce/blip-2", "image", "text"),
    ("blip-3", "BLIP 3", "replicate", "zsxkib/blip-3", "image", "text"),
    ("llava-13b", "LLaVA 13B", "replicate", "yorickvp/llava-13b", "image", "text"),
    ("qwen2-vl-7b-instruct", "Qwen2-VL 7B", "replicate", "lucataco/qwen2-vl-7b-instruct",
     "image", "text"),
    ("llama-4-scout-instruct", "Llama 4 Scout", "replicate", "meta/llama-4-scout-instruct",
     "image", "text"),
    ("stable-diffusion", "Stable Diffusion 3.5 Turbo", "replicate",
     "stability-ai/stable-diffusion-3.5-large-turbo", "text", "image"),
    ("flux-schnell", "FLUX.1 [schnell]", "replicate", "black-forest-labs/flux-schnell",
     "text", "image"),
    ("sdxl", "Stable Diffusion XL", "replicate", "stability-ai/sdxl", "text", "image"),
    ("icons", "SDXL Icons", "replicate", "galleri5/icons", "text", "image"),
    ("sticker-maker", "Sticker Maker", "replicate", "fofr/sticker-maker", "text", "image"),
    ("sdxl-lightning-4step", "SDXL Lightning", "replicate", "bytedance/sdxl-lightning-4step",
     "text", "image"),
    ("kandinsky-2.2", "Kandinsky 2.2", "replicate", "ai-forever/kandinsky-2.2", "text", "image"),
    ("proteus-v0.2", "Proteus v0.2", "replicate", "datacte/proteus-v0.2", "text", "image"),
    ("imagen-4-fast", "Imagen 4 Fast", "replicate", "google/imagen-4-fast", "text", "image"),
    ("photon-flash", "Luma Photon Flash", "replicate", "luma/photon-flash", "text", "image"),
    ("seedream-3", "Seedream 3", "replicate", "bytedance/seedream-3", "text", "image"),
    ("flux-2-klein-4b", "FLUX 2 Klein 4B", "replicate", "black-forest-labs/flux-2-klein-4b",
     "text", "image"),
    ("seedream-4.5", "Seedream 4.5", "replicate", "bytedance/seedream-4.5", "text", "image"),
    ("z-image-turbo", "Z-Image Turbo", "replicate", "prunaai/z-image-turbo", "text", "image"),
    ("dreamina-3.1", "Dreamina 3.1", "replicate", "bytedance/dreamina-3.1", "text", "image"),
    ("ideogram-v3-turbo", "Ideogram V3 Turbo", "replicate", "ideogram-ai/ideogram-v3-turbo",
     "text", "image"),
    ("claude-4-sonnet", "Claude 4 Sonnet", "replicate", "anthropic/claude-4-sonnet",
     "text", "text"),
    ("claude-4-sonnet-caption", "Claude 4 Sonnet Caption", "replicate",
     "anthropic/claude-4-sonnet", "image", "text"),
    ("meta-llama-3-8b-instruct", "LLaMa 8B Instruct", "replicate",
     "meta/meta-llama-3-8b-instruct", "text", "text"),
    ("meta-llama-3-8b-songifier", "LLaMa Songifier", "replicate",
     "meta/meta-llama-3-8b-instruct", "text", "text"),
    ("musicgen", "MusicGen", "replicate", "ardianfe/music-gen-fn-200e", "text", "audio"),
    ("magnet", "MAGNeT", "replicate", "lucataco/magnet", "text", "audio"),
    ("flux-music", "Flux Music", "replicate", "zsxkib/flux-music", "text", "audio"),
    ("riffusion", "Riffusion", "replicate", "riffusion/riffusion", "text", "audio"),
    ("lyria-2", "Lyria 2", "replicate", "google/lyria-2", "text", "audio"),
    ("whisper", "Whisper", "replicate", "openai/whisper", "audio", "text"),
    ("image-reproducer-i-flux", "Image Reproducer I (Flux)", "replicate",
     "black-forest-labs/flux-kontext-dev", "text", "image"),
    ("image-reproducer-ii-flux", "Image Reproducer II (Flux)", "replicate",
     "black-forest-labs/flux-kontext-dev", "image", "text"),
]  # fmt: skip

DUMMY_TABLE = [
    ("dummy-t2t", "Dummy Text-to-Text", "text", "text", "dummy/text-to-text"),
    ("dummy-t2i", "Dummy Text-to-Image", "text", "image", "dummy/text-to-image"),
    ("dummy-t2a", "Dummy Text-to-Audio", "text", "audio", "dummy/text-to-audio"),
    ("dummy-i2t", "Dummy Image-to-Text", "image", "text", "dummy/image-to-text"),
    ("dummy-i2i", "Dummy Image-to-Image", "image", "image", "dummy/image-to-image"),
    ("dummy-i2a", "Dummy Image-to-Audio", "image", "audio", "dummy/image-to-audio"),
    ("dummy-a2t", "Dummy Audio-to-Text", "audio", "text", "dummy/audio-to-text"),
    ("dummy-a2i", "Dummy Audio-to-Image", "audio", "image", "dummy/audio-to-image"),
    ("dummy-a2a", "Dummy Audio-to-Audio", "audio", "audio", "dummy/audio-to-audio"),
]


def test_real_models_match_the_head_table_row_for_row() -> None:
    rows = [(m.id, m.name, m.platform, m.path, m.input_type, m.output_type) for m in REAL_MODELS]
    assert rows == HEAD_TABLE
    assert len(REAL_MODELS) == 41


def test_all_models_is_real_then_dummy() -> None:
    assert all_models() == REAL_MODELS + DUMMY_MODELS
    assert len(all_models()) == 50


def test_model_ids_are_unique() -> None:
    ids = [m.id for m in all_models()]
    assert len(ids) == len(set(ids))


def test_platforms_are_the_four_lowercase_names() -> None:
    assert {m.platform for m in all_models()} == {"openai", "replicate", "gemini", "dummy"}


def test_filter_by_platform() -> None:
    openai = [m.id for m in all_models() if m.platform == "openai"]
    gemini = [m.id for m in all_models() if m.platform == "gemini"]
    assert openai == ["gpt-5-chat"]
    assert gemini == ["gemini-audio-description", "gemini-audio-description-pro"]
    assert all(m.platform == "dummy" for m in DUMMY_MODELS)


def test_filter_by_input_type() -> None:
    audio_in = {m.id for m in REAL_MODELS if m.input_type == "audio"}
    assert audio_in == {"gemini-audio-description", "gemini-audio-description-pro", "whisper"}


def test_deprecated_set_is_exactly_the_eighteen() -> None:
    deprecated = {m.id for m in REAL_MODELS if m.deprecated}
    assert deprecated == ASSERTED_DEPRECATED | ALSO_DEPRECATED
    assert len(deprecated) == 18
    assert not any(m.deprecated for m in DUMMY_MODELS)


@pytest.mark.parametrize("model_id", sorted(ASSERTED_DEPRECATED | ALSO_DEPRECATED))
def test_deprecated_models_still_resolve(model_id: str) -> None:
    assert any(m.id == model_id for m in all_models())
    assert get_model(model_id).deprecated is True
    found = find_model(model_id)
    assert found is not None
    assert found.deprecated is True


def test_deprecated_models_are_excluded_when_asked() -> None:
    current = all_models(include_deprecated=False)
    assert len(current) == 50 - 18
    assert not any(m.deprecated for m in current)
    assert {m.id for m in current}.isdisjoint(ASSERTED_DEPRECATED | ALSO_DEPRECATED)
    # order is preserved: it is a filter, not a re-sort
    assert current == tuple(m for m in all_models() if not m.deprecated)


def test_non_deprecated_models_say_so() -> None:
    for model_id in ("gpt-5-chat", "stable-diffusion", "dummy-t2t", "moondream2", "lyria-2"):
        assert get_model(model_id).deprecated is False


@pytest.mark.parametrize("model_id", ["flux-2-klein-4b", "seedream-4.5", "z-image-turbo"])
def test_new_t2i_models_have_correct_types(model_id: str) -> None:
    model = get_model(model_id)
    assert (model.input_type, model.output_type) == ("text", "image")
    assert model.deprecated is False


@pytest.mark.parametrize("model_id", ["qwen2-vl-7b-instruct", "llama-4-scout-instruct"])
def test_new_i2t_models_have_correct_types(model_id: str) -> None:
    model = get_model(model_id)
    assert (model.input_type, model.output_type) == ("image", "text")
    assert model.deprecated is False


def test_get_model_retrieves_by_id() -> None:
    model = get_model("gpt-5-chat")
    assert model.name == "GPT-5 Chat"
    assert model.platform == "openai"
    assert model.path == "gpt-5-chat-latest"


def test_get_model_raises_not_found_for_unknown_id() -> None:
    with pytest.raises(NotFound, match="no model found with id nonexistent-model"):
        get_model("nonexistent-model")


def test_find_model_retrieves_by_id() -> None:
    assert find_model("stable-diffusion") is get_model("stable-diffusion")


@pytest.mark.parametrize("model_id", ["nonexistent-model", "", "GPT-5-CHAT", "vestaboard-panic-1"])
def test_find_model_returns_none_for_unknown_id(model_id: str) -> None:
    assert find_model(model_id) is None


def test_model_urls_per_platform() -> None:
    assert get_model("dummy-t2t").url == "/about#dummy-models"  # the about page explains them
    assert (
        get_model("gpt-5-chat").url == "https://platform.openai.com/docs/models/gpt-5-chat-latest"
    )
    assert get_model("gemini-audio-description").url == (
        "https://ai.google.dev/gemini-api/docs/models#gemini-2.5-flash"
    )
    assert get_model("whisper").url == "https://replicate.com/openai/whisper"
    assert get_model("stable-diffusion").url == (
        "https://replicate.com/stability-ai/stable-diffusion-3.5-large-turbo"
    )


def test_model_url_for_an_unknown_platform_is_inert() -> None:
    odd = Model("x", "X", "vestaboard", "panic_1", "text", "text")
    assert odd.url == "#"


def test_exactly_nine_dummy_models_with_the_documented_shape() -> None:
    rows = [(m.id, m.name, m.input_type, m.output_type, m.path) for m in DUMMY_MODELS]
    assert rows == DUMMY_TABLE
    for model in DUMMY_MODELS:
        assert re.match(r"^dummy/", model.path)
        assert "Dummy model for testing" in model.description
    pairs = {(m.input_type, m.output_type) for m in DUMMY_MODELS}
    assert len(pairs) == 9


def test_models_are_immutable() -> None:
    model = get_model("gpt-5-chat")
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.name = "changed"  # type: ignore[misc]


def test_contract_fields_exist() -> None:
    names = [f.name for f in dataclasses.fields(Model)]
    assert names[:7] == [
        "id",
        "name",
        "platform",
        "path",
        "input_type",
        "output_type",
        "deprecated",
    ]
