"""Real media through the whole pipeline into moto S3, read back with boto3."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

import pytest
import trio
from PIL import Image

from panic_trio.archive import S3Archive, open_archive
from panic_trio.archive.convert import sniff
from panic_trio.domain import Network
from panic_trio.errors import ArchiveError
from panic_trio.settings import Settings
from panic_trio.store.store import Store
from tests.archive import samples
from tests.archive.conftest import GUARD, completed, get_object, list_keys, new_bucket
from tests.archive.media_server import MediaServer, Served


def image_format(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


CASES: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("png", samples.png, "image/png", "webp"),
    ("jpeg", lambda: samples.pillow("JPEG"), "image/jpeg", "webp"),
    ("gif", samples.animated_gif, "image/gif", "webp"),
    ("webp", lambda: samples.pillow("WEBP"), "image/webp", "webp"),
    ("wav", samples.wav, "audio/wav", "mp3"),
    ("wav24", lambda: samples.wav(width=3, channels=2), "audio/x-wav", "mp3"),
    ("mp3", samples.mp3, "audio/mpeg", "mp3"),
    ("ogg", samples.ogg, "audio/ogg", "mp3"),
    ("flac", samples.flac, "audio/flac", "mp3"),
]


@pytest.mark.parametrize(("name", "make", "served_as", "extension"), CASES)
async def test_media_is_archived_to_s3_in_the_right_format(
    s3_settings: Settings,
    store: Store,
    network: Network,
    media: MediaServer,
    name: str,
    make: Callable[[], bytes],
    served_as: str,
    extension: str,
) -> None:
    if name in ("ogg", "flac") and samples.FFMPEG is None:
        pytest.skip("needs ffmpeg (test_convert covers the error without it)")
    original = make()
    # No extension in the URL: the format comes from the bytes.
    url = media.serve(f"/out/{name}", Served(original, served_as))
    model = "dummy-t2i" if extension == "webp" else "dummy-t2a"
    row = await completed(store, network, url, model)
    with trio.fail_after(GUARD):
        async with open_archive(s3_settings, store, resume=False) as archiver:
            archived = await archiver.archive(row)
        assert archived is not None
        key = f"invocation-{row.id}-output.{extension}"
        endpoint, bucket = s3_settings.s3_endpoint_url, s3_settings.s3_bucket
        assert endpoint is not None
        data, content_type = await trio.to_thread.run_sync(get_object, endpoint, bucket, key)
    assert archived.output == f"{endpoint}/{bucket}/{key}"
    assert archived.metadata["archived_from"] == url
    if extension == "webp":
        assert content_type == "image/webp"
        assert image_format(data)[0] == "WEBP"
        assert image_format(data)[1] == image_format(original)[1]
    else:
        assert content_type == "audio/mpeg"
        assert sniff(data) == "audio/mpeg"
    if name in ("webp", "mp3"):
        assert data == original  # stored as is, only renamed


async def test_public_url_setting_is_used(
    s3_settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    settings = dataclasses.replace(s3_settings, s3_public_url="https://cdn.example.org/panic/")
    row = await completed(store, network, media.serve("/a", Served(samples.png(), "image/png")))
    with trio.fail_after(GUARD):
        async with open_archive(settings, store, resume=False) as archiver:
            archived = await archiver.archive(row)
    assert archived is not None
    assert archived.output == f"https://cdn.example.org/panic/invocation-{row.id}-output.webp"


async def test_missing_bucket_is_a_clear_error_at_start_up(
    s3_settings: Settings, store: Store
) -> None:
    settings = dataclasses.replace(s3_settings, s3_create_bucket=False, s3_bucket=new_bucket())
    with trio.fail_after(GUARD), pytest.raises(ArchiveError, match="does not exist"):
        async with open_archive(settings, store, resume=False):
            pass


async def test_unreachable_storage_is_a_clear_error_at_start_up(
    settings: Settings, store: Store
) -> None:
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = dataclasses.replace(
        settings, archive="s3", s3_endpoint_url=f"http://127.0.0.1:{port}"
    )
    with trio.fail_after(GUARD), pytest.raises(ArchiveError, match="cannot reach S3 bucket"):
        await S3Archive.connect(settings)


async def test_created_bucket_holds_only_its_keys(
    s3_settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    rows = [
        await completed(store, network, media.serve(f"/img{i}", Served(samples.png(str(i)))))
        for i in range(3)
    ]
    with trio.fail_after(GUARD):
        async with open_archive(s3_settings, store, resume=False) as archiver:
            for row in rows:
                await archiver.archive(row)
        assert s3_settings.s3_endpoint_url is not None
        keys = await trio.to_thread.run_sync(
            list_keys, s3_settings.s3_endpoint_url, s3_settings.s3_bucket
        )
    assert keys == {f"invocation-{row.id}-output.webp" for row in rows}
