"""kill -9 while outputs are being archived, twenty times: no output is left silently.

The probe: four kill -9 rounds during runs with image and audio outputs each
left a completed output with neither ``archived_from`` nor
``archive_error``, which nothing would ever archive (and provider URLs
expire). Here a real ``panic-trio serve`` runs a text → image → audio cycle
of dummy models and is SIGKILLed just after an output completes, twenty
times. After every start, each output a kill left without an outcome gets
one (the start takes it up); at the end every completed image or audio has
an archive outcome, and the kills did leave some to take up.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import httpx
import pytest
import trio

from panic_trio import Settings, open_panic
from tests.reliability.test_crash_restart import server, wait_ready

ROUNDS = 20
MEDIA_MODELS = ("dummy-t2i", "dummy-i2a")
SILENT = (
    "SELECT id FROM invocations WHERE state = 'completed' AND output IS NOT NULL"
    " AND model IN ('dummy-t2i', 'dummy-i2a')"
    " AND json_extract(metadata, '$.archived_from') IS NULL"
    " AND json_extract(metadata, '$.archive_error') IS NULL ORDER BY id"
)
MEDIA_DONE = (
    "SELECT max(id) FROM invocations WHERE state = 'completed'"
    " AND model IN ('dummy-t2i', 'dummy-i2a')"
)


def query(path: Path, sql: str) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute(sql).fetchall() if row[0] is not None]


async def seed(settings: Settings) -> tuple[int, str]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("kill@example.org", "correct horse battery")
        net = await panic.create_network(
            owner.id, "media", models=["dummy-t2i", "dummy-i2a", "dummy-a2t"], lockout_seconds=0
        )
        return net.id, await panic.create_api_key(owner.id, "kill test")


@pytest.mark.slow
async def test_twenty_kills_while_archiving_leave_no_output_without_an_outcome(
    tmp_path: Path, settings: Settings
) -> None:
    seed_value = random.randrange(2**32)
    rng = random.Random(seed_value)
    network, key = await seed(settings)
    db = Path(settings.database_url.removeprefix("sqlite:///"))
    left_by_kills: set[int] = set()
    with trio.fail_after(240):
        for i in range(ROUNDS + 1):
            context = f"round {i} (seed {seed_value})"
            silent_before = await trio.to_thread.run_sync(query, db, SILENT)
            left_by_kills.update(silent_before)
            floor = max(await trio.to_thread.run_sync(query, db, MEDIA_DONE), default=0)
            async with (
                server(tmp_path, settings, i) as url,
                httpx.AsyncClient(
                    base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=5
                ) as http,
            ):
                await wait_ready(http)
                if i == 0:
                    answer = await http.post(
                        f"/api/networks/{network}/runs", json={"prompt": "a red balloon"}
                    )
                    assert answer.status_code == 201, answer.text
                # What the last kill left is taken up by this start, not forgotten.
                while set(silent_before) & set(await trio.to_thread.run_sync(query, db, SILENT)):
                    await trio.sleep(0.02)
                if i == ROUNDS:
                    # The last start finishes what the kills left; the run is stopped
                    # so that no new output completes between this check and the end.
                    stop = await http.delete(f"/api/networks/{network}/runs/current")
                    assert stop.status_code == 200, stop.text
                    while await trio.to_thread.run_sync(query, db, SILENT):
                        await trio.sleep(0.02)
                    break
                # The kill point: just after a new image or audio output completed.
                while max(await trio.to_thread.run_sync(query, db, MEDIA_DONE), default=0) <= floor:
                    await trio.sleep(0.005)
                await trio.sleep(rng.uniform(0.0, 0.05))
            assert context  # killed here (server() SIGKILLs and checks the exit)
    assert await trio.to_thread.run_sync(query, db, SILENT) == []
    print(f"{len(left_by_kills)} output(s) left without an outcome by {ROUNDS} kills, all taken up")
    assert left_by_kills, f"no kill landed while archiving (seed {seed_value})"
