"""Browser tests: Debian chromium driven by Playwright's sync API.

The server is ``app.serve`` in a background thread with its own ``trio.run``
(Playwright's async API is asyncio-only). Every wait is a Playwright wait on
the page's state, bounded by the default timeout: no fixed sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio
from playwright.sync_api import Browser, Page, expect

from panic_trio.panic import open_panic
from tests.e2e.browsing import (
    MARKS,
    SCREENSHOTS,
    WAIT_MS,
    served,
)
from tests.e2e.conftest import PASSWORD, live_settings

expect.set_options(timeout=WAIT_MS)

pytestmark = MARKS


@dataclass
class Live:
    """The running server and what was seeded into it."""

    url: str
    admin_key: str
    owner_key: str
    owner_id: int
    network_id: int
    second_id: int


async def _seed(settings: Any) -> dict[str, Any]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("owner@example.org", PASSWORD)
        admin = await panic.create_user("admin@example.org", PASSWORD, admin=True)
        network = await panic.create_network(
            owner.id,
            "Night loop",
            models=["dummy-t2i", "dummy-i2t"],
            description="A *dummy* network: text → image → text.",
            lockout_seconds=4,
        )
        second = await panic.create_network(admin.id, "Echo", models=["dummy-t2t"])
        return {
            "owner_id": owner.id,
            "network_id": network.id,
            "second_id": second.id,
            "owner_key": await panic.create_api_key(owner.id, "browser tests"),
            "admin_key": await panic.create_api_key(admin.id, "browser tests"),
        }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    settings = live_settings(tmp_path_factory.mktemp("browser"), backoff="inf:1")
    seeded = trio.run(_seed, settings)
    with served(settings) as url:
        yield Live(url=url, **seeded)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    yield opened
    context.close()
    assert errors == [], errors  # no script errors, no CSP violations


def sign_in(page: Page, live: Live, email: str) -> None:
    page.goto(f"{live.url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#current-user-email")).to_have_text(email)


def api(live: Live, key: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"})


def test_owner_builds_a_network_prompts_watches_and_stops(page: Page, live: Live) -> None:
    sign_in(page, live, "owner@example.org")
    page.get_by_text("Add network").click()
    page.get_by_label("Name").fill("Built in the browser")
    page.get_by_role("button", name="Create network").click()
    expect(page.locator("#network-name")).to_have_text("Built in the browser")

    editor = page.locator("#model-editor")
    editor.get_by_role("button", name="Remove Dummy Text-to-Text").click()
    expect(editor.get_by_text("No models in network")).to_be_visible()
    picker = page.locator("#model-select-input")
    picker.fill("Dummy Text-to-Image")
    picker.press("Enter")
    expect(page.locator("#network-validity")).to_contain_text("Invalid: Network doesn't form")
    expect(page.locator("#save-models")).to_be_disabled()
    expect(page.locator("#unsaved")).to_be_visible()
    picker.fill("dummy image-to-t")  # a unique part of a name is enough
    picker.press("Enter")
    expect(page.locator("#network-validity")).to_have_text("✓ Valid network")
    page.locator("#save-models").click()
    expect(page.locator("#editor-message")).to_have_text("Saved")
    expect(page.locator("#save-models")).to_be_hidden()  # nothing left to save
    expect(page.locator("#unsaved")).to_be_hidden()
    page.reload()
    expect(page.locator("#model-rows tr")).to_have_count(2)
    expect(page.locator("#model-rows")).to_contain_text("Dummy Image-to-Text")

    terminal = page.locator("#prompt-input")
    expect(terminal).to_be_enabled()  # only once its WebSocket is open
    terminal.fill("a lighthouse in a storm")
    terminal.press("Enter")
    expect(page.locator("#terminal-message")).to_have_text("Started: a lighthouse in a storm")
    expect(page.locator("#last-prompt")).to_have_text("a lighthouse in a storm")
    expect(terminal).to_be_disabled()
    expect(terminal).to_have_attribute("placeholder", re.compile(r"\d+ seconds? until ready"))
    grid = page.locator("#grid")
    expect(grid.locator(".tile-image").first).to_be_visible()
    expect(grid.locator(".tile-text").first).to_be_visible()
    expect(grid.locator(".tile")).to_have_count(4)
    expect(page.locator("#runner-status")).to_have_attribute(
        "data-state", re.compile("waiting|invoking")
    )
    waiting = page.locator('#runner-status[data-state="waiting"] #runner-detail')
    expect(waiting).to_have_text(re.compile(r"^next invocation in \d+ s$"))

    page.locator("#stop-button").click()
    expect(page.locator("#runner-status")).to_have_attribute("data-state", "idle")
    expect(page.locator("#runner-state")).to_have_text("Idle")


def test_anonymous_token_holder_sees_the_lockout_countdown(
    browser: Browser, page: Page, live: Live
) -> None:
    sign_in(page, live, "owner@example.org")
    page.goto(f"{live.url}/networks/{live.network_id}/info/qr")
    expect(page.locator("#qr-sheet")).to_contain_text("scan to prompt")
    terminal_url = page.locator("#qr-url").get_attribute("href")
    assert terminal_url
    assert "token=" in terminal_url
    with api(live, live.owner_key) as http:
        started = http.post(f"/api/networks/{live.network_id}/runs", json={"prompt": "first!"})
        assert started.status_code == 201

    visitor = browser.new_context(viewport={"width": 1280, "height": 720})
    visitor.set_default_timeout(WAIT_MS)
    phone = visitor.new_page()
    phone.goto(terminal_url)
    terminal = phone.locator("#prompt-input")
    expect(terminal).to_be_disabled()
    expect(terminal).to_have_attribute(
        "placeholder", re.compile(r"^\d+ seconds? until ready for new input$")
    )
    expect(phone.locator("#current-run")).to_have_text("first!")
    expect(terminal).to_be_enabled()  # the countdown ended
    expect(terminal).to_have_attribute("placeholder", "Ready for new input")
    expect(terminal).to_be_focused()
    terminal.fill("a wombat with a trumpet")
    terminal.press("Enter")
    expect(phone.locator("#terminal-message")).to_have_text("Started: a wombat with a trumpet")
    expect(phone.locator("#current-run")).to_have_text("a wombat with a trumpet")
    expect(terminal).to_be_disabled()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / "terminal.png"))

    # A prompt typed too soon elsewhere is refused, and the visitor sees why.
    with api(live, live.owner_key) as http:
        refused = http.post(f"/api/networks/{live.network_id}/runs", json={"prompt": "x"})
        assert refused.status_code == 429
    visitor.close()


def test_control_panel_screenshot(page: Page, live: Live) -> None:
    sign_in(page, live, "owner@example.org")
    with api(live, live.owner_key) as http:
        http.delete(f"/api/networks/{live.network_id}/runs/current")
    page.goto(f"{live.url}/networks/{live.network_id}")
    terminal = page.locator("#prompt-input")
    expect(terminal).to_be_enabled()
    terminal.fill("a red balloon over the sea")
    terminal.press("Enter")
    expect(page.locator("#grid .tile")).to_have_count(6)
    expect(page.locator("#grid .tile-invoking")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "control-panel.png"), full_page=True)

    # Reloaded mid-run (the genesis long gone from the grid), the page paints
    # the run's tail at once instead of waiting for six more invocations.
    expect(page.locator("#runner-sequence")).to_have_text(re.compile(r"^#([89]|\d\d+)$"))
    page.reload()
    expect(page.locator("#grid .tile")).to_have_count(6, timeout=1000)
    expect(page.locator("#last-prompt")).to_have_text("a red balloon over the sea")


def test_admin_sees_the_feed_and_stops_everything(page: Page, live: Live) -> None:
    sign_in(page, live, "admin@example.org")
    page.goto(f"{live.url}/admin")
    expect(page.locator("body")).to_have_attribute("data-feed", "open")
    with api(live, live.admin_key) as http:
        for network_id in (live.network_id, live.second_id):
            http.delete(f"/api/networks/{network_id}/runs/current")
            started = http.post(f"/api/networks/{network_id}/runs", json={"prompt": "admin go"})
            assert started.status_code == 201, started.text
    feed = page.locator("#feed-rows")
    expect(feed.locator("tr", has_text="admin go").first).to_be_visible()
    expect(page.locator(f'[data-network-state="{live.second_id}"]')).to_have_text(
        re.compile("invoking|waiting")
    )
    page.get_by_text("Stop all jobs").click()  # asks first
    page.get_by_role("button", name="Yes, stop every run").click()
    expect(page.locator(".flash")).to_contain_text(re.compile(r"Stopped \d running job"))
    for network_id in (live.network_id, live.second_id):
        expect(page.locator(f'[data-network-state="{network_id}"]')).to_have_text("idle")


def test_qr_code_is_refreshed_every_five_minutes(page: Page, live: Live) -> None:
    page.clock.install()
    sign_in(page, live, "owner@example.org")
    page.goto(f"{live.url}/networks/{live.network_id}/info/qr")
    link = page.locator("#qr-url")
    first = link.get_attribute("href")
    first_image = page.locator("#qr-image").get_attribute("src")
    page.clock.fast_forward("04:50")
    expect(link).to_have_attribute("href", first or "")
    page.clock.fast_forward("00:20")
    expect(link).not_to_have_attribute("href", first or "")
    assert page.locator("#qr-image").get_attribute("src") != first_image
