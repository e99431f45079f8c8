"""Every model panic_trio knows: the original's current list plus nine dummies.

Deprecated models still resolve (old networks keep working) but pickers hide
them. Request parameters and output parsing live with each platform; this
module holds identity and types only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from panic_trio.errors import NotFound
from panic_trio.models.platform_records import platform_record

MediaType = Literal["text", "image", "audio"]


@dataclass(frozen=True, slots=True)
class Model:
    """One hosted (or dummy) model: what it eats and what it makes."""

    id: str
    name: str
    platform: str
    path: str
    input_type: MediaType
    output_type: MediaType
    deprecated: bool = False
    description: str = ""

    @property
    def paid(self) -> bool:
        """True when a call is billed to the owner's provider account (it needs a token)."""
        record = platform_record(self.platform)
        return record is not None and record.paid

    @property
    def url(self) -> str:
        """Where a person can read about the model."""
        record = platform_record(self.platform)
        return "#" if record is None else record.docs_url.format(path=self.path)


_TYPE_WORDS: Final = {"text": "Text", "image": "Image", "audio": "Audio"}
_TYPE_LETTERS: Final = {"text": "t", "image": "i", "audio": "a"}


def _dummy(input_type: MediaType, output_type: MediaType) -> Model:
    a, b = _TYPE_WORDS[input_type], _TYPE_WORDS[output_type]
    return Model(
        id=f"dummy-{_TYPE_LETTERS[input_type]}2{_TYPE_LETTERS[output_type]}",
        name=f"Dummy {a}-to-{b}",
        platform="dummy",
        path=f"dummy/{input_type}-to-{output_type}",
        input_type=input_type,
        output_type=output_type,
        description=(
            f"Dummy model for testing: {input_type} to {output_type}, offline and deterministic"
        ),
    )


_TYPES: Final[tuple[MediaType, ...]] = ("text", "image", "audio")
DUMMY_MODELS: Final = tuple(_dummy(i, o) for i in _TYPES for o in _TYPES)

_IO = tuple[MediaType, MediaType]
_T2T: Final[_IO] = ("text", "text")
_T2I: Final[_IO] = ("text", "image")
_T2A: Final[_IO] = ("text", "audio")
_I2T: Final[_IO] = ("image", "text")
_A2T: Final[_IO] = ("audio", "text")


def _m(
    model_id: str,
    name: str,
    platform: str,
    path: str,
    io: _IO,
    *,
    dep: bool = False,
    desc: str = "",
) -> Model:
    return Model(model_id, name, platform, path, *io, deprecated=dep, description=desc)


def _r(model_id: str, name: str, path: str, io: _IO, *, dep: bool = False, desc: str = "") -> Model:
    return _m(model_id, name, "replicate", path, io, dep=dep, desc=desc)


# The original's HEAD list, in its order. Deprecated rows stay so old networks still resolve.
REAL_MODELS: Final[tuple[Model, ...]] = (
    _m(
        "gemini-audio-description",
        "Gemini Audio Description (Flash)",
        "gemini",
        "gemini-2.5-flash",
        _A2T,
        desc="Describes a piece of music and the vibe it evokes",
    ),
    _m(
        "gemini-audio-description-pro",
        "Gemini Audio Description (Pro)",
        "gemini",
        "gemini-2.5-pro",
        _A2T,
        desc="Describes a piece of music and the vibe it evokes",
    ),
    _m("gpt-5-chat", "GPT-5 Chat", "openai", "gpt-5-chat-latest", _T2T),
    _r("bunny-phi-2-siglip", "Bunny Phi 2 SigLIP", "adirik/bunny-phi-2-siglip", _I2T, dep=True),
    _r("florence-2-large", "Florence 2", "lucataco/florence-2-large", _I2T, dep=True),
    _r("uform-gen", "UForm", "zsxkib/uform-gen", _I2T, dep=True),
    _r("molmo-7b", "Molmo 7B-D", "zsxkib/molmo-7b", _I2T),
    _r("moondream2", "Moondream 2", "lucataco/moondream2", _I2T),
    _r("blip-2", "BLIP 2", "salesforce/blip-2", _I2T, dep=True),
    _r("blip-3", "BLIP 3", "zsxkib/blip-3", _I2T, dep=True),
    _r("llava-13b", "LLaVA 13B", "yorickvp/llava-13b", _I2T, dep=True),
    _r("qwen2-vl-7b-instruct", "Qwen2-VL 7B", "lucataco/qwen2-vl-7b-instruct", _I2T),
    _r("llama-4-scout-instruct", "Llama 4 Scout", "meta/llama-4-scout-instruct", _I2T),
    _r(
        "stable-diffusion",
        "Stable Diffusion 3.5 Turbo",
        "stability-ai/stable-diffusion-3.5-large-turbo",
        _T2I,
    ),
    _r("flux-schnell", "FLUX.1 [schnell]", "black-forest-labs/flux-schnell", _T2I, dep=True),
    _r("sdxl", "Stable Diffusion XL", "stability-ai/sdxl", _T2I, dep=True),
    _r("icons", "SDXL Icons", "galleri5/icons", _T2I, dep=True),
    _r("sticker-maker", "Sticker Maker", "fofr/sticker-maker", _T2I, dep=True),
    _r("sdxl-lightning-4step", "SDXL Lightning", "bytedance/sdxl-lightning-4step", _T2I, dep=True),
    _r("kandinsky-2.2", "Kandinsky 2.2", "ai-forever/kandinsky-2.2", _T2I, dep=True),
    _r("proteus-v0.2", "Proteus v0.2", "datacte/proteus-v0.2", _T2I, dep=True),
    _r("imagen-4-fast", "Imagen 4 Fast", "google/imagen-4-fast", _T2I),
    _r("photon-flash", "Luma Photon Flash", "luma/photon-flash", _T2I),
    _r("seedream-3", "Seedream 3", "bytedance/seedream-3", _T2I, dep=True),
    _r("flux-2-klein-4b", "FLUX 2 Klein 4B", "black-forest-labs/flux-2-klein-4b", _T2I),
    _r("seedream-4.5", "Seedream 4.5", "bytedance/seedream-4.5", _T2I),
    _r("z-image-turbo", "Z-Image Turbo", "prunaai/z-image-turbo", _T2I),
    _r("dreamina-3.1", "Dreamina 3.1", "bytedance/dreamina-3.1", _T2I),
    _r("ideogram-v3-turbo", "Ideogram V3 Turbo", "ideogram-ai/ideogram-v3-turbo", _T2I),
    _r("claude-4-sonnet", "Claude 4 Sonnet", "anthropic/claude-4-sonnet", _T2T),
    _r(
        "claude-4-sonnet-caption",
        "Claude 4 Sonnet Caption",
        "anthropic/claude-4-sonnet",
        _I2T,
        desc="Claude 4 Sonnet asked to describe an image in one sentence",
    ),
    _r(
        "meta-llama-3-8b-instruct",
        "LLaMa 8B Instruct",
        "meta/meta-llama-3-8b-instruct",
        _T2T,
        dep=True,
    ),
    _r(
        "meta-llama-3-8b-songifier",
        "LLaMa Songifier",
        "meta/meta-llama-3-8b-instruct",
        _T2T,
        dep=True,
        desc="Turns any text into a one-sentence song brief",
    ),
    _r("musicgen", "MusicGen", "ardianfe/music-gen-fn-200e", _T2A, dep=True),
    _r("magnet", "MAGNeT", "lucataco/magnet", _T2A),
    _r("flux-music", "Flux Music", "zsxkib/flux-music", _T2A),
    _r("riffusion", "Riffusion", "riffusion/riffusion", _T2A, dep=True),
    _r("lyria-2", "Lyria 2", "google/lyria-2", _T2A),
    _r("whisper", "Whisper", "openai/whisper", _A2T, desc="Speech-to-text transcription"),
    _r(
        "image-reproducer-i-flux",
        "Image Reproducer I (Flux)",
        "black-forest-labs/flux-kontext-dev",
        _T2I,
        desc="Reproduces an image given its URL as text; otherwise draws the prompt (FLUX)",
    ),
    _r(
        "image-reproducer-ii-flux",
        "Image Reproducer II (Flux)",
        "black-forest-labs/flux-kontext-dev",
        _I2T,
        desc="Passes the image URL on as text, no API call; pairs with Image Reproducer I",
    ),
)

_ALL: Final = REAL_MODELS + DUMMY_MODELS
_BY_ID: Final = {m.id: m for m in _ALL}
if len(_BY_ID) != len(_ALL):  # a duplicate id would silently shadow a model
    raise AssertionError("model ids must be unique")


def _check_platforms(models: tuple[Model, ...]) -> None:
    """Every model names a described platform that serves models (else it could never run)."""
    for model in models:
        record = platform_record(model.platform)
        if record is None or not record.serves_models:
            raise AssertionError(f"{model.id}: {model.platform!r} is no platform that runs models")


_check_platforms(_ALL)


def all_models(*, include_deprecated: bool = True) -> tuple[Model, ...]:
    """The whole catalog, in display order.

    Pickers pass ``include_deprecated=False``; everything that resolves a stored
    network wants the deprecated rows too, so that is the default.
    """
    if include_deprecated:
        return _ALL
    return tuple(m for m in _ALL if not m.deprecated)


def find_model(model_id: str) -> Model | None:
    """The model with this id, or ``None``."""
    return _BY_ID.get(model_id)


def get_model(model_id: str) -> Model:
    """The model with this id.

    Raises:
        NotFound: no model has that id.
    """
    model = _BY_ID.get(model_id)
    if model is None:
        raise NotFound(f"no model found with id {model_id}")
    return model
