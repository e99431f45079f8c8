"""Exporting a run: what the zip holds, the download rules for media, and the memory it takes."""

from __future__ import annotations

import io
import json
import os
import re
import tracemalloc
import zipfile
from contextlib import aclosing
from pathlib import Path

import trio
from sqlalchemy import Connection, insert, update

from panic_trio import Panic
from panic_trio.archive.fetch import Fetcher, new_http_client
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Invocation, Network, utc_now
from panic_trio.export import RunExporter, prepare_export, write_export
from panic_trio.store import invocations, schema
from panic_trio.store.store import Store
from tests.archive.media_server import MediaServer, Served
from tests.runs import completed_at_least, start_and_wait

PROMPT = 'a <script>alert("x")</script> & a "red" balloon'
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 200


async def exported(exporter: RunExporter) -> zipfile.ZipFile:
    data = bytearray()
    async with aclosing(exporter.chunks()) as chunks:
        async for chunk in chunks:
            data += chunk
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    assert archive.testzip() is None
    return archive


async def test_the_zip_holds_the_page_run_json_and_media_by_step(
    panic: Panic, loop_network: Network
) -> None:
    with trio.fail_after(30):
        cycle = await panic.update_network(
            loop_network.id, models=["dummy-t2i", "dummy-i2t", "dummy-t2a", "dummy-a2t"]
        )
        genesis, _ = await start_and_wait(panic, cycle.id, PROMPT, completed_at_least(5))
        await panic.stop_run(cycle.id)
        archive = await exported(await panic.run_exporter(cycle.id, genesis.run_number))
        stored = await panic.list_run(cycle.id, genesis.run_number)

        names = archive.namelist()
        media = [n for n in names if n.startswith("media/")]
        assert names[-2:] == ["run.json", "index.html"]
        images = [i for i in stored if i.state == "completed" and i.model in ("dummy-t2i",)]
        sounds = [i for i in stored if i.state == "completed" and i.model in ("dummy-t2a",)]
        assert len(media) == len(images) + len(sounds)
        for name in media:
            assert re.fullmatch(r"media/\d{5}-dummy-t2[ia]\.(png|webp|wav|mp3)", name)
            assert len(archive.read(name)) > 100

        run = json.loads(archive.read("run.json"))
        assert run["format"] == "panic-trio-run/1"
        assert [Invocation.from_json(i) for i in run["invocations"]] == stored
        assert run["network"]["cycle"] == list(cycle.models)
        assert run["run"]["ending"] == "stopped"
        assert run["run"]["prompt"] == PROMPT
        assert sorted(run["media"].values()) == sorted(media)
        assert "owner_id" not in run["network"]

        page = archive.read("index.html").decode()
        assert (
            "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; a &#34;red&#34; balloon" in page
        )
        assert "<script" not in page  # the page needs no script, and the prompt is text
        assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing outside the zip
        for name in media:
            assert f'src="{name}"' in page


async def test_media_not_yet_archived_follow_the_download_rules(
    panic: Panic, loop_network: Network, nursery: trio.Nursery
) -> None:
    with trio.fail_after(30):
        server = MediaServer()
        await server.start(nursery)
        good = server.serve("/ok.png", Served(PNG, "image/png"))
        page = server.serve("/page.png", Served(b"<html>", "text/html"))
        huge = server.serve("/huge.png", Served(PNG + b"\0" * 5000, "image/png"))
        gone = server.serve("/gone.png", Served(b"", "image/png", status=404))
        store = panic.store
        run_number = await _run_with_outputs(store, loop_network, [good, page, huge, gone])
        async with new_http_client() as http:
            fetcher = Fetcher(http, None, ThreadSeam("test-files", 1), max_bytes=4096)
            exporter = await prepare_export(store, fetcher.open_stream, loop_network.id, run_number)
            archive = await exported(exporter)
        run = json.loads(archive.read("run.json"))
        assert run["media"] == {"0": "media/00000-dummy-t2i.png"}
        assert archive.read("media/00000-dummy-t2i.png") == PNG
        errors = run["media_errors"]
        assert "text/html, not an image or audio file" in errors["2"]
        assert "larger than 4,096 bytes" in errors["4"]
        assert "HTTP 404" in errors["6"]
        html = archive.read("index.html").decode()
        assert html.count("media not included: download") == 3


async def _run_with_outputs(store: Store, network: Network, outputs: list[str]) -> int:
    """A stopped run whose image steps (every other one) made ``outputs``."""
    genesis = await store.create_genesis(network.id, "dummy-t2i", "p")
    current = genesis
    for index, url in enumerate(outputs):
        _, current = await store.complete_and_prepare_next(current.id, url, {}, start_next=True)
        last = index == len(outputs) - 1
        _, current = await store.complete_and_prepare_next(
            current.id, f"caption {index}", {}, start_next=not last
        )
    await store.fail(current.id, {"cancelled": True, "error": "cancelled: stopped"})
    return genesis.run_number


def _thousand_steps(conn: Connection, network_id: int, base_url: str) -> int:
    """A stopped 1,000-step run: t2i steps show archived files, i2t steps text."""
    now = utc_now()
    genesis = invocations.insert_genesis(conn, network_id, "dummy-t2i", PROMPT, now)
    priced = {"latency_ms": 12, "cost": {"amount": 0.001, "currency": "USD"}}
    conn.execute(
        update(schema.invocations)
        .where(schema.invocations.c.id == genesis.id)
        .values(state="completed", output=f"{base_url}/archive/picture-0.png", metadata=priced)
    )
    rows = [
        {
            "network_id": network_id,
            "run_number": genesis.run_number,
            "sequence_number": step,
            "model": "dummy-t2i" if step % 2 == 0 else "dummy-i2t",
            "input": "x" * 200,
            "output": f"{base_url}/archive/picture-{step % 10}.png" if step % 2 == 0 else "y" * 500,
            "state": "completed" if step < 999 else "failed",
            "metadata": priced
            if step < 999
            else {"cancelled": True, "error": "cancelled: stopped"},
            "inserted_at": now,
            "updated_at": now,
        }
        for step in range(1, 1000)
    ]
    conn.execute(insert(schema.invocations), rows)
    return genesis.run_number


async def test_a_1000_step_run_exports_in_a_few_mb_of_memory(
    panic: Panic, loop_network: Network, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        folder = panic.settings.data_dir / "archive"
        for index in range(10):  # 100 KB each, incompressible: 50 MB of media in all
            (folder / f"picture-{index}.png").write_bytes(PNG[:8] + os.urandom(100_000))
        run_number = await panic.store.write(
            _thousand_steps, loop_network.id, panic.settings.base_url
        )
        exporter = await panic.run_exporter(loop_network.id, run_number)
        assert exporter.summary.last_sequence_number == 999
        size = 0
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            async with aclosing(exporter.chunks()) as chunks:
                async for chunk in chunks:
                    size += len(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        print(f"\n1,000-step export: {size / 1e6:.1f} MB of zip, peak {peak / 1e6:.2f} MB traced")
        assert size > 50_000_000
        assert peak < 5_000_000

        path = tmp_path / "run.zip"
        written = await write_export(
            await panic.run_exporter(loop_network.id, run_number),
            path,
            ThreadSeam("test-files", 1),
        )
        archive = zipfile.ZipFile(path)
        assert written == path.stat().st_size
        assert len(archive.namelist()) == 500 + 2
        assert len(json.loads(archive.read("run.json"))["invocations"]) == 1000
        assert not (tmp_path / "run.zip.partial").exists()
