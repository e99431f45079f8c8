"""SIGKILL the real ``panic-trio serve`` process at random points, twenty times.

Two dummy networks run in a real server process (the CLI, as deployed). Each
iteration starts the server on the same database, sometimes prompts, waits
until the resumed run has made progress, then kills the process with SIGKILL
after a random extra delay (some iterations kill it during start-up, while it
migrates and resumes). After every kill the database must hold:

- every completed row seen before, unchanged (nothing lost or rewritten);
- sequence numbers contiguous per run, and (network, run, sequence) unique;
- live (``ready``/``invoking``) rows only as the last row of a network's
  latest run: the one the next start resumes; none left behind elsewhere;
- every genesis the API acknowledged (201), with its prompt.

While the server is up, each network whose run was live is reported active
by the API (a live runner owns the live row), and its run resumed: the same
run number gained completed steps.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from panic_trio import Settings, open_panic
from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ITERATIONS = 20
STARTUP_KILLS = {4, 11, 17}  # killed at a random moment of start-up, before /healthz answers
SECRET = "a-crash-test-secret-key-long-enough"

Row = tuple[Any, ...]  # id, network, run, sequence, state, input, output, inserted_at


def read_rows(path: Path) -> list[Row]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT id, network_id, run_number, sequence_number, state, input, output, inserted_at"
            " FROM invocations ORDER BY network_id, run_number, sequence_number"
        ).fetchall()


def check_invariants(rows: list[Row], completed_before: dict[int, Row], context: str) -> None:
    by_run: dict[tuple[int, int], list[Row]] = {}
    for row in rows:
        by_run.setdefault((row[1], row[2]), []).append(row)
    keys = [(r[1], r[2], r[3]) for r in rows]
    assert len(keys) == len(set(keys)), f"{context}: duplicate (network, run, sequence)"
    latest = {network: max(run for n, run in by_run if n == network) for network, _ in by_run}
    for (network, run), run_rows in by_run.items():
        seqs = [r[3] for r in run_rows]
        assert seqs == list(range(len(seqs))), f"{context}: run {run} not contiguous: {seqs}"
        assert run_rows[0][0] == run, f"{context}: run {run} is not numbered by its genesis"
        for row in run_rows[:-1]:
            assert row[4] in ("completed", "failed"), f"{context}: live row {row} mid-run"
        if run != latest[network]:
            assert run_rows[-1][4] in ("completed", "failed"), f"{context}: stale live row"
    now = {r[0]: r for r in rows}
    for row_id, before in completed_before.items():
        assert now.get(row_id) == before, f"{context}: completed row {row_id} changed or vanished"


async def seed(settings: Settings) -> tuple[list[int], str]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("crash@example.org", "correct horse battery")
        ids = []
        for name, lockout in (("replaced", 0), ("steady", 30)):
            net = await panic.create_network(
                owner.id, name, models=["dummy-t2t", "dummy-t2t"], lockout_seconds=lockout
            )
            ids.append(net.id)
        return ids, await panic.create_api_key(owner.id, "crash test")


@asynccontextmanager
async def server(tmp_path: Path, settings: Settings, iteration: int) -> AsyncIterator[str]:
    """``python -m panic_trio serve`` on a fresh port; yields its URL; always SIGKILLed."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANIC_")}
    env.update(
        PANIC_DATABASE_URL=settings.database_url,
        PANIC_DATA_DIR=str(settings.data_dir),
        PANIC_SECRET_KEY=SECRET,
        PANIC_HOST="127.0.0.1",
        PANIC_PORT=str(port),
        PANIC_BACKOFF="inf:0.01",
        PANIC_DUMMY_DELAY="0.02",
        PANIC_LOG_LEVEL="WARNING",
    )
    log_path = tmp_path / f"serve-{iteration}.log"
    log = await trio.to_thread.run_sync(log_path.open, "wb")
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "panic_trio", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()  # SIGKILL: no cleanup of any kind
        with trio.CancelScope(shield=True):
            await process.wait()
        log.close()
    assert process.returncode == -9, log_path.read_text()


async def wait_ready(http: httpx.AsyncClient) -> None:
    while True:
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await trio.sleep(0.02)


@pytest.mark.slow
async def test_twenty_sigkills_at_random_points_lose_nothing_and_runs_resume(
    tmp_path: Path, settings: Settings
) -> None:
    seed_value = random.randrange(2**32)
    rng = random.Random(seed_value)
    networks, key = await seed(settings)
    replaced, steady = networks
    db = Path(settings.database_url.removeprefix("sqlite:///"))
    headers = {"Authorization": f"Bearer {key}"}
    acknowledged: dict[int, str] = {}  # genesis id -> prompt, as the API answered
    completed: dict[int, Row] = {}
    kills_mid_run = 0
    with trio.fail_after(150):
        for i in range(ITERATIONS):
            context = f"iteration {i} (seed {seed_value})"
            before = await trio.to_thread.run_sync(read_rows, db)
            live_before = {r[1]: r for r in before if r[4] in ("ready", "invoking")}
            async with (
                server(tmp_path, settings, i) as url,
                httpx.AsyncClient(base_url=url, headers=headers, timeout=5) as http,
            ):
                if i in STARTUP_KILLS:
                    await trio.sleep(rng.uniform(0.0, 0.8))  # the kill point, not a wait
                    continue
                await wait_ready(http)
                # Every network that had a live row is being run again by a live runner.
                for network_id in live_before:
                    status = (await http.get(f"/api/networks/{network_id}")).json()["status"]
                    assert status["state"] in ("invoking", "waiting"), (context, status)
                    resumed = (status["genesis"] or {}).get("run_number")
                    assert resumed == live_before[network_id][2], (context, status)  # that run
                prompts = [steady, replaced] if i == 0 else []
                if i > 0 and rng.random() < 0.4:
                    prompts.append(replaced)  # lockout 0: replaces the run in flight
                for network_id in prompts:
                    prompt = f"prompt {i} for {network_id}"
                    answer = await http.post(
                        f"/api/networks/{network_id}/runs", json={"prompt": prompt}
                    )
                    assert answer.status_code == 201, (context, answer.text)
                    acknowledged[answer.json()["genesis"]["id"]] = prompt
                # The steady run resumed: the same run number gains completed steps.
                run = live_before[steady][2] if steady in live_before else None
                floor = max((r[3] for r in before if r[1] == steady and r[4] == "completed"),
                            default=-1)  # fmt: skip
                while run is not None:
                    body = (await http.get(f"/api/networks/{steady}/runs/{run}")).json()
                    done = [r for r in body["invocations"] if r["state"] == "completed"]
                    if done and done[-1]["sequence_number"] > floor:
                        break
                    await trio.sleep(0.02)
                await trio.sleep(rng.uniform(0.0, 0.4))  # the kill point, not a wait
                kills_mid_run += 1
            rows = await trio.to_thread.run_sync(read_rows, db)
            check_invariants(rows, completed, context)
            completed.update({r[0]: r for r in rows if r[4] == "completed"})
    by_id = {r[0]: r for r in rows}
    for genesis_id, prompt in acknowledged.items():
        assert by_id[genesis_id][5] == prompt, f"acknowledged genesis {genesis_id} lost"
        assert by_id[genesis_id][3] == 0
    assert kills_mid_run == ITERATIONS - len(STARTUP_KILLS)
    assert len(completed) > 2 * ITERATIONS  # the runs really ran between the kills
