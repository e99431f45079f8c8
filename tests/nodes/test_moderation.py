"""An output hidden on one process disappears from the screens of another at once."""

from __future__ import annotations

import json
import re

import pytest
import trio

from tests.e2e.conftest import open_ws
from tests.nodes.conftest import Cluster
from tests.nodes.test_admin import signed_in_admin
from tests.nodes.test_failover import start_run

pytestmark = pytest.mark.postgres

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_a_hide_made_on_one_process_reaches_a_screen_on_another(cluster: Cluster) -> None:
    cluster.extra_env["PANIC_LEASE_SECONDS"] = "10"  # no failover here
    for name in ("a", "b"):
        await cluster.start(name)
    net = cluster.network_id
    url = cluster.nodes["b"].url.replace("http", "ws") + f"/ws/networks/{net}?v=2"
    async with open_ws(url) as screen:
        json.loads(await screen.get_message())  # the status on connect
        await start_run(cluster, "b")
        with trio.fail_after(60):
            while True:
                frame = json.loads(await screen.get_message())
                shown = frame.get("invocation")
                if shown is not None and shown["state"] == "completed":
                    break
        assert shown["output"]
        async with signed_in_admin(cluster, "a") as admin:  # the operator is on process a
            page = await admin.get(f"/networks/{net}/moderation")
            found = _CSRF.search(page.text)
            assert found is not None
            form = {"invocation_id": str(shown["id"]), "csrf_token": found[1]}
            hid = await admin.post(f"/networks/{net}/moderation/hide", data=form)
            assert hid.status_code == 303, hid.text
        with trio.fail_after(10):
            while True:
                frame = json.loads(await screen.get_message())
                if frame["type"] == "hidden":
                    break
                current = (frame.get("status") or {}).get("current") or {}
                assert current.get("output") != shown["output"] or current["id"] != shown["id"]
    hidden = frame["invocation"]
    assert hidden["id"] == shown["id"]
    assert hidden["output"] is None
    assert hidden["metadata"]["hidden"] is True
    async with cluster.api("a") as api:
        response = await api.delete(f"/api/networks/{net}/runs/current")
        assert response.json() == {"stopped": True}
