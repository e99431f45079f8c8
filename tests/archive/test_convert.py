"""Format detection and conversion, without storage."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable

import pytest
from PIL import Image

from panic_trio.archive import convert as conv
from panic_trio.archive.convert import sniff
from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ArchiveError
from tests.archive import samples


def webp_info(data: bytes) -> tuple[str | None, tuple[int, int], str, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size, image.mode, getattr(image, "n_frames", 1)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (samples.png(), "image/png"),
        (samples.pillow("JPEG"), "image/jpeg"),
        (samples.animated_gif(), "image/gif"),
        (samples.pillow("WEBP"), "image/webp"),
        (samples.wav(), "audio/wav"),
        (samples.mp3(), "audio/mpeg"),
        (b"\xff\xfb\x90\x00" + bytes(20), "audio/mpeg"),  # a bare MPEG-1 layer III frame
        (b"\xff\xf1\x50\x80" + bytes(20), None),  # AAC ADTS is not MP3
        (samples.ogg()[:64], "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"<html><body>", None),
        (b"", None),
    ],
)
def test_formats_are_recognised_by_magic_bytes(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


def test_png_becomes_webp_of_the_same_size() -> None:
    media = conv.image_to_webp(samples.png())
    assert (media.content_type, media.extension) == ("image/webp", "webp")
    assert webp_info(media.data)[:2] == ("WEBP", (640, 360))


def test_transparency_and_palettes_survive() -> None:
    rgba = conv.image_to_webp(samples.pillow("PNG", mode="RGBA", colour=(255, 0, 0, 128)))
    palette = conv.image_to_webp(samples.pillow("PNG", mode="P"))
    grey = conv.image_to_webp(samples.pillow("PNG", mode="L"))
    assert webp_info(rgba.data)[2] == "RGBA"
    assert webp_info(palette.data)[:2] == ("WEBP", (64, 48))
    assert webp_info(grey.data)[2] == "RGB"


def test_animated_gif_stays_animated() -> None:
    assert webp_info(conv.image_to_webp(samples.animated_gif()).data)[3] == 3


def test_broken_image_is_a_clear_error() -> None:
    with pytest.raises(ArchiveError, match="image conversion failed"):
        conv.image_to_webp(samples.png()[:100])


@pytest.mark.parametrize(("width", "channels"), [(1, 1), (2, 1), (2, 2), (3, 2), (4, 1)])
def test_wav_becomes_mp3(width: int, channels: int) -> None:
    media = conv.wav_to_mp3(samples.wav(width=width, channels=channels))
    assert (media.content_type, media.extension) == ("audio/mpeg", "mp3")
    assert sniff(media.data) == "audio/mpeg"
    assert len(media.data) > 1000


def test_sample_conversion_keeps_the_high_bytes() -> None:
    # 8-bit unsigned 0x80 is silence; 24-bit 0x123456 keeps 0x1234.
    assert conv._to_s16(bytes([0x80, 0xFF, 0x00]), 1) == bytes([0, 0, 0, 0x7F, 0, 0x80])
    assert conv._to_s16(bytes([0x56, 0x34, 0x12]), 3) == bytes([0x34, 0x12])
    assert conv._to_s16(bytes([0x78, 0x56, 0x34, 0x12]), 4) == bytes([0x34, 0x12])


def test_unusual_audio_is_a_clear_error() -> None:
    with pytest.raises(ArchiveError, match="3 channels"):
        conv.wav_to_mp3(samples.wav(channels=3))
    with pytest.raises(ArchiveError, match="unreadable WAV"):
        conv.wav_to_mp3(b"RIFF\x00\x00\x00\x00WAVEjunk")


async def test_webp_and_mp3_are_kept_as_they_are() -> None:
    seam = ThreadSeam("test", 1)
    webp, mp3 = samples.pillow("WEBP"), samples.mp3()
    assert (await conv.convert(webp, images=seam, audio=seam)).data == webp
    assert (await conv.convert(mp3, images=seam, audio=seam)).data == mp3


async def test_unknown_bytes_are_refused() -> None:
    seam = ThreadSeam("test", 1)
    with pytest.raises(ArchiveError, match="unsupported format"):
        await conv.convert(b"<!doctype html>", images=seam, audio=seam)


async def test_ogg_without_ffmpeg_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    seam = ThreadSeam("test", 1)
    with pytest.raises(ArchiveError, match="cannot convert audio/ogg without ffmpeg"):
        await conv.convert(samples.ogg(), images=seam, audio=seam)


@pytest.mark.skipif(samples.FFMPEG is None, reason="needs ffmpeg")
@pytest.mark.parametrize("make", [samples.ogg, samples.flac])
async def test_ogg_and_flac_with_ffmpeg_become_mp3(make: Callable[[], bytes]) -> None:
    seam = ThreadSeam("test", 1)
    media = await conv.convert(make(), images=seam, audio=seam)
    assert media.content_type == "audio/mpeg"
    assert sniff(media.data) == "audio/mpeg"


@pytest.mark.skipif(samples.FFMPEG is None, reason="needs ffmpeg")
async def test_undecodable_ogg_is_a_clear_error() -> None:
    seam = ThreadSeam("test", 1)
    with pytest.raises(ArchiveError, match="ffmpeg could not decode audio/ogg"):
        await conv.convert(b"OggS" + bytes(60), images=seam, audio=seam)
