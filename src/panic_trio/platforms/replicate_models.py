"""Per-model request inputs and output parsers for Replicate, keyed by model id.

Each hosted model wants its own ``input`` map and returns its own output shape
(a string, a list of URLs, a streamed token list, a dict...). Keeping both
halves here, as data next to each other, lets the Replicate client stay
generic and lets tests check every model's request and parse in one sweep.

Parsers raise :class:`OutputShapeError` for a shape they do not know; the
client turns that into ``PlatformRejected("unexpected output from <model>: …")``
instead of crashing, the way the original's pattern matches did.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

CAPTION_PROMPT: Final = (
    "Provide an interesting, concise caption for this image. "
    "Describe foreground and background elements."
)
SONGIFIER_TEMPLATE: Final = (
    "You are an expert music producer with skills in an extremely wide range of musical "
    "genres and styles.\n"
    "Interpret the following text as the design brief for a song, and reply with a one-sentence\n"
    "description of the song. You may include details like bpm, instrumentation, genre/feel, but\n"
    'reply only with the one-sentence description (do not say "Certainly", or "Here is the '
    'description"\n'
    "or anything other than the song description itself).\n"
    "\n"
    "{input}\n"
)
RIFFUSION_SEED_IMAGES: Final = ("agile", "marim", "motorway", "og_beat", "vibes")
FLUX_SCHNELL_PATH: Final = "black-forest-labs/flux-schnell"
WIDE: Final[Mapping[str, Any]] = {"width": 1024, "height": 576}


class OutputShapeError(ValueError):
    """A model's output did not have the shape its parser expects."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """Run a prediction with this ``input``; ``path`` overrides the model's path."""

    input: Mapping[str, Any]
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Passthrough:
    """Make no API call; the invocation's output is ``output``."""

    output: str


Build = Callable[[str], Prediction | Passthrough]
Parse = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """How to call one model: ``build`` the request from the input text, ``parse`` its output."""

    build: Build
    parse: Parse


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


# -- parsers ----------------------------------------------------------------


def parse_text(output: Any) -> str:
    """A plain string output, trimmed."""
    if isinstance(output, str):
        return output.strip()
    raise OutputShapeError(f"expected a string, got {_describe(output)}")


def parse_joined(output: Any) -> str:
    """A streamed list of tokens joined with no separator (a string passes too)."""
    if isinstance(output, list) and all(isinstance(part, str) for part in output):
        return "".join(output).strip()
    if isinstance(output, str):
        return output.strip()
    raise OutputShapeError(f"expected a list of text tokens, got {_describe(output)}")


def parse_molmo(output: Any) -> str:
    """Molmo wraps its answer in stray double quotes."""
    return parse_text(output).strip('"').strip()


def parse_url(output: Any) -> str:
    """A media URL given as a string or as the first item of a list."""
    if isinstance(output, list) and output:
        output = output[0]
    if isinstance(output, str) and output.strip():
        return output.strip()
    raise OutputShapeError(f"expected a URL or a list of URLs, got {_describe(output)}")


def parse_key(key: str) -> Parse:
    """A parser for outputs shaped ``{key: "<string>"}``."""

    def parse(output: Any) -> str:
        if isinstance(output, dict) and isinstance(output.get(key), str):
            return str(output[key]).strip()
        raise OutputShapeError(f"expected an object with a {key!r} string, got {_describe(output)}")

    return parse


def parse_florence(output: Any) -> str:
    """Florence returns ``{"text": "{'<DETAILED_CAPTION>': '...'}"}``: a Python repr, not JSON.

    The original rewrote single quotes with a regex and failed on captions
    containing an apostrophe (Python then quotes the value with ``"``);
    ``ast.literal_eval`` reads every repr form and evaluates literals only.
    """
    if not (isinstance(output, dict) and isinstance(output.get("text"), str)):
        raise OutputShapeError(f"expected an object with a 'text' string, got {_describe(output)}")
    text = output["text"]
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise OutputShapeError(f"could not read the caption in {_describe(text)}") from None
    if isinstance(data, dict):
        for key in ("<DETAILED_CAPTION>", "DETAILED_CAPTION"):
            caption = data.get(key)
            if isinstance(caption, str):
                return caption.strip()
    raise OutputShapeError(f"no DETAILED_CAPTION in {_describe(text)}")


# -- request builders -------------------------------------------------------


def _with(key: str, **params: Any) -> Build:
    """A builder putting the input text under ``key`` next to fixed ``params``."""

    def build(text: str) -> Prediction:
        return Prediction({key: text, **params})

    return build


def _songifier(text: str) -> Prediction:
    return Prediction({"prompt": SONGIFIER_TEMPLATE.format(input=text)})


def _riffusion(text: str) -> Prediction:
    # The original picked a random seed image per call; so do we.
    seed = random.choice(RIFFUSION_SEED_IMAGES)
    return Prediction({"prompt_a": text, "alpha": 0, "seed_image_id": seed})


def _image_reproducer_i(text: str) -> Prediction:
    # An image URL is reproduced by kontext-dev; text falls back to flux-schnell.
    if text.startswith("http"):
        return Prediction(
            {
                "prompt": "reproduce this image exactly",
                "input_image": text,
                "guidance": 2.5,
                "num_inference_steps": 30,
                "output_format": "png",
                "aspect_ratio": "16:9",
            }
        )
    return Prediction(
        {
            "prompt": text,
            "output_format": "png",
            "aspect_ratio": "16:9",
            "disable_safety_checker": True,
        },
        path=FLUX_SCHNELL_PATH,
    )


def _image_reproducer_ii(text: str) -> Passthrough:
    return Passthrough(text)


_QUESTION_MOONDREAM: Final = (
    "Provide a very short description of this picture, including both foreground and "
    "background elements, and the (artistic) style of the image."
)
_QUESTION_BLIP2: Final = (
    "Describe this picture in detail, including both foreground and background elements, "
    "and the (artistic) style of the image."
)
_QUESTION_BLIP3: Final = (
    "What is shown in the image, and what (artistic) style does the image represent?"
)
_WIDE_16_9: Final = {"aspect_ratio": "16:9"}

MODEL_SPECS: Final[Mapping[str, ModelSpec]] = {
    # image → text
    "bunny-phi-2-siglip": ModelSpec(
        _with("image", prompt=CAPTION_PROMPT, max_new_tokens=50), parse_text
    ),
    "florence-2-large": ModelSpec(_with("image", task_input="Detailed Caption"), parse_florence),
    "uform-gen": ModelSpec(_with("image", prompt="Describe the image in great detail"), parse_text),
    "molmo-7b": ModelSpec(
        _with("image", text="What do you see? Give me a detailed answer", max_new_tokens=100),
        parse_molmo,
    ),
    "moondream2": ModelSpec(_with("image", question=_QUESTION_MOONDREAM), parse_joined),
    "blip-2": ModelSpec(_with("image", question=_QUESTION_BLIP2), parse_text),
    "blip-3": ModelSpec(_with("image", question=_QUESTION_BLIP3), parse_text),
    "llava-13b": ModelSpec(
        _with("image", prompt=CAPTION_PROMPT, max_tokens=100, temperature=0.2), parse_joined
    ),
    "qwen2-vl-7b-instruct": ModelSpec(_with("media", prompt=CAPTION_PROMPT), parse_text),
    "llama-4-scout-instruct": ModelSpec(
        _with("image", prompt=CAPTION_PROMPT, max_tokens=100), parse_joined
    ),
    "claude-4-sonnet-caption": ModelSpec(
        _with("image", prompt="describe this image in one sentence", max_image_resolution=0.5),
        parse_joined,
    ),
    "image-reproducer-ii-flux": ModelSpec(_image_reproducer_ii, parse_text),
    # text → image
    "stable-diffusion": ModelSpec(
        _with("prompt", aspect_ratio="16:9", output_format="png"), parse_url
    ),
    "flux-schnell": ModelSpec(
        _with("prompt", output_format="png", aspect_ratio="16:9", disable_safety_checker=True),
        parse_url,
    ),
    "sdxl": ModelSpec(
        _with("prompt", num_inference_steps=50, guidance_scale=7.5, **WIDE), parse_url
    ),
    "icons": ModelSpec(_with("prompt", guidance_scale=7.5, **WIDE), parse_url),
    "sticker-maker": ModelSpec(_with("prompt", output_format="png", **WIDE), parse_url),
    "sdxl-lightning-4step": ModelSpec(_with("prompt", **WIDE), parse_url),
    "kandinsky-2.2": ModelSpec(_with("prompt", **WIDE), parse_url),
    "proteus-v0.2": ModelSpec(
        _with("prompt", **WIDE, apply_watermark=False, disable_safety_checker=True), parse_url
    ),
    "imagen-4-fast": ModelSpec(
        _with("prompt", **_WIDE_16_9, safety_filter_level="block_only_high"), parse_url
    ),
    "photon-flash": ModelSpec(_with("prompt", **_WIDE_16_9), parse_url),
    "seedream-3": ModelSpec(
        _with("prompt", **_WIDE_16_9, size="big", guidance_scale=2.5), parse_url
    ),
    "flux-2-klein-4b": ModelSpec(_with("prompt", **_WIDE_16_9, output_format="png"), parse_url),
    "seedream-4.5": ModelSpec(
        _with("prompt", **_WIDE_16_9, size="2K", guidance_scale=2.5), parse_url
    ),
    "z-image-turbo": ModelSpec(_with("prompt", **_WIDE_16_9), parse_url),
    "dreamina-3.1": ModelSpec(
        _with("prompt", **_WIDE_16_9, resolution="2K", enhance_prompt=False), parse_url
    ),
    "ideogram-v3-turbo": ModelSpec(_with("prompt", **_WIDE_16_9), parse_url),
    "image-reproducer-i-flux": ModelSpec(_image_reproducer_i, parse_url),
    # text → text
    "claude-4-sonnet": ModelSpec(_with("prompt"), parse_joined),
    "meta-llama-3-8b-instruct": ModelSpec(_with("prompt"), parse_joined),
    "meta-llama-3-8b-songifier": ModelSpec(_songifier, parse_joined),
    # text → audio
    "musicgen": ModelSpec(
        _with("prompt", duration=8, top_k=1000, temperature=1.1, output_format="mp3"), parse_url
    ),
    "magnet": ModelSpec(
        _with("prompt", model="facebook/magnet-medium-10secs", variations=1), parse_url
    ),
    "flux-music": ModelSpec(_with("prompt", model_version="base", steps=50), parse_key("wav")),
    "riffusion": ModelSpec(_riffusion, parse_key("audio")),
    "lyria-2": ModelSpec(_with("prompt"), parse_url),
    # audio → text
    "whisper": ModelSpec(
        _with(
            "audio",
            transcription="plain text",
            condition_on_previous_text=False,
            no_speech_threshold=1.0,
        ),
        parse_key("transcription"),
    ),
}
"""Every Replicate model of the catalog, deprecated ones included (old networks still run)."""
