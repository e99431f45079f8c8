"""Getting an output's bytes: from the data folder for dummy URLs, else over HTTP.

Dummy outputs are read straight from disk, so archiving works offline and in
the embedding API, where no web server serves ``/dummy/``. Downloads use one
long-lived ``httpx.AsyncClient``, accept only status 200 and an image, audio
or generic binary content type, and stop at a size limit: provider URLs are
untrusted input. httpx errors become :class:`ArchiveError` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import httpx

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ArchiveError
from panic_trio.platforms.dummy import DummyPlatform

MAX_DOWNLOAD_BYTES: Final = 50 * 1024 * 1024
DOWNLOAD_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
TRANSIENT_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_BINARY_TYPES: Final = ("application/octet-stream", "binary/octet-stream")


def new_http_client() -> httpx.AsyncClient:
    """The archive's download client (redirects followed: CDNs redirect)."""
    return httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True)


class Fetcher:
    """Gets the bytes behind an output URL.

    Args:
        http: the archive's long-lived client (closed by its owner).
        dummy: maps dummy URLs to files; ``None`` downloads everything.
        files: the seam that reads dummy files.
        max_bytes: larger outputs are refused rather than held in memory.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        dummy: DummyPlatform | None,
        files: ThreadSeam,
        *,
        max_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self._http = http
        self._dummy = dummy
        self._files = files
        self.max_bytes = max_bytes

    async def fetch(self, url: str) -> bytes:
        """The bytes behind ``url``; a checkpoint.

        Raises:
            ArchiveError: missing dummy file, non-HTTP URL, error status,
                wrong content type, too large, or a network error
                (``transient`` for timeouts, dropped connections, 5xx, 429).
        """
        path = self._dummy.dummy_file(url) if self._dummy is not None else None
        if path is not None:
            return await self._read(path)
        if not url.startswith(("http://", "https://")):
            raise ArchiveError(f"cannot download {url[:100]!r}: not an http(s) URL")
        try:
            return await self._download(url)
        except httpx.TimeoutException as exc:
            raise ArchiveError(f"download timed out: {url}", transient=True) from exc
        except httpx.TransportError as exc:
            raise ArchiveError(f"download failed: {exc!r} ({url})", transient=True) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ArchiveError(f"download failed: {exc} ({url})") from exc

    async def _read(self, path: Path) -> bytes:
        try:
            return await self._files.run(path.read_bytes)
        except FileNotFoundError as exc:
            raise ArchiveError(f"the dummy file {path.name} is missing from {path.parent}") from exc
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: {exc}") from exc

    async def _download(self, url: str) -> bytes:
        async with self._http.stream("GET", url) as response:
            status = response.status_code
            if status != 200:
                raise ArchiveError(
                    f"download failed: HTTP {status} from {url}",
                    transient=status in TRANSIENT_STATUSES,
                )
            content_type = response.headers.get("content-type", "")
            mime = content_type.partition(";")[0].strip().lower()
            if mime and not mime.startswith(("image/", "audio/")) and mime not in _BINARY_TYPES:
                raise ArchiveError(f"download is {mime}, not an image or audio file ({url})")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise ArchiveError(self._too_large(url))
            chunks: list[bytes] = []
            size = 0
            # Leaving early makes Trio warn (ResourceWarning, hidden by default) that
            # httpx's nested body generators were not exhausted: encode/httpx#3777.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ArchiveError(self._too_large(url))
                chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, url: str) -> str:
        return f"download is larger than {self.max_bytes:,} bytes: {url}"
