"""A viewer on any process sees every event of a network another process runs, in order."""

from __future__ import annotations

import json

import pytest
import trio

from tests.e2e.conftest import open_ws
from tests.nodes.conftest import Cluster
from tests.nodes.test_failover import assert_run_sound, start_run

pytestmark = pytest.mark.postgres

STEPS = 10


async def test_a_viewer_on_one_process_sees_every_step_run_by_another_in_order(
    cluster: Cluster,
) -> None:
    cluster.extra_env["PANIC_LEASE_SECONDS"] = "10"  # no failover here
    for name in ("a", "b", "c"):
        await cluster.start(name)
    url = cluster.nodes["a"].url.replace("http", "ws") + f"/ws/networks/{cluster.network_id}"
    seen: list[dict[str, object]] = []
    async with open_ws(url) as ws:
        json.loads(await ws.get_message())  # the status on connect
        await start_run(cluster, "b")  # b runs it; a only hears of it
        with trio.fail_after(60):
            while len(seen) < STEPS:
                message = json.loads(await ws.get_message())
                invocation = message.get("invocation")
                if message["type"] == "invocation" and invocation["state"] == "completed":
                    seen.append(invocation)
        assert await cluster.owner() == "b"
        async with cluster.api("c") as api:  # the runner status, read on a third process
            current = (await api.get(f"/api/networks/{cluster.network_id}/runs/current")).json()
        assert current["status"]["state"] in ("invoking", "waiting")
        assert current["genesis"]["run_number"] == seen[0]["run_number"]
        assert current["current"]["sequence_number"] >= STEPS - 1
        async with cluster.api("a") as api:
            response = await api.delete(f"/api/networks/{cluster.network_id}/runs/current")
            assert response.json() == {"stopped": True}
    rows = await assert_run_sound(cluster)
    completed = [r.to_json() for r in rows if r.state == "completed"][: len(seen)]
    assert [s["sequence_number"] for s in seen] == list(range(STEPS))  # every step, in order
    assert [(s["id"], s["output"]) for s in seen] == [(r["id"], r["output"]) for r in completed]
    assert all(str(s["output"]).endswith("by b") for s in seen)
