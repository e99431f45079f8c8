"""Browser tests of the public room and the operator's hands: user management, moderation,
named token sets; each page also at a phone's and a TV's size, with screenshots.

Same harness as ``test_browser.py``: the server in a thread with its own
``trio.run``, Debian chromium through Playwright's sync API, no fixed sleeps.
This module seeds its own server: a network with an installation (a 2 x 3
wall) as well as the owner and the admin.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from playwright.sync_api import Browser, Page, expect

from panic_trio.panic import open_panic
from tests.e2e.browsing import (
    MARKS,
    WAIT_MS,
    served,
)
from tests.e2e.conftest import PASSWORD, live_settings

pytestmark = MARKS

# A refused form answers 422 with the page and its reason; chromium logs that
# status as a console error, which is expected here and nothing else is.
REFUSED_FORM = "the server responded with a status of 422"
SHOTS = Path("/tmp/panic-room-shots")


@dataclass
class Room:
    """The running server and what was seeded into it."""

    url: str
    owner_key: str
    network_id: int
    display_id: str


async def _seed(settings: Any) -> dict[str, Any]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("owner@example.org", PASSWORD)
        await panic.create_user("admin@example.org", PASSWORD, admin=True)
        network = await panic.create_network(
            owner.id, "Gallery loop", models=["dummy-t2t"], lockout_seconds=0
        )
        installation = await panic.installations.create(
            network.id, "Room", [{"type": "grid", "name": "wall", "rows": 2, "columns": 3}]
        )
        return {
            "network_id": network.id,
            "display_id": installation.public_id,
            "owner_key": await panic.create_api_key(owner.id, "room tests"),
        }


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    settings = live_settings(tmp_path_factory.mktemp("room"), backoff="inf:0.3")
    seeded = trio.run(_seed, settings)
    with served(settings) as url:
        yield Room(url=url, **seeded)


def new_page(browser: Browser, errors: list[str], width: int = 1280, height: int = 900) -> Page:
    """A page in a fresh context (its own cookies) whose script errors are collected."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and REFUSED_FORM not in message.text
            else None
        ),
    )
    return opened


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    errors: list[str] = []
    opened = new_page(browser, errors)
    yield opened
    opened.context.close()
    assert errors == [], errors  # no script errors, no CSP violations


def sign_in(page: Page, room: Room, email: str) -> None:
    page.goto(f"{room.url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#current-user-email")).to_have_text(email)


def api(room: Room) -> httpx.Client:
    return httpx.Client(base_url=room.url, headers={"Authorization": f"Bearer {room.owner_key}"})


def fits_and_shoot(page: Page, name: str) -> None:
    """No sideways scrolling on a phone (390x844); screenshots at 390 and 1920 wide."""
    SHOTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for width, height in ((390, 844), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow} px wide at {width}"
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)


def test_admin_manages_users(page: Page, room: Room) -> None:
    sign_in(page, room, "admin@example.org")
    page.goto(f"{room.url}/admin")
    page.locator("#manage-users").click()
    expect(page.locator("h1")).to_have_text("Users")
    form = page.locator("#new-user-form")
    form.get_by_label("Email").fill("visitor-desk@example.org")
    form.get_by_label("Password").fill("short!!!")
    form.get_by_label("Password").evaluate("input => input.removeAttribute('minlength')")
    form.get_by_label("Password").fill("short")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#create-error")).to_contain_text("at least 8 characters")
    expect(page.locator("#user-list")).not_to_contain_text("visitor-desk@example.org")
    form.get_by_label("Password").fill("a long enough password")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator(".flash")).to_contain_text("Created user visitor-desk@example.org")
    page.reload()  # POST-redirect-GET: a reload shows the list, resubmits nothing
    expect(page.locator(".flash")).to_have_count(0)
    card = page.locator(".user-card", has_text="visitor-desk@example.org")
    card.get_by_role("button", name="Make admin").click()
    expect(page.locator(".flash")).to_contain_text("visitor-desk@example.org is now an admin")
    card.get_by_role("button", name="Remove admin").click()
    expect(page.locator(".flash")).to_contain_text("is no longer an admin")
    me = page.locator(".user-card", has_text="admin@example.org").filter(has_text="you")
    me.get_by_role("button", name="Remove admin").click()
    expect(page.get_by_role("alert").filter(has_text="last admin")).to_be_visible()
    card = page.locator(".user-card", has_text="visitor-desk@example.org")
    card.locator("summary", has_text="Reset password").click()
    card.get_by_label(re.compile("New password for")).fill("another long password")
    fits_and_shoot(page, "users")
    card.get_by_role("button", name="Set password and sign them out").click()
    expect(page.locator(".flash")).to_contain_text("New password set for visitor-desk@example.org")


def visitor_link(owner: Page, room: Room) -> str:
    """A fresh terminal link (what a QR code carries), read from the owner's QR endpoint."""
    owner.goto(f"{room.url}/networks/{room.network_id}/info/qr.json")
    url: str = json.loads(owner.locator("body").inner_text())["url"]
    return url


def test_a_blocked_prompt_gets_a_neutral_answer_and_the_log_names_the_token(
    browser: Browser, room: Room
) -> None:
    errors: list[str] = []
    owner = new_page(browser, errors)
    sign_in(owner, room, "owner@example.org")
    owner.goto(f"{room.url}/networks/{room.network_id}")
    owner.locator("#moderation-link").click()
    owner.get_by_label("Word or pattern to block").fill("wasp*")
    owner.get_by_role("button", name="Block").click()
    expect(owner.locator(".flash")).to_contain_text("Blocked “wasp*”")
    link = visitor_link(owner, room)
    visitor = new_page(browser, errors, 390, 844)
    visitor.goto(link)
    prompt = visitor.locator("#prompt-input")
    expect(prompt).to_be_enabled()  # the live connection is open
    prompt.fill("two WASPS in a jar")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.locator("#terminal-message")).to_have_text(
        "That prompt can't be used here. Please try a different one."
    )
    owner.goto(f"{room.url}/networks/{room.network_id}/moderation")
    entry = owner.locator(".log-entry").first
    expect(entry).to_contain_text("two WASPS in a jar")
    expect(entry).to_contain_text("blocked")
    token_id = link.split("token=")[1].split(".")[2:4]
    expect(entry.locator(".log-token")).to_have_text(".".join(token_id))
    with api(room) as http:
        assert http.get(f"/api/networks/{room.network_id}/runs").json()["runs"] == []
    owner.context.close()
    visitor.context.close()
    assert errors == [], errors


def test_a_hidden_output_leaves_an_open_wall_within_a_second(browser: Browser, room: Room) -> None:
    errors: list[str] = []
    wall = new_page(browser, errors, 1920, 1080)
    wall.goto(f"{room.url}/i/{room.display_id}/wall")
    expect(wall.locator("body")).to_have_attribute("data-connected", "true")
    with api(room) as http:
        started = http.post(f"/api/networks/{room.network_id}/runs", json={"prompt": "a heron"})
        assert started.status_code == 201, started.text
        expect(wall.locator("#slot-2")).to_have_attribute("data-state", "completed")
        assert http.delete(f"/api/networks/{room.network_id}/runs/current").json()["stopped"]
    tile = wall.locator("#slot-1")
    expect(tile).to_have_attribute("data-state", "completed")
    hidden_id = tile.get_attribute("data-invocation")
    expect(tile.locator(".tile-text")).to_contain_text(re.compile(r"\S"))

    owner = new_page(browser, errors)
    sign_in(owner, room, "owner@example.org")
    owner.goto(f"{room.url}/networks/{room.network_id}/moderation")
    card = owner.locator(f'.output-card[data-invocation="{hidden_id}"]')
    clicked = time.monotonic()
    card.get_by_role("button", name="Hide").click()
    expect(wall.locator(f'[data-invocation="{hidden_id}"]')).to_have_attribute(
        "data-state", "hidden", timeout=1000
    )
    print(f"hidden on the wall {time.monotonic() - clicked:.3f} s after the click")
    expect(wall.locator("#slot-1 .tile-text")).to_have_count(0)
    expect(owner.locator(".flash")).to_contain_text("from every screen")
    wall.reload()  # never comes back on reload
    expect(wall.locator("body")).to_have_attribute("data-connected", "true")
    expect(wall.locator("#slot-1")).to_have_attribute("data-state", "hidden")
    expect(wall.locator("#slot-2")).to_have_attribute("data-state", "completed")
    fits_and_shoot(owner, "moderation")
    wall.screenshot(path=str(SHOTS / "wall-hidden-1920.png"))
    owner.context.close()
    wall.context.close()
    assert errors == [], errors


def test_named_token_sets_are_shared_chosen_per_network_and_only_shown_masked(
    browser: Browser, room: Room
) -> None:
    secret = "sk-room-gallery-0123456789wxyz"
    errors: list[str] = []
    owner = new_page(browser, errors)
    sign_in(owner, room, "owner@example.org")
    owner.goto(f"{room.url}/dashboard")
    owner.locator("#token-sets-link").click()
    expect(owner.locator("h1")).to_have_text("Token sets")
    owner.get_by_label("Name").fill("   ")
    owner.get_by_label("Name").evaluate("input => input.removeAttribute('required')")
    owner.get_by_role("button", name="Create token set").click()
    expect(owner.locator("#create-error")).to_have_text("give the token set a name")
    owner.get_by_label("Name").fill("Gallery")
    owner.get_by_role("button", name="Create token set").click()
    expect(owner.locator(".flash")).to_contain_text("Created token set “Gallery”")
    gallery = owner.locator('[data-token-set="Gallery"]')
    gallery.locator("summary", has_text="Set tokens").click()
    gallery.get_by_label("OpenAI API Token").fill(secret)
    gallery.get_by_role("button", name="Save tokens").click()
    expect(owner.locator(".flash")).to_contain_text("Updated tokens: openai")
    expect(gallery.locator('[data-token="openai"]')).to_contain_text(secret[-4:])
    assert secret not in owner.content()
    gallery.locator("summary", has_text="Share").click()
    gallery.get_by_label("Their email").fill("admin@example.org")
    gallery.get_by_role("button", name="Share this set").click()
    expect(gallery.locator(".member")).to_contain_text("admin@example.org")
    network = owner.locator(f'[data-network="{room.network_id}"]')
    network.get_by_role("combobox").select_option(label="Gallery")
    network.get_by_role("button", name="Use").click()
    expect(owner.locator(".flash")).to_contain_text("Gallery loop now uses the token set “Gallery”")
    expect(network.get_by_role("combobox")).to_have_value(re.compile(r"^\d+$"))
    fits_and_shoot(owner, "token-sets")

    member = new_page(browser, errors, 390, 844)
    sign_in(member, room, "admin@example.org")
    member.goto(f"{room.url}/dashboard")
    member.locator("#token-sets-link").click()
    shared = member.locator('[data-token-set="Gallery"]')
    expect(shared).to_contain_text("shared by owner@example.org")
    expect(shared.locator('[data-token="openai"]')).to_contain_text(secret[-4:])
    expect(shared.get_by_role("button", name="Save tokens")).to_have_count(0)
    assert secret not in member.content()
    owner.context.close()
    member.context.close()
    assert errors == [], errors
