"""The local archive: files under ``<data_dir>/archive``, served by the web app."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ArchiveError
from panic_trio.local_media import ARCHIVE_URL_PATH, archive_file


class LocalArchive:
    """Keeps archived outputs as files; their URL is ``<base_url>/archive/<key>``.

    The default backend: it needs nothing but the data folder, so a fresh
    install archives offline. Writes are atomic (temp file, then rename), so
    the web app never serves half a file.
    """

    name: str = "local"

    def __init__(self, root: Path, base_url: str, seam: ThreadSeam) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._seam = seam

    async def prepare(self) -> None:
        """Create the folder (at start-up, so a bad ``data_dir`` fails early).

        Raises:
            ArchiveError: the folder cannot be created.
        """
        try:
            await self._seam.run(lambda: self.root.mkdir(parents=True, exist_ok=True))
        except OSError as exc:
            raise ArchiveError(f"cannot create the archive folder {self.root}: {exc}") from exc

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Write ``data`` to ``<root>/<key>``; the content type follows from the extension.

        Raises:
            ArchiveError: ``key`` is not a plain file name, or the write failed
                (transient: a full disk may be freed).
        """
        path = self.path_for(key)
        if path is None:
            raise ArchiveError(f"invalid archive key {key!r}")
        try:
            await self._seam.run(_write_atomically, path, data)
        except OSError as exc:
            raise ArchiveError(f"cannot write {path}: {exc}", transient=True) from exc
        return self.url_for(key)

    def url_for(self, key: str) -> str:
        """``<base_url>/archive/<key>``: stable as long as the public URL is."""
        return self.base_url + ARCHIVE_URL_PATH + key

    def path_for(self, key: str) -> Path | None:
        """The file behind ``key``, or ``None`` if ``key`` could reach outside the folder.

        For the web app: only plain names (letters, digits, ``_``, ``-``,
        ``.``; no ``..``, no leading dot, no slash) are accepted. Pure string
        work: the file may not exist.
        """
        return archive_file(self.root, key)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a front web server may need to read it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
