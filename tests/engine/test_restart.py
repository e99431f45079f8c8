"""Kill the process mid-run (SIGKILL), start again: nothing lost, the run goes on."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
from pathlib import Path

import trio

from panic_trio import Settings, open_panic
from panic_trio.domain import Invocation
from panic_trio.store.store import open_store

ROOT = Path(__file__).resolve().parents[2]


async def crash_mid_run(settings: Settings, steps: int) -> tuple[int, list[Invocation]]:
    """Run the child until ``steps`` completions, SIGKILL it mid-call; return what it left."""
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "tests.engine.restart_child",
            settings.database_url,
            str(settings.data_dir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    buffer = b""
    network_id = None
    completed = 0
    with trio.fail_after(30):
        while completed < steps:
            chunk = await process.stdout.receive_some()
            assert chunk, "child exited early"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                words = line.decode().split()
                if words[0] == "network":
                    network_id = int(words[1])
                elif words[0] == "completed":
                    completed += 1
        await trio.sleep(0.05)  # well inside the next 0.2 s dummy call
        process.send_signal(signal.SIGKILL)
        await process.wait()
    await process.stdout.aclose()
    assert network_id is not None
    async with open_store(settings.database_url) as store:
        [row] = await store.recent_invocations(1, network_id)
        rows = await store.list_run(network_id, row.run_number)
    return network_id, rows


def assert_contiguous(rows: list[Invocation]) -> None:
    assert [r.sequence_number for r in rows] == list(range(len(rows)))
    assert len({r.run_number for r in rows}) == 1


async def test_after_sigkill_the_interrupted_step_is_invoked_again_and_the_run_goes_on(
    settings: Settings,
) -> None:
    network_id, before = await crash_mid_run(settings, steps=3)
    assert_contiguous(before)
    *done, interrupted = before
    assert all(r.state == "completed" for r in done)
    assert len(done) >= 3
    assert interrupted.state == "invoking"  # left behind by the dead process

    resumed = dataclasses.replace(settings, dummy_delay=0.01)
    async with open_panic(resumed) as panic:
        assert panic.status(network_id).active
        with trio.fail_after(10):
            async with panic.watch(network_id) as events:
                async for event in events:
                    inv = event.invocation
                    target = interrupted.sequence_number + 2
                    if inv and inv.state == "completed" and inv.sequence_number >= target:
                        break
        await panic.stop_run(network_id)
        after = await panic.list_run(network_id, interrupted.run_number)
    assert_contiguous(after)
    assert after[: len(done)] == done  # completed rows intact, to the microsecond
    again = after[len(done)]
    assert again.id == interrupted.id  # the same row was invoked again
    assert again.state == "completed"
    assert again.input == interrupted.input
    assert not any(r.state == "invoking" for r in after)


async def test_with_resume_off_the_interrupted_step_is_failed_and_the_runner_is_idle(
    settings: Settings,
) -> None:
    network_id, before = await crash_mid_run(settings, steps=2)
    interrupted = before[-1]
    assert interrupted.state == "invoking"
    async with open_panic(dataclasses.replace(settings, resume_runs=False)) as panic:
        assert panic.status(network_id).state == "idle"
        after = await panic.list_run(network_id, interrupted.run_number)
        assert after[:-1] == before[:-1]
        assert after[-1].id == interrupted.id
        assert after[-1].state == "failed"
        assert after[-1].metadata == {"error": "interrupted"}
        # and a new prompt is accepted at once
        await panic.start_run(network_id, "fresh start")


async def test_a_graceful_close_resumes_on_the_next_open(settings: Settings) -> None:
    async with open_panic(dataclasses.replace(settings, dummy_delay=30)) as panic:
        user = await panic.create_user("g@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "g", models=["dummy-t2t"])
        genesis = await panic.start_run(net.id, "keep going")
    async with open_store(settings.database_url) as store:
        [row] = await store.list_run(net.id, genesis.run_number)
    assert row.state == "ready"  # released, not failed
    async with open_panic(settings) as panic:
        with trio.fail_after(10):
            async with panic.watch(net.id) as events:
                async for event in events:
                    if event.invocation is not None and event.invocation.state == "completed":
                        break
        assert event.invocation is not None
        assert event.invocation.id == genesis.id
