"""An admin signed in on any process sees the runs another process runs: its page and its feed."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import trio

from panic_trio import open_panic
from tests.e2e.conftest import open_ws
from tests.nodes.conftest import PASSWORD, Cluster
from tests.nodes.test_failover import assert_run_sound, start_run

pytestmark = pytest.mark.postgres

ADMIN = "admin@example.org"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def signed_in_admin(cluster: Cluster, node: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client holding an admin's session cookie on ``node``."""
    async with open_panic(cluster.settings(), runs=False) as panic:
        await panic.create_user(ADMIN, PASSWORD, admin=True)
    async with httpx.AsyncClient(base_url=cluster.nodes[node].url, timeout=30) as http:
        form = await http.get("/sign-in")
        found = _CSRF.search(form.text)
        assert found is not None
        fields = {"email": ADMIN, "password": PASSWORD, "csrf_token": found[1]}
        assert (await http.post("/sign-in", data=fields)).status_code == 303
        yield http


def shown_state(page: str, network_id: int) -> str:
    """The runner state the admin page's table shows for a network."""
    found = re.search(rf'data-network-state="{network_id}">([a-z_]+)<', page)
    assert found is not None, "the network is not on the admin page"
    return found[1]


async def test_the_admin_page_and_feed_on_one_process_show_a_run_on_another(
    cluster: Cluster,
) -> None:
    cluster.extra_env["PANIC_LEASE_SECONDS"] = "10"  # no failover here
    for name in ("a", "b", "c"):
        await cluster.start(name)
    net = cluster.network_id
    async with signed_in_admin(cluster, "c") as admin:
        assert shown_state((await admin.get("/admin")).text, net) == "idle"
        url = cluster.nodes["c"].url.replace("http", "ws") + "/ws/admin"
        cookies = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
        completed: list[dict[str, object]] = []
        async with open_ws(url, headers=[(b"cookie", cookies.encode())]) as feed:
            assert json.loads(await feed.get_message())["type"] == "snapshot"
            await start_run(cluster, "b")
            with trio.fail_after(60):
                while len(completed) < 3:
                    invocation = json.loads(await feed.get_message())["invocation"]
                    if invocation is not None and invocation["state"] == "completed":
                        completed.append(invocation)
            assert await cluster.owner() == "b"
            assert [c["sequence_number"] for c in completed] == [0, 1, 2]
            assert all(str(c["output"]).endswith("by b") for c in completed)
            page = (await admin.get("/admin")).text
            assert shown_state(page, net) in ("invoking", "waiting")
            assert f'data-stop-network="{net}" disabled' not in page
    async with cluster.api("c") as api:
        stopped = await api.delete(f"/api/networks/{net}/runs/current")
        assert stopped.json() == {"stopped": True}
    await assert_run_sound(cluster)
