"""Archiving through ``open_panic``: real runs of dummy networks, real threads, SQLite, moto."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
from PIL import Image

from panic_trio import Panic, open_panic
from panic_trio.archive.convert import sniff
from panic_trio.archive.queries import failed_archives
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Event, Invocation, Network
from panic_trio.events import Subscription
from panic_trio.platforms.base import Call, Platform, Result
from panic_trio.platforms.dummy import DummyPlatform
from panic_trio.settings import Settings
from tests.archive import samples
from tests.archive.conftest import GUARD, Servers, get_object, list_keys, start_moto, with_s3
from tests.archive.media_server import MediaServer, Served

IMAGES = ["dummy-t2i", "dummy-i2t"]


async def next_event(events: Subscription[Event], wanted: Callable[[Event], bool]) -> Event:
    async for event in events:
        if wanted(event):
            return event
    raise AssertionError("event stream ended")


def archived(event: Event) -> bool:
    return event.kind == "archived"


def image_rows(rows: list[Invocation]) -> list[Invocation]:
    return [r for r in rows if r.model == "dummy-t2i" and r.state == "completed"]


def settled(row: Invocation) -> bool:
    return "archived_from" in row.metadata or "archive_error" in row.metadata


async def run_rows(panic: Panic, network_id: int, run_number: int) -> list[Invocation]:
    return await panic.list_run(network_id, run_number)


async def wait_settled(panic: Panic, network_id: int, run_number: int) -> list[Invocation]:
    """Poll until every image of the run is archived or has an archive error."""
    while True:
        rows = await run_rows(panic, network_id, run_number)
        if all(settled(r) for r in image_rows(rows)):
            return rows
        await trio.sleep(0.02)


async def make_network(panic: Panic, models: list[str], name: str = "loop") -> Network:
    user = await panic.create_user(f"{name}@example.org", "correct horse battery")
    return await panic.create_network(user.id, name, models=models)


def read_bytes(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.parametrize(
    ("models", "extension"), [(IMAGES, "webp"), (["dummy-t2a", "dummy-a2t"], "mp3")]
)
async def test_dummy_output_is_archived_locally_and_the_ready_input_rewritten(
    settings: Settings, models: list[str], extension: str
) -> None:
    settings = dataclasses.replace(settings, backoff="inf:600")  # the next row stays ready
    with trio.fail_after(GUARD):
        async with open_panic(settings) as panic:
            network = await make_network(panic, models)
            async with panic.watch(network.id) as events:
                genesis = await panic.start_run(network.id, "a red balloon")
                event = await next_event(events, archived)
            rows = await run_rows(panic, network.id, genesis.run_number)
            await panic.stop_run(network.id)
        assert panic.archive is not None
        key = f"invocation-{genesis.id}-output.{extension}"
        path = panic.archive.local_path(key)
        assert path is not None
        data = await trio.to_thread.run_sync(read_bytes, path)
    first, following = rows[0], rows[1]
    url = f"{settings.base_url}/archive/{key}"
    assert event.invocation is not None
    assert event.invocation.output == url
    assert first.output == url
    assert str(first.metadata["archived_from"]).startswith(f"{settings.base_url}/dummy/")
    assert following.state == "ready"
    assert following.input == url
    assert path == settings.data_dir / "archive" / key
    if extension == "webp":
        assert Image.open(io.BytesIO(data)).format == "WEBP"
    else:
        assert sniff(data) == "audio/mpeg"


class GatedImages:
    """Dummy models, except that images come from the media server, behind ``gate``."""

    name = "dummy"
    display_name = "Dummy"
    requires_token = False

    def __init__(self, inner: Platform, media: MediaServer, gate: trio.Event) -> None:
        self.inner, self.media, self.gate = inner, media, gate

    async def invoke(self, call: Call) -> Result:
        if call.model.output_type != "image":
            return await self.inner.invoke(call)
        await trio.lowlevel.checkpoint()
        served = Served(samples.png(str(call.invocation_id)), "image/png", gate=self.gate)
        return Result(self.media.serve(f"/gen/{call.invocation_id}", served))


def gated(settings: Settings, media: MediaServer, gate: trio.Event) -> GatedImages:
    dummy = DummyPlatform(
        media_dir=settings.data_dir / "dummy",
        base_url=settings.base_url,
        seam=ThreadSeam("dummy-media", 2),
    )
    return GatedImages(dummy, media, gate)


async def test_stopping_the_run_lets_the_archive_in_progress_finish(
    s3_settings: Settings, media: MediaServer
) -> None:
    settings = dataclasses.replace(s3_settings, backoff="inf:600")
    gate = trio.Event()
    with trio.fail_after(GUARD):
        async with open_panic(settings, platforms={"dummy": gated(settings, media, gate)}) as panic:
            network = await make_network(panic, IMAGES, "gated")
            async with panic.watch(network.id) as events:
                genesis = await panic.start_run(network.id, "slow")
                await media.requested(f"/gen/{genesis.id}").wait()  # archive in progress
                assert await panic.stop_run(network.id)
                gate.set()
                event = await next_event(events, archived)
            rows = await run_rows(panic, network.id, genesis.run_number)
        assert s3_settings.s3_endpoint_url is not None
        key = f"invocation-{genesis.id}-output.webp"
        data, content_type = await trio.to_thread.run_sync(
            get_object, s3_settings.s3_endpoint_url, settings.s3_bucket, key
        )
    assert event.invocation is not None
    assert event.invocation.id == genesis.id
    assert rows[0].output == f"{s3_settings.s3_endpoint_url}/{settings.s3_bucket}/{key}"
    assert rows[0].metadata["archived_from"] == f"{media.url}/gen/{genesis.id}"
    assert rows[1].state == "failed"  # the stop failed the next row, so its input stays
    assert rows[1].input == rows[0].metadata["archived_from"]
    assert content_type == "image/webp"
    assert sniff(data) == "image/webp"


async def test_two_networks_at_once_never_collide(s3_settings: Settings) -> None:
    with trio.fail_after(GUARD):
        async with open_panic(s3_settings) as panic:
            networks = [await make_network(panic, IMAGES, f"net{i}") for i in range(2)]

            async def run_until_archived(network: Network, count: int) -> int:
                async with panic.watch(network.id) as events:
                    genesis = await panic.start_run(network.id, "the same prompt")
                    for _ in range(count):
                        await next_event(events, archived)
                await panic.stop_run(network.id)
                return genesis.run_number

            runs: dict[int, int] = {}

            async def one(network: Network) -> None:
                runs[network.id] = await run_until_archived(network, 3)

            async with trio.open_nursery() as nursery:
                for network in networks:
                    nursery.start_soon(one, network)
            rows = [
                row
                for network in networks
                for row in await wait_settled(panic, network.id, runs[network.id])
            ]
        assert s3_settings.s3_endpoint_url is not None
        keys = await trio.to_thread.run_sync(
            list_keys, s3_settings.s3_endpoint_url, s3_settings.s3_bucket
        )
    images = image_rows(rows)
    assert len(images) >= 6
    assert all("archive_error" not in r.metadata for r in images)
    assert keys == {f"invocation-{r.id}-output.webp" for r in images}
    assert len({r.output for r in images}) == len(images)
    # Same prompt, so both runs started from the same dummy file: the original's collision case.
    firsts = [r for r in images if r.sequence_number == 0]
    assert len(firsts) == 2
    assert firsts[0].metadata["archived_from"] == firsts[1].metadata["archived_from"]


async def test_storage_down_mid_run_the_run_goes_on_and_retry_archives_later(
    settings: Settings, own_moto: Servers
) -> None:
    servers, endpoint = own_moto
    settings = with_s3(settings, endpoint)
    with trio.fail_after(GUARD):
        async with open_panic(settings) as panic:
            network = await make_network(panic, IMAGES)
            async with panic.watch(network.id) as events:
                genesis = await panic.start_run(network.id, "a red balloon")
                await next_event(events, archived)
                await trio.to_thread.run_sync(servers.pop().stop)
                while not (failed := await panic.store.read(failed_archives)):
                    await trio.sleep(0.02)
                # The run goes on past the failed archive.
                await next_event(
                    events,
                    lambda e: (
                        e.invocation is not None
                        and e.invocation.state == "completed"
                        and e.invocation.sequence_number > failed[0].sequence_number + 2
                    ),
                )
            await panic.stop_run(network.id)
            await wait_settled(panic, network.id, genesis.run_number)
            failed = await panic.store.read(failed_archives)
            assert failed[0].output is not None
            assert failed[0].output.startswith(f"{settings.base_url}/dummy/")
            port = int(endpoint.rsplit(":", 1)[1])
            servers.append((await trio.to_thread.run_sync(start_moto, port))[0])
            assert panic.archive is not None
            results = await panic.archive.retry_failed()
            rows = await run_rows(panic, network.id, genesis.run_number)
            still = await panic.store.read(failed_archives)
        keys = await trio.to_thread.run_sync(list_keys, endpoint, settings.s3_bucket)
    assert len(results) == len(failed)
    assert all(ok for _, ok in results)
    assert still == []
    images = image_rows(rows)
    assert all(
        r.output == f"{endpoint}/{settings.s3_bucket}/invocation-{r.id}-output.webp" for r in images
    )
    assert keys == {f"invocation-{r.id}-output.webp" for r in images}
