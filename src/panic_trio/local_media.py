"""This server's own media as files: dummy outputs and the local archive.

One resolver, ``url -> Path | None``, built once by ``open_panic`` and handed
to the platforms (Gemini uploads our files instead of fetching them) and to
the archive (reads dummy outputs from disk), so neither imports the other.
The naming rules live here too: no URL can reach outside its folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

from panic_trio.settings import Settings

DUMMY_DIR: Final = "dummy"
DUMMY_URL_PATH: Final = "/dummy/"
ARCHIVE_DIR: Final = "archive"
ARCHIVE_URL_PATH: Final = "/archive/"
DUMMY_NAME_RE: Final = re.compile(r"[A-Za-z0-9_]+\.(?:png|wav)")
# Keys start with a letter or digit, so the dot-prefixed temp files are never served.
ARCHIVE_KEY_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")

MediaResolver = Callable[[str], Path | None]


def dummy_name(url: str, base_url: str) -> str | None:
    """The file name behind ``<base_url>/dummy/<name>.png|wav``, else ``None``."""
    prefix = base_url.rstrip("/") + DUMMY_URL_PATH
    if not url.startswith(prefix):
        return None
    name = url[len(prefix) :]
    return name if DUMMY_NAME_RE.fullmatch(name) else None


def archive_file(root: Path, key: str) -> Path | None:
    """``root / key`` for a plain key (no ``..``, no leading dot, no slash), else ``None``."""
    if not ARCHIVE_KEY_RE.fullmatch(key) or ".." in key:
        return None
    return root / key


class LocalMedia:
    """Maps this server's media URLs to files; pure string work (a file may not exist).

    Args:
        data_dir, base_url: where the folders are and the URLs start.
        archive: also map ``<base_url>/archive/<key>`` (the local archive).
    """

    def __init__(self, data_dir: Path, base_url: str, *, archive: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self.dummy_dir = data_dir / DUMMY_DIR
        self.archive_dir = data_dir / ARCHIVE_DIR if archive else None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalMedia:
        """The resolver for ``settings``: the archive's folder only when it is local."""
        return cls(settings.data_dir, settings.base_url, archive=settings.archive == "local")

    def __call__(self, url: str) -> Path | None:
        """The file behind one of our URLs, else ``None``."""
        found = self.dummy_file(url)
        prefix = self.base_url + ARCHIVE_URL_PATH
        if found is None and self.archive_dir is not None and url.startswith(prefix):
            found = archive_file(self.archive_dir, url.removeprefix(prefix))
        return found

    def dummy_file(self, url: str) -> Path | None:
        """The file behind a dummy output URL, else ``None``."""
        name = dummy_name(url, self.base_url)
        return None if name is None else self.dummy_dir / name
