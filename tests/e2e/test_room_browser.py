"""Browser tests of the public room and the operator's hands: user management, moderation,
named token sets; each page also at a phone's and a TV's size, with screenshots.

Same harness as ``test_browser.py``: the server in a thread with its own
``trio.run``, Debian chromium through Playwright's sync API, no fixed sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_browser import WAIT_MS, Live, browser, live, sign_in

__all__ = ["browser", "live"]  # fixtures

# A refused form answers 422 with the page and its reason; chromium logs that
# status as a console error, which is expected here and nothing else is.
REFUSED_FORM = "the server responded with a status of 422"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and REFUSED_FORM not in message.text
            else None
        ),
    )
    yield opened
    context.close()
    assert errors == [], errors  # no script errors, no CSP violations


SHOTS = Path("/tmp/panic-room-shots")


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


def test_admin_manages_users(page: Page, live: Live) -> None:
    sign_in(page, live, "admin@example.org")
    page.goto(f"{live.url}/admin")
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
