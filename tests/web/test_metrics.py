"""``GET /metrics``: Prometheus text for admins or the metrics token, never for anyone else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from panic_trio.operations import Metrics
from panic_trio.panic import open_panic
from panic_trio.web import create_app
from tests.web.conftest import (
    PASSWORD,
    SECRET,
    TIMEOUT,
    FakeClock,
    World,
    client,
    make_settings,
    signed_in,
    text_of,
)

METRICS_TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
async def exported(tmp_path: Path) -> AsyncIterator[World]:
    """An app serving /metrics, with a metrics token set."""
    settings = make_settings(tmp_path, metrics_token=METRICS_TOKEN)
    async with open_panic(settings) as panic:
        metrics = Metrics(panic)
        app = create_app(panic, settings, secret_key=SECRET, exporter=metrics)
        owner = await panic.create_user("owner@example.org", PASSWORD)
        other = await panic.create_user("other@example.org", PASSWORD)
        admin = await panic.create_user("admin@example.org", PASSWORD, admin=True)
        network = await panic.create_network(owner.id, "Loop", models=["dummy-t2i", "dummy-i2t"])
        async with app.test_app(), trio.open_nursery() as nursery:
            await nursery.start(metrics.run)
            tokens = app.extensions["panic_web"].tokens
            yield World(panic, app, settings, FakeClock(), tokens, owner, other, admin, network)
            nursery.cancel_scope.cancel()


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        family.name: [(s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


async def test_nobody_but_admins_and_the_token_reads_metrics(exported: World) -> None:
    world = exported
    with trio.fail_after(TIMEOUT):
        anonymous = await client(world).get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "panic_" not in await text_of(anonymous)
        for header in ("Bearer wrong-token-0123456789", "Basic YWRtaW46YWRtaW4=", "Bearer "):
            refused = await client(world).get("/metrics", headers={"Authorization": header})
            assert refused.status_code == 401, header
        owner = await signed_in(world, world.owner)
        assert (await owner.get("/metrics")).status_code == 403
        owner_key = await world.panic.create_api_key(world.owner.id, "scraper")
        as_owner = {"Authorization": f"Bearer {owner_key}"}
        assert (await client(world).get("/metrics", headers=as_owner)).status_code == 403

        admin = await signed_in(world, world.admin)
        admin_key = await world.panic.create_api_key(world.admin.id, "prometheus")
        allowed = [
            await admin.get("/metrics"),
            await client(world).get("/metrics", headers={"Authorization": f"Bearer {admin_key}"}),
            await client(world).get(
                "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            ),
        ]
        for response in allowed:
            assert response.status_code == 200
            assert response.mimetype == "text/plain"
            found = families(await text_of(response))
            assert found["panic_active_runs"] == [({}, 0.0)]
            assert "panic_invocations" in found  # declared, even before the first step


async def test_viewers_and_active_runs_are_what_they_are_now(exported: World) -> None:
    world = exported
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    with trio.fail_after(TIMEOUT):
        await world.panic.start_run(world.network.id, "a red balloon")
        async with client(world).websocket(f"/ws/networks/{world.network.id}") as ws:
            await ws.receive()  # the status on connect: the socket is counted
            found = families(await text_of(await client(world).get("/metrics", headers=headers)))
        assert found["panic_websocket_viewers"] == [({}, 1.0)]
        assert found["panic_active_runs"] == [({}, 1.0)]
        await world.panic.stop_run(world.network.id)
        found = families(await text_of(await client(world).get("/metrics", headers=headers)))
        assert found["panic_websocket_viewers"] == [({}, 0.0)]
        assert found["panic_active_runs"] == [({}, 0.0)]


async def test_an_app_without_an_exporter_has_no_metrics(world: World) -> None:
    admin = await signed_in(world, world.admin)
    with trio.fail_after(TIMEOUT):
        assert (await admin.get("/metrics")).status_code == 404
