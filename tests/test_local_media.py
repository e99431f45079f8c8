"""The one local media resolver: our dummy and archive URLs become files, nothing else does."""

from __future__ import annotations

from pathlib import Path

import pytest

from panic_trio.local_media import LocalMedia
from panic_trio.settings import Settings

BASE = "http://panic.test"


def test_dummy_and_archive_urls_map_into_their_folders(tmp_path: Path) -> None:
    media = LocalMedia(tmp_path, BASE + "/", archive=True)
    assert media(f"{BASE}/dummy/abc_1.png") == tmp_path / "dummy" / "abc_1.png"
    assert media(f"{BASE}/archive/invocation-7-output.webp") == (
        tmp_path / "archive" / "invocation-7-output.webp"
    )


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/dummy/../secret.png",
        f"{BASE}/dummy/x.txt",
        f"{BASE}/archive/../panic.db",
        f"{BASE}/archive/.hidden.tmp",
        f"{BASE}/archive/a/b.webp",
        "http://elsewhere.test/archive/x.webp",
        "https://cdn.example/x.png",
    ],
)
def test_other_urls_and_escapes_map_to_nothing(tmp_path: Path, url: str) -> None:
    assert LocalMedia(tmp_path, BASE, archive=True)(url) is None


def test_without_a_local_archive_only_dummy_files_resolve(tmp_path: Path) -> None:
    s3 = Settings(data_dir=tmp_path, public_url=BASE, archive="s3")
    media = LocalMedia.from_settings(s3)
    assert media(f"{BASE}/archive/invocation-7-output.webp") is None
    assert media(f"{BASE}/dummy/a.wav") == tmp_path / "dummy" / "a.wav"
