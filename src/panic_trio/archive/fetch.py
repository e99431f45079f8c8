"""Getting an output's bytes: from the data folder for dummy URLs, else over HTTP.

Dummy outputs are read straight from disk, so archiving works offline and in
the embedding API, where no web server serves ``/dummy/``. Downloads use one
long-lived ``httpx.AsyncClient``, accept only status 200 and an image, audio
or generic binary content type, and stop at a size limit: provider URLs are
untrusted input. httpx errors become :class:`ArchiveError` here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import BinaryIO, Final

import httpx
import trio

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ArchiveError
from panic_trio.local_media import MediaResolver

MAX_DOWNLOAD_BYTES: Final = 50 * 1024 * 1024
DOWNLOAD_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
TRANSIENT_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_BINARY_TYPES: Final = ("application/octet-stream", "binary/octet-stream")
CHUNK_BYTES: Final = 64 * 1024


def new_http_client() -> httpx.AsyncClient:
    """The archive's download client (redirects followed: CDNs redirect)."""
    return httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True)


class Fetcher:
    """Gets the bytes behind an output URL.

    Args:
        http: the archive's long-lived client (closed by its owner).
        local_file: maps our own media URLs to files; ``None`` downloads everything.
        files: the seam that reads those files.
        max_bytes: larger outputs are refused rather than held in memory.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        local_file: MediaResolver | None,
        files: ThreadSeam,
        *,
        max_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self._http = http
        self._local_file = local_file
        self._files = files
        self.max_bytes = max_bytes

    async def fetch(self, url: str) -> bytes:
        """The bytes behind ``url``; a checkpoint.

        Raises:
            ArchiveError: missing dummy file, non-HTTP URL, error status,
                wrong content type, too large, or a network error
                (``transient`` for timeouts, dropped connections, 5xx, 429).
        """
        path = self._local_file(url) if self._local_file is not None else None
        if path is not None:
            return await self._read(path)
        if not url.startswith(("http://", "https://")):
            raise ArchiveError(f"cannot download {url[:100]!r}: not an http(s) URL")
        with _translated(url):
            return await self._download(url)

    @asynccontextmanager
    async def open_stream(self, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """The bytes behind ``url`` in chunks, under the same rules as :meth:`fetch`.

        For exports, which must not hold a whole run's media in memory. The
        rules are checked before the block is entered, the size limit while
        the chunks are read.

        Raises:
            ArchiveError: as :meth:`fetch`.
        """
        path = self._local_file(url) if self._local_file is not None else None
        if path is not None:
            async with self.open_file(path) as chunks:
                yield chunks
            return
        if not url.startswith(("http://", "https://")):
            raise ArchiveError(f"cannot download {url[:100]!r}: not an http(s) URL")
        with _translated(url):
            async with self._http.stream("GET", url) as response:
                self._check(response, url)
                yield self._limited(response.aiter_bytes(), url)

    @asynccontextmanager
    async def open_file(self, path: Path) -> AsyncIterator[AsyncIterator[bytes]]:
        """A local file's bytes in chunks, read in the files seam."""
        try:
            handle: BinaryIO = await self._files.run(path.open, "rb")
        except FileNotFoundError as exc:
            raise ArchiveError(f"the file {path.name} is missing from {path.parent}") from exc
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: {exc}") from exc
        try:
            yield self._file_chunks(handle)
        finally:
            with trio.CancelScope(shield=True):
                await self._files.run(handle.close)

    async def _file_chunks(self, handle: BinaryIO) -> AsyncIterator[bytes]:
        while chunk := await self._files.run(handle.read, CHUNK_BYTES):
            yield chunk

    async def _read(self, path: Path) -> bytes:
        try:
            return await self._files.run(path.read_bytes)
        except FileNotFoundError as exc:
            raise ArchiveError(f"the dummy file {path.name} is missing from {path.parent}") from exc
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: {exc}") from exc

    async def _download(self, url: str) -> bytes:
        async with self._http.stream("GET", url) as response:
            self._check(response, url)
            # Leaving early makes Trio warn (ResourceWarning, hidden by default) that
            # httpx's nested body generators were not exhausted: encode/httpx#3777.
            return b"".join([c async for c in self._limited(response.aiter_bytes(), url)])

    def _check(self, response: httpx.Response, url: str) -> None:
        """Status 200, an image, audio or binary type, and no declared size over the limit."""
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
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            raise ArchiveError(self._too_large(url))

    async def _limited(self, chunks: AsyncIterator[bytes], url: str) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self.max_bytes:
                raise ArchiveError(self._too_large(url))
            yield chunk

    def _too_large(self, url: str) -> str:
        return f"download is larger than {self.max_bytes:,} bytes: {url}"


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """httpx errors as :class:`ArchiveError` (transient for timeouts and dropped connections)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ArchiveError(f"download timed out: {url}", transient=True) from exc
    except httpx.TransportError as exc:
        raise ArchiveError(f"download failed: {exc!r} ({url})", transient=True) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ArchiveError(f"download failed: {exc} ({url})") from exc
