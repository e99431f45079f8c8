"""``panic-trio run`` on PostgreSQL is one more process: forwarded, refused or running itself.

A real ``serve`` process (node ``a``) shares the database with the command.
When ``a`` runs the network, the command's prompt is forwarded to it (and
the command prints the steps ``a`` makes, then stops the run there); inside
the run's lockout it is refused with the owner's lockout, in one line, and
the run goes on; when no process runs the network, the command runs it
itself and lets go of it when it exits, so a server can take it at once.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from subprocess import CompletedProcess

import pytest
import trio

from panic_trio import open_panic
from panic_trio.errors import OwnerUnreachable
from tests.nodes.conftest import ROOT, SECRET, Cluster
from tests.nodes.test_failover import assert_run_sound, start_run

pytestmark = pytest.mark.postgres


async def panic_trio_run(cluster: Cluster, network_id: int, count: int) -> CompletedProcess[bytes]:
    """``panic-trio run NETWORK go --count N`` as a process named ``cli``, with the dummy models."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PANIC_")},
        "PANIC_DATABASE_URL": cluster.database_url,
        "PANIC_DATA_DIR": str(cluster.folder / "data"),
        "PANIC_SECRET_KEY": SECRET,
        "PANIC_NODE_NAME": "cli",
        "PANIC_BACKOFF": "inf:0",
    }
    command = [sys.executable, "-m", "panic_trio", "run", str(network_id), "go"]
    with trio.fail_after(60):
        return await trio.run_process(
            [*command, "--count", str(count)], cwd=ROOT, env=env,
            capture_stdout=True, capture_stderr=True, check=False,
        )  # fmt: skip


async def lockout_free_network(cluster: Cluster) -> int:
    """A second network of the same owner, with no lockout (a new prompt is taken at once)."""
    async with cluster.api("a") as api:
        body = {"name": "no lockout", "models": ["dummy-t2t"], "lockout_seconds": 0}
        created = await api.post("/api/networks", json=body)
        assert created.status_code == 201, created.text
        network_id: int = created.json()["network"]["id"]
    return network_id


async def test_a_prompt_for_a_network_a_server_runs_is_forwarded_to_it(cluster: Cluster) -> None:
    await cluster.start("a")
    cluster.network_id = await lockout_free_network(cluster)
    await start_run(cluster, "a")  # a takes the network, and keeps it after the stop
    async with cluster.api("a") as api:
        await api.delete(f"/api/networks/{cluster.network_id}/runs/current")
    assert await cluster.owner() == "a"

    done = await panic_trio_run(cluster, cluster.network_id, 3)

    assert done.returncode == 0, done.stderr.decode()
    printed = done.stdout.decode().splitlines()
    assert printed[0] == f"run 2 started on network {cluster.network_id}"
    steps = printed[1:]
    assert len(steps) == 3
    assert all(line.endswith(" by a") for line in steps), printed  # a made the calls
    assert await cluster.owner() == "a"  # still a's
    rows = await assert_run_sound(cluster)
    assert rows[0].run_number == 2
    async with cluster.api("a") as api:
        current = await api.get(f"/api/networks/{cluster.network_id}/runs/current")
        assert current.status_code == 404  # no run goes on after the command


async def test_inside_a_servers_lockout_the_command_is_refused_in_one_line(
    cluster: Cluster,
) -> None:
    await cluster.start("a")
    await start_run(cluster, "a")  # the cluster's network: a 60 s lockout

    done = await panic_trio_run(cluster, cluster.network_id, 3)

    assert done.returncode == 1
    [line] = done.stderr.decode().strip().splitlines()[-1:]
    assert line.startswith("panic-trio: error: Please wait before starting a new run ("), line
    assert done.stdout == b""
    assert await cluster.owner() == "a"  # a's run goes on, undisturbed
    before = len(await cluster.rows())
    with trio.fail_after(20):
        while len(await cluster.rows()) < before + 2:
            await trio.sleep(0.1)
    assert [c.node for c in cluster.calls.calls] == ["a"] * len(cluster.calls.calls)


async def test_with_no_process_running_it_the_command_runs_it_and_lets_go_at_exit(
    cluster: Cluster,
) -> None:
    await cluster.start("a")  # a serves, but has never run this network
    cluster.network_id = await lockout_free_network(cluster)
    assert await cluster.owner() is None

    done = await panic_trio_run(cluster, cluster.network_id, 3)

    assert done.returncode == 0, done.stderr.decode()
    steps = done.stdout.decode().splitlines()[1:]
    assert len(steps) == 3
    assert not any(line.endswith(" by a") for line in steps)  # the command's own dummy model
    assert cluster.calls.calls == []
    assert await cluster.owner() is None  # released at exit, not left to expire
    await start_run(cluster, "a")  # so a server takes it at once
    assert await cluster.owner() == "a"


async def test_when_the_owner_does_not_answer_the_api_raises_and_the_web_answers_503(
    cluster: Cluster,
) -> None:
    cluster.extra_env["PANIC_LEASE_SECONDS"] = "60"  # a frozen owner keeps its lease throughout
    await cluster.start("a")
    await cluster.start("b")
    cluster.network_id = await lockout_free_network(cluster)
    await start_run(cluster, "a")
    async with cluster.api("a") as api:
        await api.delete(f"/api/networks/{cluster.network_id}/runs/current")
    cluster.signal("a", signal.SIGSTOP)
    try:
        settings = dataclasses.replace(cluster.settings(), node_name="embedded")
        async with open_panic(settings) as panic:  # a program embedding panic-trio
            asked_at = trio.current_time()
            with pytest.raises(OwnerUnreachable) as refused:
                await panic.start_run(cluster.network_id, "go")
            waited = trio.current_time() - asked_at
        assert refused.value.owner == "a"
        assert "(a) did not answer within 5 s" in str(refused.value)
        assert 5.0 <= waited < 10.0
        async with cluster.api("b") as api:  # a server asked the same
            answer = await api.post(
                f"/api/networks/{cluster.network_id}/runs", json={"prompt": "go"}
            )
        assert answer.status_code == 503
        assert answer.json()["error"] == "owner_unreachable"
        assert answer.headers["Retry-After"] == "5"
    finally:
        cluster.signal("a", signal.SIGCONT)
    assert await cluster.owner() == "a"
    assert [c.node for c in cluster.calls.calls] == ["a"] * len(cluster.calls.calls)
