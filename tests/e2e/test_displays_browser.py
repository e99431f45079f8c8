"""Browser tests of the TV displays: grid and single screens fill in order,
and a screen recovers by itself when the server restarts.

The server runs ``app.serve`` in a thread with its own ``trio.run`` and can be
stopped and started again on the same port. Every wait is a Playwright wait.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from playwright.sync_api import Browser, Page, expect

from panic_trio.panic import open_panic
from panic_trio.settings import Settings
from tests.e2e.browsing import (
    MARKS,
    WAIT_MS,
    Server,
    watch_errors,
)
from tests.e2e.conftest import PASSWORD, live_settings

pytestmark = MARKS


WRAPPED = re.compile(r"^([6-9]|\d{2,})$")  # a sequence number of 6 or more


@pytest.fixture
def pages(browser: Browser) -> Iterator[tuple[Page, Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    yield watch_errors(context.new_page(), errors), watch_errors(context.new_page(), errors), errors
    context.close()


def slots_of(page: Page) -> dict[int, int]:
    """Slot → sequence number of every tile on the screen right now."""
    found: list[list[int]] = page.eval_on_selector_all(
        "#watcher-display .tile",
        "tiles => tiles.map(t => [Number(t.dataset.slot), Number(t.dataset.sequence)])",
    )
    return dict((slot, seq) for slot, seq in found)


async def _seed(settings: Settings) -> dict[str, Any]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("tv@example.org", PASSWORD)
        network = await panic.create_network(owner.id, "Echo", models=["dummy-t2t"])
        installation = await panic.installations.create(
            network.id,
            "Gallery",
            [
                {"type": "grid", "name": "wall", "rows": 2, "columns": 3},
                {"type": "single", "name": "odd", "stride": 2, "offset": 1},
            ],
        )
        return {
            "network_id": network.id,
            "installation_id": installation.id,
            "display_id": installation.public_id,
            "key": await panic.create_api_key(owner.id, "display tests"),
        }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, dict[str, Any]]]:
    settings = live_settings(tmp_path, backoff="inf:0.4")
    seeded = trio.run(_seed, settings)
    running = Server(settings)
    running.start()
    yield running, seeded
    running.stop()


def start_run(server: Server, seeded: dict[str, Any], prompt: str) -> None:
    headers = {"Authorization": f"Bearer {seeded['key']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        response = http.post(f"/api/networks/{seeded['network_id']}/runs", json={"prompt": prompt})
        assert response.status_code == 201, response.text


def stop_run(server: Server, seeded: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {seeded['key']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        http.delete(f"/api/networks/{seeded['network_id']}/runs/current")


def test_grid_and_single_screens_fill_in_order(
    pages: tuple[Page, Page, list[str]], server: tuple[Server, dict[str, Any]]
) -> None:
    page, single, errors = pages
    running, seeded = server
    base = f"{running.url}/i/{seeded['display_id']}"
    page.goto(f"{base}/wall")
    expect(page).to_have_title("Gallery - wall · PANIC!")
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    expect(page.locator("#attract")).to_contain_text("scan to prompt")  # idle: no codes
    single.goto(f"{base}/odd")
    expect(single.locator("body")).to_have_attribute("data-connected", "true")
    expect(single.locator("#attract")).to_contain_text("Echo")
    start_run(running, seeded, "a *red* balloon")
    expect(page.locator("#last-prompt")).to_have_text("a *red* balloon")
    expect(page.locator("#watcher-display .tile")).to_have_count(6)
    expect(page.locator("#slot-1 .tile-text")).to_contain_text("DUMMY_TEXT")
    expect(page.locator("#slot-0")).to_have_attribute("data-sequence", WRAPPED)
    stop_run(running, seeded)
    shown = slots_of(page)
    assert sorted(shown) == list(range(6))
    assert all(seq % 6 == slot for slot, seq in shown.items())  # slot by slot, wrapping
    assert max(shown.values()) - min(shown.values()) == 5  # the six latest, in order
    expect(single.locator("#watcher-display .tile")).to_have_count(1)
    expect(single.locator("#slot-0")).to_have_attribute("data-sequence", re.compile(r"[13579]$"))
    assert errors == []


def test_a_screen_recovers_by_itself_after_a_server_restart(
    pages: tuple[Page, Page, list[str]], server: tuple[Server, dict[str, Any]]
) -> None:
    page, _, errors = pages
    running, seeded = server
    page.goto(f"{running.url}/i/{seeded['display_id']}/wall")
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    start_run(running, seeded, "keep going")
    expect(page.locator("#slot-3")).to_have_attribute("data-sequence", re.compile(r"\d"))
    running.stop()  # the run is shut down, not failed: it resumes after the restart
    expect(page.locator("body")).to_have_attribute("data-connected", "false")
    expect(page.locator("#connection")).to_be_visible()
    before = max(slots_of(page).values())
    running.start()
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    expect(page.locator("#connection")).to_be_hidden()
    expect(page.locator("#last-prompt")).to_have_text("keep going")
    later = re.compile(rf"^({'|'.join(str(n) for n in range(before + 1, before + 40))})$")
    expect(page.locator("#slot-0")).to_have_attribute("data-sequence", later)
    stop_run(running, seeded)
    # While the server was down the browser logged failed connection attempts; nothing else.
    assert [e for e in errors if "WebSocket" not in e] == []


def test_a_screen_reloads_itself_when_its_watcher_is_changed(
    pages: tuple[Page, Page, list[str]], server: tuple[Server, dict[str, Any]]
) -> None:
    screen, owner, errors = pages
    running, seeded = server
    installation = seeded["installation_id"]
    screen.goto(f"{running.url}/i/{seeded['display_id']}/wall")
    expect(screen.locator("body")).to_have_attribute("data-connected", "true")
    expect(screen.locator("#watcher-display")).to_have_attribute("data-rows", "2")
    owner.goto(f"{running.url}/sign-in")
    owner.get_by_label("Email").fill("tv@example.org")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Sign in").click()
    owner.goto(f"{running.url}/installations/{installation}/watchers/wall/edit")
    owner.locator("input[name=rows]").fill("3")
    owner.get_by_role("button", name="Save Watcher").click()
    expect(owner).to_have_url(re.compile(rf"/installations/{installation}$"))
    expect(screen.locator("#watcher-display")).to_have_attribute("data-rows", "3")  # untouched
    expect(screen.locator("body")).to_have_attribute("data-connected", "true")
    assert errors == []
