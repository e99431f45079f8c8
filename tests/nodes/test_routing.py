"""Prompts and stops for a network owned by another process are answered by the owner."""

from __future__ import annotations

import itertools

import httpx
import pytest
import trio

from panic_trio import open_panic
from tests.nodes.conftest import PASSWORD, SECRET, Cluster
from tests.nodes.test_failover import assert_run_sound, completions

pytestmark = pytest.mark.postgres

PROMPTS = 200
ADMINS = 20  # the API allows 5 prompts per 15 s per caller and process


async def admin_keys(cluster: Cluster) -> list[str]:
    from panic_trio import Settings

    settings = Settings(
        database_url=cluster.database_url, data_dir=cluster.folder / "data", secret_key=SECRET
    )
    keys = []
    async with open_panic(settings, runs=False) as panic:
        for i in range(ADMINS):
            user = await panic.create_user(f"admin{i}@example.org", PASSWORD, admin=True)
            keys.append(await panic.create_api_key(user.id, "load"))
    return keys


async def test_200_prompts_over_three_processes_start_one_run_and_the_rest_hear_the_lockout(
    cluster: Cluster,
) -> None:
    # No failover here: a long lease, so 200 requests at once on two busy
    # cores cannot starve a renewal past it.
    cluster.extra_env["PANIC_LEASE_SECONDS"] = "10"
    for name in ("a", "b", "c"):
        await cluster.start(name)
    keys = await admin_keys(cluster)
    answers: list[httpx.Response] = []
    limits = httpx.Limits(max_connections=PROMPTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def prompt(i: int, node: str, key: str) -> None:
            answers.append(
                await http.post(
                    f"{cluster.nodes[node].url}/api/networks/{cluster.network_id}/runs",
                    json={"prompt": f"prompt {i}"},
                    headers={"Authorization": f"Bearer {key}"},
                )
            )

        plan = zip(range(PROMPTS), itertools.cycle("abc"), itertools.cycle(keys), strict=False)
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                for i, node, key in plan:
                    nursery.start_soon(prompt, i, node, key)
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(201) == 1, [r.text for r in answers if r.status_code != 429][:5]
    assert statuses.count(429) == PROMPTS - 1
    [started] = [r.json()["genesis"] for r in answers if r.status_code == 201]
    owner = await cluster.owner()
    assert owner in ("a", "b", "c")
    refused = [r for r in answers if r.status_code == 429]
    assert {r.json()["error"] for r in refused} == {"locked_out"}
    assert {r.json()["genesis"]["id"] for r in refused} == {started["id"]}
    waits = [int(r.headers["Retry-After"]) for r in refused]
    assert all(1 <= wait <= 60 for wait in waits)  # the owner's lockout, counted from the genesis
    print(f"owner {owner}; Retry-After from {min(waits)} to {max(waits)} s")

    await completions(cluster, owner, 2)
    other = next(name for name in "abc" if name != owner)
    async with cluster.api(other) as api:  # stop from a process that does not run it
        response = await api.delete(f"/api/networks/{cluster.network_id}/runs/current")
        assert response.json() == {"stopped": True}
    rows = await assert_run_sound(cluster)
    assert rows[-1].state == "failed"
    assert rows[-1].metadata.get("cancelled") is True
