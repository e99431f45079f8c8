"""Spending in chromium: the burn rate moves with each step, a cap stops the run and the
terminal says in plain words when it takes prompts again; the admin page shows it too.

Priced by a PANIC_PRICES file: dummy-t2i costs $0.02 a call, dummy-i2t is free.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.e2e.test_browser import sign_in

pytestmark = MARKS

SHOTS = Path("/tmp/panic-spending-shots")


class Paid:
    url = ""
    network_id = 0


async def _seed(settings: Any) -> int:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("owner@example.org", PASSWORD)
        await panic.create_user("admin@example.org", PASSWORD, admin=True)
        network = await panic.create_network(
            owner.id,
            "Paid loop",
            models=["dummy-t2i", "dummy-i2t"],
            lockout_seconds=0,
            daily_cap=0.07,
        )
        return network.id


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paid]:
    folder = tmp_path_factory.mktemp("spending")
    prices = folder / "prices.toml"
    prices.write_text(
        '[models."dummy-t2i"]\nper_call = 0.02\nread_on = 2026-12-01\nsource = "test"\n'
    )
    settings = live_settings(folder, backoff="inf:1", prices=prices)
    server = Paid()
    server.network_id = trio.run(_seed, settings)
    with served(settings) as url:
        server.url = url
        yield server


def new_page(browser: Browser, width: int, height: int, errors: list[str]) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


def test_the_burn_rate_moves_with_each_step_until_the_cap_stops_the_run(
    browser: Browser, live: Paid
) -> None:
    errors: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = new_page(browser, 1920, 1080, errors)
    sign_in(page, live, "owner@example.org")  # type: ignore[arg-type]
    page.goto(f"{live.url}/networks/{live.network_id}")
    today = page.locator('#spending [data-spend="today"]')
    expect(today).to_have_text("$0.0000")
    terminal = page.locator("#prompt-input")
    expect(terminal).to_be_enabled()
    terminal.fill("a paid balloon")
    terminal.press("Enter")
    # Each dummy-t2i step adds $0.02; the page re-reads the spend after each step.
    for amount in ("$0.0200", "$0.0400", "$0.0600"):
        expect(today).to_have_text(amount)
    capped = page.locator('#spending [data-spend="capped"]')
    expect(capped).to_be_visible()
    expect(capped).to_contain_text("This network has spent today's budget of $0.07.")
    expect(page.locator("#runner-detail")).to_have_text("daily spending cap of $0.07 reached")
    expect(page.locator('#spending [data-spend="run"]')).to_have_text("$0.0600")
    expect(terminal).to_be_disabled()
    expect(terminal).to_have_attribute(
        "placeholder", "Not accepting prompts until the budget renews"
    )
    expect(page.locator("#terminal-message")).to_have_text(
        re.compile(r"It accepts prompts again at 00:00 on \w+ \d\d \w+ \(UTC\)\.$")
    )
    page.screenshot(path=str(SHOTS / "control-panel-1920.png"), full_page=True)
    page.locator("#spending").screenshot(path=str(SCREENSHOTS / "spending.png"))

    phone = new_page(browser, 390, 844, errors)
    sign_in(phone, live, "owner@example.org")  # type: ignore[arg-type]
    phone.goto(f"{live.url}/networks/{live.network_id}")
    expect(phone.locator('#spending [data-spend="today"]')).to_have_text("$0.0600")
    expect(phone.locator("#prompt-input")).to_be_disabled()
    phone.screenshot(path=str(SHOTS / "control-panel-390.png"), full_page=True)

    visitor = new_page(browser, 390, 844, errors)
    qr = new_page(browser, 1280, 900, errors)
    sign_in(qr, live, "owner@example.org")  # type: ignore[arg-type]
    qr.goto(f"{live.url}/networks/{live.network_id}/info/qr")
    terminal_url = qr.locator("#qr-url").get_attribute("href")
    assert terminal_url
    visitor.goto(terminal_url)
    expect(visitor.locator("#prompt-input")).to_be_disabled()
    expect(visitor.locator("#terminal-message")).to_contain_text(
        "This network has spent today's budget of $0.07. It accepts prompts again at 00:00"
    )
    visitor.screenshot(path=str(SCREENSHOTS / "terminal-capped.png"))
    assert errors == [], errors


def test_the_admin_page_shows_spend_and_the_cap(browser: Browser, live: Paid) -> None:
    errors: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1920, 1080), (390, 844)):
        page = new_page(browser, width, height, errors)
        sign_in(page, live, "admin@example.org")  # type: ignore[arg-type]
        page.goto(f"{live.url}/admin")
        row = page.locator(f'[data-spend-network="{live.network_id}"]')
        expect(row.locator('[data-spend="today"]')).to_have_text("$0.0600")
        expect(row.locator('[data-spend="caps"]')).to_have_text("$0.07 / none")
        expect(row.locator('[data-spend="capped"]')).to_contain_text("spent today's budget")
        total = page.locator('[data-spend-network="total"] [data-spend="week"]')
        expect(total).to_have_text("$0.0600")
        page.screenshot(path=str(SHOTS / f"admin-{width}.png"), full_page=True)
    assert errors == [], errors
