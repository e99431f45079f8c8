from __future__ import annotations

import io
import sys
import wave
from array import array

from PIL import Image

from panic_trio.platforms.media import (
    AUDIO_SECONDS,
    IMAGE_SIZE,
    SAMPLE_RATE_HZ,
    draw_image,
    synth_audio,
)


def test_draw_image_is_a_640x360_png() -> None:
    data = draw_image("hello", "a caption")
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        assert img.size == IMAGE_SIZE == (640, 360)


def test_draw_image_is_deterministic_and_seed_dependent() -> None:
    assert draw_image("hello", "cap") == draw_image("hello", "cap")
    assert draw_image("hello", "cap") != draw_image("world", "cap")
    assert draw_image("hello", "cap") != draw_image("hello", "other cap")


def _bright_pixels_in_band(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as img:
        band = img.convert("L").crop((0, 360 - 60, 640, 360))
        return sum(band.histogram()[201:])


def test_draw_image_is_colourful() -> None:
    with Image.open(io.BytesIO(draw_image("colourful", "caption"))) as img:
        colours = img.convert("RGB").getcolors(maxcolors=640 * 360)
    assert colours is not None
    assert len(colours) > 20


def test_caption_is_white_on_a_dark_band() -> None:
    # The band is 150/255 black, so nothing under it is bright except text.
    assert _bright_pixels_in_band(draw_image("seed", "")) == 0
    assert _bright_pixels_in_band(draw_image("seed", "A legible caption")) > 300


def test_draw_image_survives_long_odd_and_empty_captions() -> None:
    for caption in ["", "x" * 5000, "line\nbreaks\tand   spaces", "émoji 🎨 and 中文"]:
        with Image.open(io.BytesIO(draw_image("seed", caption))) as img:
            assert img.size == (640, 360)


def test_synth_audio_is_a_two_second_16khz_mono_wav() -> None:
    data = synth_audio("hello")
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getframerate() == SAMPLE_RATE_HZ == 16_000
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getnframes() / wav.getframerate() == AUDIO_SECONDS == 2.0
        frames = wav.readframes(wav.getnframes())
    samples = array("h", frames)
    if sys.byteorder == "big":
        samples.byteswap()
    assert max(abs(v) for v in samples) > 10_000  # audible, not silence
    assert max(abs(v) for v in samples) < 32_767  # and not clipped
    assert samples[-1] == 0  # faded out: loops without a click


def test_synth_audio_is_deterministic_and_seed_dependent() -> None:
    assert synth_audio("hello") == synth_audio("hello")
    assert synth_audio("hello") != synth_audio("world")
