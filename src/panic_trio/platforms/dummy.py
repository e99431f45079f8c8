"""The Dummy platform: nine offline, deterministic models for tests and demos.

Outputs follow the original ``Panic.Platforms.Dummy`` exactly for text
(reversed text, hash captions, hash transcripts). Where the original returned
unreachable ``dummy-images.test`` / ``dummy-audio.test`` URLs, we return URLs
under ``<base_url>/dummy/`` and write the matching PNG or WAV into
``media_dir``, so the server can serve them and the archiver can fetch them.
Audio is WAV rather than the original's Ogg.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Final

import trio

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import PlatformError, ResourceExhausted, is_resource_exhaustion
from panic_trio.local_media import DUMMY_URL_PATH, dummy_name
from panic_trio.models import Model
from panic_trio.models.platform_records import RECORDS
from panic_trio.platforms.base import Call, Result
from panic_trio.platforms.media import draw_image, synth_audio

CALLS_KEPT: Final = 1000
RECORD: Final = RECORDS["dummy"]

_CAPTION_CHARS: Final = 80


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class DummyPlatform:
    """A :class:`~panic_trio.platforms.base.Platform` that needs no network or token.

    Output is a pure function of the model's types and the input string; only
    ``delay`` (a cancellable Trio sleep, so virtual clocks control it) makes a
    call take time. Media files are rendered once, in ``seam``'s threads, and
    reused: the name is a hash of the input, so an existing file is already
    the right one.

    Attributes:
        calls: the last ``CALLS_KEPT`` calls received, in order, appended
            before the delay so tests can count calls cancelled mid-way
            (bounded: an installation runs for weeks).
    """

    name: str = RECORD.name
    display_name: str = RECORD.display_name
    requires_token: bool = False

    def __init__(
        self, *, media_dir: Path, base_url: str, delay: float = 0.0, seam: ThreadSeam
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, not {delay}")
        self.media_dir = media_dir
        self.base_url = base_url.rstrip("/")
        self.delay = delay
        self.calls: deque[Call] = deque(maxlen=CALLS_KEPT)
        self._seam = seam
        self._prefix = self.base_url + DUMMY_URL_PATH

    async def invoke(self, call: Call) -> Result:
        """Turn ``call.input`` into the model's output type.

        Checkpoints always (``delay`` may be 0); cancellation during the delay
        aborts the call, while a media file already being written is finished.

        Raises:
            PlatformError: the model's type pair is not one Dummy knows, or
                its media file could not be written.
        """
        started = trio.current_time()
        self.calls.append(call)
        await trio.sleep(self.delay)

        model = call.model
        try:
            output = await self._output(model, call.input)
        except OSError as exc:
            error = ResourceExhausted if is_resource_exhaustion(exc) else PlatformError
            raise error(
                f"Could not write dummy media: {exc}", platform=self.name, model=model.id
            ) from exc
        latency_ms = round((trio.current_time() - started) * 1000)
        return Result(output, metadata={"latency_ms": latency_ms})

    async def _output(self, model: Model, s: str) -> str:
        kind = (model.input_type, model.output_type)
        if kind == ("text", "text"):
            return "DUMMY_TEXT: " + s[::-1]
        if kind == ("image", "text"):
            return self._caption(s)
        if kind == ("audio", "text"):
            return f"DUMMY_TRANSCRIPT: Audio content from {_md5(s)[:8]}"
        if kind == ("text", "image"):
            return await self._image(_md5(s), s[:_CAPTION_CHARS])
        if kind == ("image", "image"):
            stem = "transformed_" + _md5(s + "_transformed")
            return await self._image(stem, f"transformed {_md5(s)[:8]}")
        if kind == ("audio", "image"):
            stem = "from_audio_" + _md5(s + "_image")
            return await self._image(stem, f"from audio {_md5(s)[:8]}")
        if kind == ("text", "audio"):
            return await self._audio(_md5(s))
        if kind == ("image", "audio"):
            return await self._audio("from_image_" + _md5(s + "_audio"))
        if kind == ("audio", "audio"):
            return await self._audio("transformed_" + _md5(s + "_transformed"))
        raise PlatformError(
            f"Unsupported dummy conversion from {model.input_type} to {model.output_type}",
            platform=self.name,
            model=model.id,
        )

    def dummy_file(self, url: str) -> Path | None:
        """The file in ``media_dir`` behind one of our dummy URLs, else ``None``.

        Only ``<base_url>/dummy/<name>.png|wav`` with ``name`` made of letters,
        digits and underscores is accepted, so no URL can reach outside
        ``media_dir``. Pure string work: the file may not exist (yet).
        """
        name = dummy_name(url, self.base_url)
        return None if name is None else self.media_dir / name

    def _caption(self, s: str) -> str:
        name = dummy_name(s, self.base_url)
        if name is not None and name.endswith(".png"):
            return f"DUMMY_CAPTION: Image with hash {name.removesuffix('.png')}"
        return f"DUMMY_CAPTION: A descriptive caption for image {_md5(s)[:8]}"

    async def _image(self, stem: str, caption: str) -> str:
        return await self._publish(f"{stem}.png", lambda: draw_image(stem, caption))

    async def _audio(self, stem: str) -> str:
        return await self._publish(f"{stem}.wav", lambda: synth_audio(stem))

    async def _publish(self, filename: str, render: Callable[[], bytes]) -> str:
        await self._seam.run(_write_once, self.media_dir / filename, render)
        return self._prefix + filename


def _write_once(path: Path, render: Callable[[], bytes]) -> None:
    """Write ``render()`` to ``path`` unless it exists; readers never see half a file."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot-prefixed temp name never matches DUMMY_NAME_RE, so it is never served.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(render())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; other readers (backups, nginx) may need it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
