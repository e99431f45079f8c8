"""Media conversion for the archive: images to WebP, audio to MP3.

Formats are recognised by their magic bytes, never by URL extensions (many
provider URLs have none). Images go through Pillow (WebP quality 80, method 4:
a good size for 1/3 of method 6's time); audio through ``lameenc``, a wheel
that bundles LAME, so archiving needs no system ffmpeg. WAV is decoded with
the standard library; MP3 and WebP are kept as they are. OGG and FLAC need a
decoder we do not bundle: they are decoded by ``ffmpeg`` when it is on the
``PATH`` and otherwise fail with a clear :class:`ArchiveError`.

The ``*_to_*`` functions are synchronous and CPU-bound: callers run them in a
thread seam (libwebp and LAME do not hold the event loop then).
"""

from __future__ import annotations

import io
import shutil
import sys
import wave
from array import array
from dataclasses import dataclass
from typing import Final

import lameenc
import trio
from PIL import Image, ImageOps

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ArchiveError

WEBP_QUALITY: Final = 80
WEBP_METHOD: Final = 4
MP3_BITRATE_KBPS: Final = 64
MP3_QUALITY: Final = 2  # LAME's "high quality" preset (0 best .. 9 fastest)
# What ffmpeg decodes OGG/FLAC to: raw PCM whose layout we fix, so no header parsing.
FFMPEG_RATE_HZ: Final = 44_100
FFMPEG_CHANNELS: Final = 2

_MP3_LAYER_BITS: Final = 0x06


@dataclass(frozen=True, slots=True)
class Media:
    """Bytes ready for the archive, with their content type and key extension."""

    data: bytes
    content_type: str
    extension: str


def sniff(data: bytes) -> str | None:
    """The MIME type announced by the first bytes of ``data``, or ``None``."""
    head = data[:12]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    # A bare MPEG audio frame: 11 sync bits, and a layer that is not 00 (00 is AAC's ADTS).
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & _MP3_LAYER_BITS:
        return "audio/mpeg"
    return None


async def convert(data: bytes, *, images: ThreadSeam, audio: ThreadSeam) -> Media:
    """``data`` as archive media: WebP for images, MP3 for audio.

    Raises:
        ArchiveError: the format is unknown, or the bytes do not decode.
    """
    kind = sniff(data)
    if kind == "image/webp":
        await trio.lowlevel.checkpoint()
        return Media(data, "image/webp", "webp")
    if kind == "audio/mpeg":
        await trio.lowlevel.checkpoint()
        return Media(data, "audio/mpeg", "mp3")
    if kind in ("image/png", "image/jpeg", "image/gif"):
        return await images.run(image_to_webp, data)
    if kind == "audio/wav":
        return await audio.run(wav_to_mp3, data)
    if kind in ("audio/ogg", "audio/flac"):
        pcm = await decode_with_ffmpeg(data, kind)
        return await audio.run(pcm_to_mp3, pcm, FFMPEG_RATE_HZ, FFMPEG_CHANNELS)
    raise ArchiveError(f"unsupported format (first bytes {data[:8].hex(' ')}); not archived")


def image_to_webp(data: bytes) -> Media:
    """Re-encode a PNG, JPEG or GIF as lossy WebP (animations stay animated)."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            out = io.BytesIO()
            options = {"quality": WEBP_QUALITY, "method": WEBP_METHOD}
            if getattr(opened, "is_animated", False):
                opened.save(out, "WEBP", save_all=True, **options)
            else:
                # Apply the EXIF rotation: WebP viewers would not.
                image = ImageOps.exif_transpose(opened)
                if image.mode not in ("RGB", "RGBA"):
                    image = image.convert("RGBA" if image.has_transparency_data else "RGB")
                image.save(out, "WEBP", **options)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ArchiveError(f"image conversion failed: {exc}") from exc
    return Media(out.getvalue(), "image/webp", "webp")


def wav_to_mp3(data: bytes) -> Media:
    """Encode a PCM WAV (8, 16, 24 or 32-bit integer; mono or stereo) as MP3."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ArchiveError(f"audio conversion failed: unreadable WAV ({exc})") from exc
    return pcm_to_mp3(_to_s16(frames, width), rate, channels)


def pcm_to_mp3(pcm: bytes, rate: int, channels: int) -> Media:
    """Encode little-endian signed 16-bit PCM as MP3 at 64 kb/s."""
    if channels not in (1, 2):
        raise ArchiveError(f"audio conversion failed: {channels} channels (MP3 takes 1 or 2)")
    if sys.byteorder == "big":  # lameenc wants native-endian samples
        samples = array("h", pcm)
        samples.byteswap()
        pcm = samples.tobytes()
    try:
        encoder = lameenc.Encoder()
        encoder.set_bit_rate(MP3_BITRATE_KBPS)
        encoder.set_in_sample_rate(rate)
        encoder.set_channels(channels)
        encoder.set_quality(MP3_QUALITY)
        encoded = bytes(encoder.encode(pcm)) + bytes(encoder.flush())
    except (RuntimeError, ValueError) as exc:
        raise ArchiveError(f"audio conversion failed: {exc}") from exc
    return Media(encoded, "audio/mpeg", "mp3")


def _to_s16(frames: bytes, width: int) -> bytes:
    """Little-endian samples of ``width`` bytes as 16-bit ones (keeping the top bits)."""
    if width == 2:
        return frames
    out = bytearray(len(frames) // width * 2)
    if width == 1:  # 8-bit WAV is unsigned: flip the sign bit and use it as the high byte
        out[1::2] = frames.translate(bytes((b + 128) & 0xFF for b in range(256)))
    elif width in (3, 4):
        out[0::2] = frames[width - 2 :: width]
        out[1::2] = frames[width - 1 :: width]
    else:
        raise ArchiveError(f"audio conversion failed: {width * 8}-bit samples")
    return bytes(out)


async def decode_with_ffmpeg(data: bytes, kind: str) -> bytes:
    """Decode OGG or FLAC to raw 16-bit PCM (44.1 kHz stereo) with ffmpeg.

    Raises:
        ArchiveError: ffmpeg is not installed, or it could not decode ``data``.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ArchiveError(f"cannot convert {kind} without ffmpeg (install it to archive {kind})")
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
        "-f", "s16le", "-acodec", "pcm_s16le",
        "-ar", str(FFMPEG_RATE_HZ), "-ac", str(FFMPEG_CHANNELS), "pipe:1",
    ]  # fmt: skip
    try:
        done = await trio.run_process(
            command, stdin=data, capture_stdout=True, capture_stderr=True, check=False
        )
    except OSError as exc:
        raise ArchiveError(f"cannot run ffmpeg: {exc}") from exc
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip()[-300:]
        raise ArchiveError(f"audio conversion failed: ffmpeg could not decode {kind}: {reason}")
    return bytes(done.stdout)
