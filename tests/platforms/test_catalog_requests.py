"""Every hosted catalog model, driven once through its platform's fake server.

For each model the test checks the exact request body the platform sent and
the output it parsed from a realistic provider response. A catalog model with
no expectation here fails, so a new model cannot ship without its request and
parse being written down.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio

from panic_trio.models import Model, all_models
from panic_trio.platforms.gemini import AUDIO_PROMPT, GeminiPlatform
from panic_trio.platforms.openai import SYSTEM_PROMPT, OpenAIPlatform
from panic_trio.platforms.replicate import ReplicatePlatform
from panic_trio.platforms.replicate_models import MODEL_SPECS, OutputShapeError, parse_florence
from tests.fakes import gemini as fake_gemini
from tests.fakes import openai as fake_openai
from tests.fakes import replicate as fake_replicate
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate
from tests.platforms.conftest import (
    FAST_POLL,
    FAST_RETRY,
    GUARD_SECONDS,
    make_call,
    platform_settings,
)

IMG = "https://replicate.delivery/fake/input.png"
AUD = "https://replicate.delivery/fake/input.mp3"
TEXT = "a red balloon over the sea"
OUT_IMG = "https://replicate.delivery/fake/output.png"
OUT_AUD = "https://replicate.delivery/fake/output.mp3"
CAP = (
    "Provide an interesting, concise caption for this image. "
    "Describe foreground and background elements."
)
WIDE = {"width": 1024, "height": 576}
AR = {"aspect_ratio": "16:9"}
SEEDS = {"agile", "marim", "motorway", "og_beat", "vibes"}
SONG = (
    "You are an expert music producer with skills in an extremely wide range of musical genres "
    "and styles.\nInterpret the following text as the design brief for a song, and reply with a "
    "one-sentence\ndescription of the song. You may include details like bpm, instrumentation, "
    'genre/feel, but\nreply only with the one-sentence description (do not say "Certainly", or '
    '"Here is the description"\nor anything other than the song description itself).\n\n'
    f"{TEXT}\n"
)


@dataclass(frozen=True)
class Case:
    """One model call: what goes in, what must be sent, what comes back, what it parses to."""

    text: str
    sent: dict[str, Any] | None  # the Replicate ``input`` (None: no API call)
    output: Any
    parsed: str
    path: str | None = None  # the path called when it is not the model's own


def image(
    extra: dict[str, Any], output: Any = "A cat on a mat.", parsed: str = "A cat on a mat."
) -> Case:
    return Case(IMG, {"image": IMG, **extra}, output, parsed)


def t2i(extra: dict[str, Any], output: Any = (OUT_IMG,)) -> Case:
    return Case(
        TEXT,
        {"prompt": TEXT, **extra},
        list(output) if isinstance(output, tuple) else output,
        OUT_IMG,
    )


TOKENS = ["Once ", "upon ", "a time."]

REPLICATE_CASES: dict[str, list[Case]] = {
    "bunny-phi-2-siglip": [image({"prompt": CAP, "max_new_tokens": 50})],
    "florence-2-large": [
        image(
            {"task_input": "Detailed Caption"},
            {"text": "{'<DETAILED_CAPTION>': 'The image shows a cat.'}"},
            "The image shows a cat.",
        )
    ],
    "uform-gen": [image({"prompt": "Describe the image in great detail"})],
    "molmo-7b": [
        image(
            {"text": "What do you see? Give me a detailed answer", "max_new_tokens": 100},
            ' "A dog in a hat." \n',
            "A dog in a hat.",
        )
    ],
    "moondream2": [
        image(
            {
                "question": "Provide a very short description of this picture, including both "
                "foreground and background elements, and the (artistic) style of the image."
            },
            ["A ", "small ", "dog. "],
            "A small dog.",
        )
    ],
    "blip-2": [
        image(
            {
                "question": "Describe this picture in detail, including both foreground and "
                "background elements, and the (artistic) style of the image."
            }
        )
    ],
    "blip-3": [
        image(
            {
                "question": "What is shown in the image, and what (artistic) style does the "
                "image represent?"
            }
        )
    ],
    "llava-13b": [
        image({"prompt": CAP, "max_tokens": 100, "temperature": 0.2}, TOKENS, "Once upon a time.")
    ],
    "qwen2-vl-7b-instruct": [Case(IMG, {"media": IMG, "prompt": CAP}, " A dog. ", "A dog.")],
    "llama-4-scout-instruct": [
        image({"prompt": CAP, "max_tokens": 100}, TOKENS, "Once upon a time.")
    ],
    "claude-4-sonnet-caption": [
        image(
            {"prompt": "describe this image in one sentence", "max_image_resolution": 0.5},
            TOKENS,
            "Once upon a time.",
        )
    ],
    "stable-diffusion": [t2i({**AR, "output_format": "png"})],
    "flux-schnell": [t2i({"output_format": "png", **AR, "disable_safety_checker": True})],
    "sdxl": [t2i({"num_inference_steps": 50, "guidance_scale": 7.5, **WIDE})],
    "icons": [t2i({"guidance_scale": 7.5, **WIDE})],
    "sticker-maker": [t2i({"output_format": "png", **WIDE})],
    "sdxl-lightning-4step": [t2i(WIDE)],
    "kandinsky-2.2": [t2i(WIDE)],
    "proteus-v0.2": [t2i({**WIDE, "apply_watermark": False, "disable_safety_checker": True})],
    "imagen-4-fast": [t2i({**AR, "safety_filter_level": "block_only_high"}, OUT_IMG)],
    "photon-flash": [t2i(AR, OUT_IMG), t2i(AR)],
    "seedream-3": [t2i({**AR, "size": "big", "guidance_scale": 2.5})],
    "flux-2-klein-4b": [t2i({**AR, "output_format": "png"})],
    "seedream-4.5": [t2i({**AR, "size": "2K", "guidance_scale": 2.5}, OUT_IMG)],
    "z-image-turbo": [t2i(AR)],
    "dreamina-3.1": [t2i({**AR, "resolution": "2K", "enhance_prompt": False})],
    "ideogram-v3-turbo": [t2i(AR, OUT_IMG)],
    "image-reproducer-i-flux": [
        Case(
            IMG,
            {
                "prompt": "reproduce this image exactly",
                "input_image": IMG,
                "guidance": 2.5,
                "num_inference_steps": 30,
                "output_format": "png",
                **AR,
            },
            OUT_IMG,
            OUT_IMG,
        ),
        Case(
            TEXT,
            {"prompt": TEXT, "output_format": "png", **AR, "disable_safety_checker": True},
            [OUT_IMG],
            OUT_IMG,
            path="black-forest-labs/flux-schnell",
        ),
    ],
    "image-reproducer-ii-flux": [Case(IMG, None, None, IMG)],
    "claude-4-sonnet": [Case(TEXT, {"prompt": TEXT}, TOKENS, "Once upon a time.")],
    "meta-llama-3-8b-instruct": [Case(TEXT, {"prompt": TEXT}, TOKENS, "Once upon a time.")],
    "meta-llama-3-8b-songifier": [Case(TEXT, {"prompt": SONG}, TOKENS, "Once upon a time.")],
    "musicgen": [
        Case(
            TEXT,
            {
                "prompt": TEXT,
                "duration": 8,
                "top_k": 1000,
                "temperature": 1.1,
                "output_format": "mp3",
            },
            OUT_AUD,
            OUT_AUD,
        )
    ],
    "magnet": [
        Case(
            TEXT,
            {"prompt": TEXT, "model": "facebook/magnet-medium-10secs", "variations": 1},
            [OUT_AUD],
            OUT_AUD,
        )
    ],
    "flux-music": [
        Case(
            TEXT, {"prompt": TEXT, "model_version": "base", "steps": 50}, {"wav": OUT_AUD}, OUT_AUD
        )
    ],
    "riffusion": [
        Case(
            TEXT,
            {"prompt_a": TEXT, "alpha": 0},  # plus a random seed_image_id, checked below
            {"audio": OUT_AUD, "spectrogram": OUT_IMG},
            OUT_AUD,
        )
    ],
    "lyria-2": [Case(TEXT, {"prompt": TEXT}, OUT_AUD, OUT_AUD)],
    "whisper": [
        Case(
            AUD,
            {
                "audio": AUD,
                "transcription": "plain text",
                "condition_on_previous_text": False,
                "no_speech_threshold": 1.0,
            },
            {"transcription": " hello world ", "segments": [], "detected_language": "english"},
            "hello world",
        )
    ],
}


def hosted(platform: str) -> list[Model]:
    return [m for m in all_models() if m.platform == platform]


def replicate_params() -> list[Any]:
    return [
        pytest.param(model, index, id=f"{model.id}-{index}")
        for model in hosted("replicate")
        for index in range(max(1, len(REPLICATE_CASES.get(model.id, []))))
    ]


def test_every_case_and_spec_is_a_catalog_model() -> None:
    ids = {m.id for m in hosted("replicate")}
    assert set(REPLICATE_CASES) <= ids
    assert set(MODEL_SPECS) == ids


@pytest.mark.parametrize(("model", "index"), replicate_params())
async def test_replicate_model_request_and_parse(
    replicate_fake: FakeReplicate, http_client: httpx.AsyncClient, model: Model, index: int
) -> None:
    assert model.id in REPLICATE_CASES, f"no request/parse expectation for {model.id}"
    case = REPLICATE_CASES[model.id][index]
    path = case.path or model.path
    replicate_fake.script(path, output=case.output, polls=1)
    replicate = ReplicatePlatform(
        http_client,
        platform_settings(replicate_base_url=replicate_fake.url),
        retry=FAST_RETRY,
        poll=FAST_POLL,
    )
    with trio.fail_after(GUARD_SECONDS):
        result = await replicate.invoke(make_call(model, case.text, fake_replicate.TOKEN))

    assert result.output == case.parsed
    if case.sent is None:
        assert replicate_fake.requests == []
        return
    [create] = replicate_fake.received("POST", "/predictions")
    body = create.json()
    assert body["version"] == fake_replicate.version_for(path)
    sent = dict(body["input"])
    if model.id == "riffusion":
        assert sent.pop("seed_image_id") in SEEDS
    assert sent == case.sent
    assert result.metadata["prediction_id"] in replicate_fake.predictions


@pytest.mark.parametrize("model", hosted("openai"), ids=lambda m: m.id)
async def test_openai_model_request_and_parse(
    openai_fake: FakeOpenAI, http_client: httpx.AsyncClient, model: Model
) -> None:
    openai_fake.reply = " The balloon rises. "
    openai = OpenAIPlatform(
        http_client, platform_settings(openai_base_url=openai_fake.url), retry=FAST_RETRY
    )
    with trio.fail_after(GUARD_SECONDS):
        result = await openai.invoke(make_call(model, TEXT, fake_openai.TOKEN))
    assert result.output == "The balloon rises."
    [sent] = openai_fake.received("POST", "/chat/completions")
    assert sent.json() == {
        "model": model.path,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": TEXT},
        ],
        "temperature": 1.0,
        "max_completion_tokens": 150,
    }


@pytest.mark.parametrize("model", hosted("gemini"), ids=lambda m: m.id)
async def test_gemini_model_request_and_parse(
    gemini_fake: FakeGemini, http_client: httpx.AsyncClient, model: Model
) -> None:
    gemini_fake.response = fake_gemini.reply("Rain on a tin roof, ", "with a distant bell.")
    gemini = GeminiPlatform(
        http_client, platform_settings(gemini_base_url=gemini_fake.url), retry=FAST_RETRY
    )
    url = gemini_fake.audio_url("input.ogg", "audio/ogg")
    with trio.fail_after(GUARD_SECONDS):
        result = await gemini.invoke(make_call(model, url, fake_gemini.KEY))
    assert result.output == "Rain on a tin roof, with a distant bell."
    [sent] = gemini_fake.received("POST", f"/models/{model.path}:generateContent")
    assert sent.json()["contents"] == [
        {
            "role": "user",
            "parts": [
                {
                    "inline_data": {
                        "mime_type": "audio/ogg",
                        "data": base64.b64encode(fake_gemini.AUDIO_BYTES).decode(),
                    }
                },
                {"text": AUDIO_PROMPT},
            ],
        }
    ]


def test_riffusion_picks_a_random_seed_image() -> None:
    seeds = set()
    for _ in range(60):
        request = MODEL_SPECS["riffusion"].build(TEXT)
        assert not isinstance(request, str)
        seeds.add(getattr(request, "input", {}).get("seed_image_id"))
    assert seeds <= SEEDS
    assert len(seeds) > 1


@pytest.mark.parametrize(
    ("text", "caption"),
    [
        ("{'<DETAILED_CAPTION>': 'A plain caption.'}", "A plain caption."),
        ("{'<DETAILED_CAPTION>': \"The cat's hat.\"}", "The cat's hat."),
        ("{'<DETAILED_CAPTION>': 'Say \"cheese\"\\nplease'}", 'Say "cheese"\nplease'),
        ('{"DETAILED_CAPTION": "Already JSON."}', "Already JSON."),
    ],
)
def test_florence_fix_up_reads_python_reprs(text: str, caption: str) -> None:
    assert parse_florence({"text": text}) == caption


@pytest.mark.parametrize("output", [{"text": "{'<OTHER>': 'x'}"}, {"text": "{broken"}, "plain"])
def test_florence_fix_up_failures_are_shape_errors(output: Any) -> None:
    with pytest.raises(OutputShapeError):
        parse_florence(output)
