"""Real media bytes for the archive tests (made in memory, deterministic)."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import wave
from array import array

import lameenc
from PIL import Image

from panic_trio.platforms.media import draw_image, synth_audio


def png(seed: str = "a red balloon") -> bytes:
    """The dummy platform's 640x360 PNG."""
    return draw_image(seed, seed)


def pillow(
    fmt: str,
    size: tuple[int, int] = (64, 48),
    mode: str = "RGB",
    colour: tuple[int, ...] | int | str = "red",
    **options: object,
) -> bytes:
    image = Image.new(mode, size, 1 if mode == "P" else colour)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def wav(*, width: int = 2, channels: int = 1, rate: int = 16_000, seconds: float = 0.5) -> bytes:
    """A 440 Hz tone as PCM WAV of the given sample width."""
    count = int(rate * seconds)
    peak = (1 << (8 * width - 1)) - 1
    frames = bytearray()
    for i in range(count):
        value = int(peak * 0.5 * math.sin(2 * math.pi * 440 * i / rate))
        sample = (
            (value + 128).to_bytes(1, "little")
            if width == 1
            else value.to_bytes(width, "little", signed=True)
        )
        frames += sample * channels
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


def dummy_wav() -> bytes:
    return synth_audio("a red balloon")


def mp3() -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(16_000)
    encoder.set_channels(1)
    pcm = array("h", [0] * 16_000).tobytes()
    return bytes(encoder.encode(pcm)) + bytes(encoder.flush())


FFMPEG = shutil.which("ffmpeg")


def _ffmpeg(codec: str, fmt: str) -> bytes:
    assert FFMPEG is not None
    done = subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0",
         "-c:a", codec, "-f", fmt, "pipe:1"],
        input=wav(), capture_output=True, check=True,
    )  # fmt: skip
    return done.stdout


def ogg() -> bytes:
    """Real Ogg Vorbis via ffmpeg when it is installed; else just an Ogg page header."""
    if FFMPEG is None:
        return b"OggS\x00\x02" + bytes(22) + b"\x01\x1evorbis"
    return _ffmpeg("libvorbis", "ogg")


def flac() -> bytes:
    return _ffmpeg("flac", "flac")
