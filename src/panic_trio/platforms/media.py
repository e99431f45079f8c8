"""Deterministic pictures and sounds for the Dummy platform.

The original Dummy platform returned URLs nobody could fetch; ours returns
real files so displays, archiving and the offline demo all work. Everything
here is pure and synchronous (callers put it behind a thread seam), and the
same seed always gives the same bytes: every choice comes from md5, never from
``random`` or the clock.
"""

from __future__ import annotations

import hashlib
import io
import math
import sys
import wave
from array import array
from collections.abc import Iterator
from typing import Final

from PIL import Image, ImageDraw, ImageFont

IMAGE_SIZE: Final = (640, 360)
SAMPLE_RATE_HZ: Final = 16_000
AUDIO_SECONDS: Final = 2.0

_BAND_HEIGHT: Final = 64
_FONT_SIZE: Final = 26
_MARGIN: Final = 20
_ELLIPSIS: Final = "..."
# A major pentatonic scale over two octaves: any run of it sounds consonant.
_PENTATONIC: Final = (0, 2, 4, 7, 9, 12, 14, 16, 19, 21)
_NOTES: Final = 8
_RING_SECONDS: Final = 0.7


class _HashBytes:
    """An endless, reproducible byte stream: md5(seed:0), md5(seed:1), ..."""

    def __init__(self, seed_text: str) -> None:
        self._bytes = self._generate(seed_text)

    @staticmethod
    def _generate(seed_text: str) -> Iterator[int]:
        block = 0
        while True:
            yield from hashlib.md5(f"{seed_text}:{block}".encode()).digest()
            block += 1

    def byte(self) -> int:
        return next(self._bytes)

    def below(self, n: int) -> int:
        """A number in ``range(n)`` (the slight modulo bias does not matter here)."""
        return (self.byte() << 8 | self.byte()) % n

    def colour(self, alpha: int = 255) -> tuple[int, int, int, int]:
        return (self.byte(), self.byte(), self.byte(), alpha)


def draw_image(seed_text: str, caption: str) -> bytes:
    """A 640x360 PNG of hash-chosen colours and shapes, with ``caption`` on a band.

    Args:
        seed_text: decides the gradient and the 6 to 12 shapes.
        caption: drawn on a translucent band at the bottom, shortened with
            "..." to fit one line.

    Returns:
        The PNG file's bytes; identical for identical arguments.
    """
    rnd = _HashBytes(seed_text)
    width, height = IMAGE_SIZE
    # A two-pixel image stretched bilinearly is a cheap vertical gradient.
    ends = Image.new("RGB", (1, 2))
    ends.putdata([rnd.colour()[:3], rnd.colour()[:3]])
    canvas = ends.resize(IMAGE_SIZE, Image.Resampling.BILINEAR).convert("RGBA")

    shapes = Image.new("RGBA", IMAGE_SIZE, (0, 0, 0, 0))
    pen = ImageDraw.Draw(shapes)
    for _ in range(6 + rnd.below(7)):
        kind = rnd.below(3)
        x, y = rnd.below(width), rnd.below(height - _BAND_HEIGHT)
        size = 20 + rnd.below(140)
        fill = rnd.colour(alpha=110 + rnd.below(120))
        if kind == 0:
            pen.ellipse((x - size, y - size, x + size, y + size), fill=fill)
        elif kind == 1:
            pen.rectangle((x - size, y - size // 2, x + size, y + size // 2), fill=fill)
        else:
            end = (rnd.below(width), rnd.below(height))
            pen.line(((x, y), end), fill=fill, width=3 + rnd.below(10))
    canvas = Image.alpha_composite(canvas, shapes)

    band = Image.new("RGBA", IMAGE_SIZE, (0, 0, 0, 0))
    pen = ImageDraw.Draw(band)
    pen.rectangle((0, height - _BAND_HEIGHT, width, height), fill=(0, 0, 0, 150))
    font = ImageFont.load_default(size=_FONT_SIZE)
    text = _fit(pen, font, " ".join(caption.split()), width - 2 * _MARGIN)
    pen.text(
        (_MARGIN, height - _BAND_HEIGHT // 2),
        text,
        font=font,
        fill=(255, 255, 255, 255),
        anchor="lm",
    )
    canvas = Image.alpha_composite(canvas, band)

    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG", optimize=False)
    return out.getvalue()


def _fit(
    pen: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    text: str,
    max_width: int,
) -> str:
    """``text`` cut (with an ellipsis) so it fits ``max_width`` pixels."""
    if pen.textlength(text, font=font) <= max_width:
        return text
    lo, hi = 0, len(text)
    # Binary search for the longest prefix that fits with the ellipsis.
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pen.textlength(text[:mid].rstrip() + _ELLIPSIS, font=font) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + _ELLIPSIS


def synth_audio(seed_text: str) -> bytes:
    """A 2 s, 16 kHz mono 16-bit WAV: a pentatonic arpeggio chosen by the hash.

    Eight plucked notes (sine plus two soft harmonics, exponential decay) ring
    into each other; the whole clip is normalised and faded at the end so it
    loops without clicks on a gallery display.

    Returns:
        The WAV file's bytes; identical for identical ``seed_text``.
    """
    rnd = _HashBytes(seed_text)
    total = int(SAMPLE_RATE_HZ * AUDIO_SECONDS)
    mix = [0.0] * total
    root = 48 + rnd.below(12)  # MIDI C3..B3
    step = total // _NOTES
    ring = int(SAMPLE_RATE_HZ * _RING_SECONDS)
    attack = SAMPLE_RATE_HZ // 100
    for n in range(_NOTES):
        midi = root + _PENTATONIC[rnd.below(len(_PENTATONIC))]
        w = 2 * math.pi * 440.0 * 2 ** ((midi - 69) / 12) / SAMPLE_RATE_HZ
        start = n * step
        for i in range(min(ring, total - start)):
            env = min(1.0, i / attack) * math.exp(-5.0 * i / SAMPLE_RATE_HZ)
            tone = math.sin(w * i) + 0.3 * math.sin(2 * w * i) + 0.12 * math.sin(3 * w * i)
            mix[start + i] += env * tone

    peak = max(abs(v) for v in mix) or 1.0
    fade = SAMPLE_RATE_HZ // 20
    samples = array("h", [0] * total)
    for i, v in enumerate(mix):
        gain = min(1.0, (total - 1 - i) / fade)
        samples[i] = int(26_000 * gain * v / peak)
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian

    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE_HZ)
        wav.writeframes(samples.tobytes())
    return out.getvalue()
