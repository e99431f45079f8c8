"""Spending on the web: burn rates in the JSON API and on the pages, caps in forms, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from panic_trio.domain import Network
from panic_trio.settings import Settings
from tests.runs import completed_at_least, start_and_wait
from tests.web.conftest import (
    TIMEOUT,
    World,
    csrf_of,
    make_settings,
    signed_in,
    text_of,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[models."dummy-t2i"]\nper_call = 0.02\nread_on = 2026-12-01\nsource = "test"\n'
    )
    return make_settings(tmp_path, prices=prices)


@pytest.fixture
async def world(world: World) -> World:
    """The web world, its network without a lockout (so a second prompt meets the cap)."""
    world.network = await world.panic.update_network(world.network.id, lockout_seconds=0)
    return world


async def one_step(world: World, network: Network) -> int:
    """Start a run and wait for its genesis (dummy-t2i, $0.02) to complete."""
    genesis, event = await start_and_wait(world.panic, network.id, "a kite", completed_at_least(0))
    assert event.status.state != "failed", event.status.error
    return genesis.run_number


async def unknown_cost_step(world: World, network: Network) -> None:
    """A completed step whose model had no price (cost null), straight into the store."""
    store = world.panic.store
    row = await store.create_genesis(network.id, "dummy-t2t", "unpriced")
    await store.complete_and_prepare_next(row.id, "out", {}, cost=None)
    following = await store.list_run(network.id, row.run_number)
    await store.fail(following[-1].id, {"error": "test"})


async def test_the_network_spend_says_this_run_hour_today_and_week(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await unknown_cost_step(world, world.network)
        run_number = await one_step(world, world.network)
        owner = await signed_in(world, world.owner)
        response = await owner.get(f"/api/networks/{world.network.id}/spend")
        assert response.status_code == 200
        body = await response.get_json()
        assert body["run"] == {"run_number": run_number, "amount": 0.02, "unknown": 0}
        for window in ("hour", "today", "week"):
            assert body[window] == {"amount": 0.02, "unknown": 1}
        assert body["caps"] == {"daily": None, "run": None}
        assert body["capped"] is None
        page = await text_of(await owner.get(f"/networks/{world.network.id}"))
        assert '<td data-spend="run">$0.0200</td>' in page
        assert '<td data-spend="today">$0.0200 + 1 unknown</td>' in page
        other = await signed_in(world, world.other)
        assert (await other.get(f"/api/networks/{world.network.id}/spend")).status_code == 404


async def test_the_admin_sees_every_network_and_the_total(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        second = await world.panic.create_network(
            world.other.id, "Other", models=["dummy-t2i", "dummy-i2t"], lockout_seconds=0
        )
        await one_step(world, world.network)
        await one_step(world, second)
        admin = await signed_in(world, world.admin)
        body = await (await admin.get("/api/spend")).get_json()
        assert [n["network_id"] for n in body["networks"]] == [world.network.id, second.id]
        assert body["total"]["today"] == {"amount": 0.04, "unknown": 0}
        assert body["time_zone"] == "UTC"
        page = await text_of(await admin.get("/admin"))
        assert "Spending" in page
        assert '<td data-spend="today">$0.0400</td>' in page
        owner = await signed_in(world, world.owner)
        assert (await owner.get("/api/spend")).status_code == 403


async def test_a_prompt_past_the_daily_cap_is_429_in_plain_words(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        token = await csrf_of(owner)
        patch = await owner.patch(
            f"/api/networks/{world.network.id}",
            json={"daily_cap": 0.03},
            headers={"X-CSRF-Token": token},
        )
        assert (await patch.get_json())["network"]["daily_cap"] == 0.03
        await one_step(world, world.network)  # $0.02: a second $0.02 would pass $0.03
        response = await owner.post(
            f"/api/networks/{world.network.id}/runs",
            json={"prompt": "more"},
            headers={"X-CSRF-Token": token},
        )
        assert response.status_code == 429
        body = await response.get_json()
        assert body["error"] == "spending_cap"
        assert body["scope"] == "network-day"
        assert body["message"].startswith("This network has spent today's budget of $0.03.")
        assert "accepts prompts again at 00:00" in body["message"]
        assert body["resumes_at"].endswith("T00:00:00.000000+00:00")
        assert response.headers["Retry-After"] == str(body["retry_after"])
        assert 0 < body["retry_after"] <= 86_400
        spend = await (await owner.get(f"/api/networks/{world.network.id}/spend")).get_json()
        assert spend["capped"]["scope"] == "network-day"


async def test_caps_are_set_on_the_control_panel_and_bad_ones_change_nothing(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        url = f"/networks/{world.network.id}/edit"
        form = {"name": "Loop", "description": "", "lockout_seconds": "0"}
        saved = await owner.post(
            url,
            form={**form, "daily_cap": "0.5", "run_cap": "", "csrf_token": await csrf_of(owner)},
        )
        assert saved.status_code == 303
        network = await world.panic.get_network(world.network.id)
        assert (network.daily_cap, network.run_cap) == (0.5, None)
        for bad in ("lots", "-1", "nan", "1e9"):
            refused = await owner.post(
                url, form={**form, "daily_cap": bad, "csrf_token": await csrf_of(owner)}
            )
            assert refused.status_code == 422, bad
            assert "daily cap must" in await text_of(refused)
        assert (await world.panic.get_network(world.network.id)).daily_cap == 0.5
        token = await csrf_of(owner)
        patch = await owner.patch(
            f"/api/networks/{world.network.id}",
            json={"run_cap": "ten"},
            headers={"X-CSRF-Token": token},
        )
        assert patch.status_code == 422
        assert (await patch.get_json())["field"] == "run_cap"
