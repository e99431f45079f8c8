"""The archiver's queue, failures, retries and shutdown, with a local folder or moto."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import pytest
import trio

from panic_trio.archive import archiver as archiver_module
from panic_trio.archive import open_archive
from panic_trio.archive.fetch import Fetcher
from panic_trio.archive.queries import failed_archives
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Invocation, Network
from panic_trio.errors import ArchiveError
from panic_trio.settings import Settings
from panic_trio.store.store import Store
from tests.archive import samples
from tests.archive.conftest import GUARD, Servers, completed, list_keys, start_moto, with_s3
from tests.archive.media_server import MediaServer, Served


async def wait_until(check: Callable[[], bool]) -> None:
    """Poll a cheap condition (the caller holds a fail_after guard)."""
    while not check():
        await trio.sleep(0.01)


async def row_when(
    store: Store, invocation_id: int, done: Callable[[Invocation], bool]
) -> Invocation:
    while not done(row := await store.get_invocation(invocation_id)):
        await trio.sleep(0.01)
    return row


def has(key: str) -> Callable[[Invocation], bool]:
    return lambda row: key in row.metadata


async def test_failures_keep_the_provider_url_and_say_why(
    settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    cases = {
        "/html": (Served(b"<html>", "text/html"), "download is text/html"),
        "/gone": (Served(b"", "image/png", status=404), "HTTP 404"),
        "/junk": (Served(b"not an image at all", "image/png"), "unsupported format"),
        "/broken": (Served(samples.png()[:200], "image/png"), "image conversion failed"),
    }
    rows = {
        path: await completed(store, network, media.serve(path, served))
        for path, (served, _) in cases.items()
    }
    with trio.fail_after(GUARD):
        async with open_archive(settings, store, resume=False) as archiver:
            for row in rows.values():
                assert await archiver.archive(row) is None
    for path, (_, reason) in cases.items():
        row = await store.get_invocation(rows[path].id)
        assert row.output == media.url + path
        assert reason in row.metadata["archive_error"]
        assert "archived_from" not in row.metadata
    listed = await store.read(failed_archives)
    assert [r.id for r in listed] == sorted(r.id for r in rows.values())


# Stopping a streamed body early leaves httpx's inner generators to the GC (encode/httpx#3777).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_downloads_stop_at_the_size_limit(media: MediaServer) -> None:
    body = samples.png()
    declared = media.serve("/declared", Served(body, "image/png"))
    streamed = media.serve("/streamed", Served(body, "image/png", send_length=False))
    async with httpx.AsyncClient() as http:
        fetcher = Fetcher(http, None, ThreadSeam("test", 1), max_bytes=len(body) - 1)
        with trio.fail_after(GUARD):
            for url in (declared, streamed):
                with pytest.raises(ArchiveError, match="larger than"):
                    await fetcher.fetch(url)
            fetcher.max_bytes = len(body)
            assert await fetcher.fetch(streamed) == body


async def test_local_backend_files_and_urls(
    settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    image = await completed(store, network, media.serve("/i", Served(samples.png())))
    sound = await completed(store, network, media.serve("/s", Served(samples.wav())), "dummy-t2a")
    with trio.fail_after(GUARD):
        async with open_archive(settings, store, resume=False) as archiver:
            archived = [await archiver.archive(image), await archiver.archive(sound)]
    folder = settings.data_dir / "archive"
    for row, name in zip(archived, ("webp", "mp3"), strict=True):
        assert row is not None
        key = f"invocation-{row.id}-output.{name}"
        assert row.output == f"{settings.base_url}/archive/{key}"
        assert archiver.local_path(key) == folder / key
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"invocation-{r.id}-output.{n}" for r, n in ((image, "webp"), (sound, "mp3"))
    )


@pytest.mark.parametrize(
    "key", ["../secret", "..", ".hidden", "a/b", "", "x" * 300, "a\\b", "%2e%2e", "a..b"]
)
async def test_local_path_refuses_traversal(settings: Settings, store: Store, key: str) -> None:
    async with open_archive(settings, store, resume=False) as archiver:
        assert archiver.local_path(key) is None


async def test_queue_full_is_recorded_without_blocking(
    settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    gate = trio.Event()
    rows = [
        await completed(store, network, media.serve(f"/q{i}", Served(samples.png(), gate=gate)))
        for i in range(3)
    ]
    with trio.fail_after(GUARD):
        async with open_archive(settings, store, workers=1, queue_size=1, resume=False) as archiver:
            archiver.submit(rows[0], rows[0])
            await media.requested("/q0").wait()  # the only worker is busy now
            archiver.submit(rows[1], rows[1])  # queued
            archiver.submit(rows[2], rows[2])  # no room: recorded, never waits
            full = await row_when(store, rows[2].id, has("archive_error"))
            gate.set()
            first = await row_when(store, rows[0].id, has("archived_from"))
            second = await row_when(store, rows[1].id, has("archived_from"))
    assert full.metadata["archive_error"] == "archive queue full"
    assert full.output == rows[2].output
    for row in (first, second):
        assert row.output == f"{settings.base_url}/archive/invocation-{row.id}-output.webp"


async def test_shutdown_waits_for_the_deadline_then_records_the_interruption(
    settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    settings = dataclasses.replace(settings, shutdown_timeout=0.3)
    never = trio.Event()
    stuck = await completed(
        store, network, media.serve("/stuck", Served(samples.png(), gate=never))
    )
    quick = await completed(store, network, media.serve("/quick", Served(samples.png())))
    with trio.fail_after(GUARD):
        async with open_archive(settings, store, workers=1, resume=False) as archiver:
            archiver.submit(quick, quick)
            archiver.submit(stuck, stuck)
            await media.requested("/stuck").wait()
            closing = trio.current_time()
        waited = trio.current_time() - closing
    assert 0.3 <= waited < 2
    assert "archived_from" in (await store.get_invocation(quick.id)).metadata
    interrupted = await store.get_invocation(stuck.id)
    assert interrupted.metadata["archive_error"] == "archive interrupted by shutdown"
    assert interrupted.output == stuck.output


async def test_transient_storage_errors_are_retried_a_bounded_number_of_times(
    settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    attempts: list[str] = []

    class Flaky:
        name = "flaky"

        def __init__(self, failures: int) -> None:
            self.failures = failures

        async def put(self, key: str, data: bytes, content_type: str) -> str:
            await trio.lowlevel.checkpoint()
            attempts.append(key)
            if len(attempts) <= self.failures:
                raise ArchiveError("storage hiccup", transient=True)
            return self.url_for(key)

        def url_for(self, key: str) -> str:
            return f"https://storage.test/{key}"

    retried = await completed(store, network, media.serve("/r", Served(samples.png())))
    given_up = await completed(store, network, media.serve("/g", Served(samples.png())))
    with trio.fail_after(GUARD):
        async with open_archive(settings, store, backend=Flaky(2), resume=False) as archiver:
            assert await archiver.archive(retried) is not None
        assert len(attempts) == 3
        attempts.clear()
        async with open_archive(settings, store, backend=Flaky(10), resume=False) as archiver:
            assert await archiver.archive(given_up) is None
    assert len(attempts) == len(archiver_module.RETRY_DELAYS_SECONDS) + 1
    row = await store.get_invocation(given_up.id)
    assert row.metadata["archive_error"] == "storage hiccup (after 3 attempts)"


async def test_storage_down_then_back_archives_on_retry(
    settings: Settings,
    store: Store,
    network: Network,
    media: MediaServer,
    own_moto: Servers,
) -> None:
    servers, endpoint = own_moto
    settings = with_s3(settings, endpoint)
    before = await completed(store, network, media.serve("/1", Served(samples.png())))
    during = await completed(store, network, media.serve("/2", Served(samples.png())))
    with trio.fail_after(GUARD):
        async with open_archive(settings, store, resume=False) as archiver:
            assert await archiver.archive(before) is not None
            await trio.to_thread.run_sync(servers.pop().stop)
            assert await archiver.archive(during) is None
            failed = await store.get_invocation(during.id)
            assert "Could not connect" in failed.metadata["archive_error"]
            assert failed.output == during.output
            port = int(endpoint.rsplit(":", 1)[1])
            servers.append((await trio.to_thread.run_sync(start_moto, port))[0])
            results = await archiver.retry_failed()
        keys = await trio.to_thread.run_sync(list_keys, endpoint, settings.s3_bucket)
    assert [(row.id, ok) for row, ok in results] == [(during.id, True)]
    assert results[0][0].metadata == {"archived_from": during.output}
    assert keys == {f"invocation-{before.id}-output.webp", f"invocation-{during.id}-output.webp"}


async def test_retry_skips_rows_archived_meanwhile(
    settings: Settings, store: Store, network: Network, media: MediaServer
) -> None:
    row = await completed(store, network, media.serve("/m", Served(samples.png())))
    async with open_archive(settings, store, resume=False) as archiver:
        first = await archiver.archive(row)
        again = await archiver.archive(row)  # stale copy: output is no longer the source
    assert first is not None
    assert again is not None
    assert again.output == first.output
    assert again.metadata["archived_from"] == row.output
