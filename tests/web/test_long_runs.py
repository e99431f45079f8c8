"""Public pages and first display frames read only the rows they show (finding 6).

The probe: on a run of 3,522 steps ``/networks/<id>/info`` took 160 ms
against 10 ms for a short run, and a display's first frame about 200 ms,
because both read the whole run. Here: a 10,000-step run against a 10-step
one, each resumed by the engine (so it is the current run), compared by the
rows read (exact) and by time (median, within 2x).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
import trio
from sqlalchemy import insert

from panic_trio import Settings, open_panic
from panic_trio.domain import Invocation
from panic_trio.runs import STEPS_PER_PAGE
from panic_trio.store import invocations as invocation_queries
from panic_trio.store.schema import invocations
from panic_trio.web import create_app
from panic_trio.web.state import EXTENSION
from tests.web.conftest import SECRET, TIMEOUT, client, make_settings, text_of

LONG, SHORT = 10_000, 10
SAMPLES = 15
WALL = {"type": "grid", "name": "wall", "rows": 3, "columns": 4}
SPOT = {"type": "single", "name": "spot", "stride": 7, "offset": 3}


def seed_run(conn: sqlalchemy.Connection, network_id: int, steps: int, now: Any) -> None:
    """A run of ``steps`` completed rows and a ``ready`` one: live, as a process left it."""
    first = conn.execute(
        insert(invocations)
        .values(
            network_id=network_id, sequence_number=0, model="dummy-t2t", input="the prompt",
            output="out 0", state="completed", metadata={}, inserted_at=now, updated_at=now,
        )
        .returning(invocations.c.id)
    ).scalar_one()  # fmt: skip
    conn.execute(invocations.update().where(invocations.c.id == first).values(run_number=first))
    rows = [
        {
            "network_id": network_id, "run_number": first, "sequence_number": seq,
            "model": "dummy-t2t", "input": f"in {seq}", "output": f"out {seq} " + "x" * 200,
            "state": "completed" if seq < steps else "ready", "metadata": {"latency_ms": 1},
            "inserted_at": now, "updated_at": now,
        }
        for seq in range(1, steps + 1)
    ]  # fmt: skip
    conn.execute(insert(invocations), rows)


@contextmanager
def rows_read() -> Iterator[list[int]]:
    """Records the id of every invocation row turned into an ``Invocation`` in the block."""
    fetched: list[int] = []
    real = invocation_queries.invocation_from_row

    def counting(row: Any) -> Invocation:
        fetched.append(row.id)
        return real(row)

    invocation_queries.invocation_from_row = counting
    try:
        yield fetched
    finally:
        invocation_queries.invocation_from_row = real


async def test_info_page_and_first_display_frame_do_not_grow_with_the_run(
    tmp_path: Path,
) -> None:
    settings: Settings = make_settings(tmp_path, backoff="inf:100000")
    async with open_panic(settings) as panic:
        owner = await panic.create_user("long@example.org", "correct horse battery")
        ids = {}
        for steps in (LONG, SHORT):
            net = await panic.create_network(owner.id, f"{steps}", models=["dummy-t2t"])
            await panic.store.write(seed_run, net.id, steps, panic.store.now())
            made = await panic.installations.create(net.id, "screens", [WALL, SPOT])
            ids[steps] = (net.id, made.public_id)
    async with open_panic(settings) as panic:  # resumes both runs: they are current
        app = create_app(panic, settings, secret_key=SECRET)
        async with app.test_app():
            web: Any = type("W", (), {"app": app})
            with trio.fail_after(TIMEOUT * 4):
                samples: dict[int, dict[str, list[float]]] = {LONG: {}, SHORT: {}}
                for network_id, display in ids.values():
                    assert panic.status(network_id).genesis is not None
                    await check_rows_read(web, network_id, display)
                await check_shared_run_pages(web, panic, ids[LONG][0])
                for _ in range(SAMPLES):  # interleaved, so both see the same machine
                    for steps, (network_id, display) in ids.items():
                        for what, seconds in (await sample(web, network_id, display)).items():
                            samples[steps].setdefault(what, []).append(seconds)
    timings = {n: {w: statistics.median(v) for w, v in s.items()} for n, s in samples.items()}
    for what in ("info", "wall", "spot"):
        long, short = timings[LONG][what], timings[SHORT][what]
        print(f"{what}: {long * 1000:.1f} ms at {LONG} steps, {short * 1000:.1f} ms at {SHORT}")
        assert long < 2 * short + 0.005, (what, long, short)


async def check_rows_read(web: Any, network_id: int, display: str) -> None:
    """The info page and each first frame turn only a few rows into invocations."""
    visitor = client(web)
    with rows_read() as fetched:
        assert (await visitor.get(f"/networks/{network_id}/info")).status_code == 200
    assert 0 < len(fetched) <= 4, fetched  # the tail the page paints
    for name in ("wall", "spot"):
        with rows_read() as fetched:
            async with visitor.websocket(f"/ws/displays/{display}/{name}") as ws:
                assert '"screen"' in str(await ws.receive())
        assert 0 < len(fetched) <= 4 * 3 + 3, (name, fetched)  # a 3x4 grid and the prompt


async def sample(web: Any, network_id: int, display: str) -> dict[str, float]:
    """Seconds for the info page and for each display's first frame, once."""
    visitor = client(web)
    started = time.perf_counter()
    await visitor.get(f"/networks/{network_id}/info")
    result = {"info": time.perf_counter() - started}
    for name in ("wall", "spot"):
        started = time.perf_counter()
        async with visitor.websocket(f"/ws/displays/{display}/{name}") as ws:
            await ws.receive()
        result[name] = time.perf_counter() - started
    return result


async def check_shared_run_pages(web: Any, panic: Any, network_id: int) -> None:
    """A shared run page reads one page of steps, however long the run; the pages chain."""
    genesis = panic.status(network_id).genesis
    nonce = await panic.share_run(network_id, genesis.run_number)
    token = web.app.extensions[EXTENSION].run_links.token(network_id, genesis.run_number, nonce)
    visitor = client(web)
    url = f"/networks/{network_id}/runs/{genesis.run_number}"
    with rows_read() as fetched:
        page = await text_of(await visitor.get(f"{url}?share={token}"))
    assert len(fetched) <= STEPS_PER_PAGE + 2, len(fetched)
    drawn = [int(n) for n in re.findall(r'<li class="step state-\w+" id="step-(\d+)"', page)]
    assert drawn == list(range(STEPS_PER_PAGE))
    assert 'id="first-steps"' not in page
    [after] = re.findall(r'id="next-steps" href="[^"]*after=(\d+)&amp;share=', page)
    assert int(after) == STEPS_PER_PAGE - 1
    with rows_read() as fetched:
        page = await text_of(await visitor.get(f"{url}?share={token}&after={after}"))
    assert len(fetched) <= STEPS_PER_PAGE + 3, len(fetched)  # and the genesis, for its cycle
    drawn = [int(n) for n in re.findall(r'<li class="step state-\w+" id="step-(\d+)"', page)]
    assert drawn == list(range(STEPS_PER_PAGE, 2 * STEPS_PER_PAGE))
    assert "s after the previous step" in page.split(f'id="step-{STEPS_PER_PAGE}"')[1][:600]
    assert 'id="first-steps"' in page
    for bad in ("abc", "-1", "%C2%B2"):
        assert (await visitor.get(f"{url}?share={token}&after={bad}")).status_code == 422, bad
