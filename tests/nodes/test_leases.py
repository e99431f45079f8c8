"""Busy processes keep their leases: renewals never wait behind run writes or requests."""

from __future__ import annotations

import itertools
import signal

import httpx
import pytest
import sqlalchemy
import trio

from panic_trio import open_panic
from tests.nodes.conftest import PASSWORD, Cluster
from tests.nodes.test_routing import admin_keys

pytestmark = pytest.mark.postgres

NETWORKS = 80  # half prompted on each process, which then runs them
SECONDS = 20.0  # four leases (conftest.LEASE) of instant steps


def epochs(cluster: Cluster) -> dict[int, tuple[str, int]]:
    """Each network's lease: its owner and epoch (bumped by every change of owner)."""
    with cluster.store.engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT network_id, owner, epoch FROM runner_leases"))
        return {int(r.network_id): (str(r.owner), int(r.epoch)) for r in rows}


async def test_two_busy_processes_keep_every_lease_they_use(cluster: Cluster) -> None:
    cluster.calls.duration = 0.0  # instant models: each process writes as fast as it can
    for name in ("a", "b"):
        await cluster.start(name)
    keys = itertools.cycle(await admin_keys(cluster))
    async with open_panic(cluster.settings(), runs=False) as panic:
        owner = await panic.create_user("busy@example.org", PASSWORD)
        made = [
            await panic.create_network(
                owner.id, f"busy {i}", models=["dummy-t2t"], lockout_seconds=60
            )
            for i in range(NETWORKS)
        ]
    nets = [network.id for network in made]
    placed = {net: "ab"[i % 2] for i, net in enumerate(nets)}

    async def prompt(http: httpx.AsyncClient, net: int, node: str) -> httpx.Response:
        return await http.post(
            f"{cluster.nodes[node].url}/api/networks/{net}/runs",
            json={"prompt": "go"},
            headers={"Authorization": f"Bearer {next(keys)}"},
        )

    async with httpx.AsyncClient(timeout=60) as http:
        for net, node in placed.items():
            assert (await prompt(http, net, node)).status_code == 201
        before = epochs(cluster)
        assert before == {net: (node, 1) for net, node in placed.items()}
        # Meanwhile prompts at the other process: claims, forwarded requests, replies.
        refused = []
        with trio.move_on_after(SECONDS):
            for net, node in itertools.cycle(placed.items()):
                other = "b" if node == "a" else "a"
                refused.append((await prompt(http, net, other)).status_code)
                await trio.sleep(0.5)
    assert set(refused) == {429}  # locked out by the owner: its run goes on
    assert epochs(cluster) == before  # no network changed hands
    for process in cluster.nodes.values():
        log = process.stderr()
        assert "lease not renewed" not in log
        assert "result discarded" not in log
    steps = await cluster.store.recent_invocations(100_000)
    per_network = {net: sum(1 for r in steps if r.network_id == net) for net in nets}
    assert min(per_network.values()) > 10, per_network  # every run went on
    for process in cluster.nodes.values():  # a handover at exit: calls end, none overlap
        process.process.send_signal(signal.SIGTERM)
    with trio.fail_after(30):
        for process in cluster.nodes.values():
            await process.process.wait()
    assert all(call.end is not None for call in cluster.calls.calls)
    assert cluster.calls.overlaps(await cluster.network_of_rows()) == []
