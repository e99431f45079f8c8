"""Browser tests of the operator's pages: the control panel's installations,
run age, Stop and lockout, and every operator page on a phone.

The server runs ``app.serve`` in a thread with its own ``trio.run``;
Playwright's sync API drives Debian chromium. Every wait is a Playwright wait.
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

pytestmark = MARKS

REFUSED_FORM = "the server responded with a status of 422"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1920, "height": 1080}


@dataclass
class Live:
    """The running server and what was seeded into it."""

    url: str
    owner_key: str
    admin_key: str
    network_id: int
    bare_id: int
    installation_id: int
    installation_public_id: str


async def _seed(settings: Any) -> dict[str, Any]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("owner@example.org", PASSWORD)
        admin = await panic.create_user("admin@example.org", PASSWORD, admin=True)
        network = await panic.create_network(
            owner.id,
            "Night loop",
            models=["dummy-t2i", "dummy-i2t"],
            description="A **dummy** network: text → image → text.",
            lockout_seconds=7,
        )
        bare = await panic.create_network(owner.id, "Bare", models=["dummy-t2t"])
        foyer = await panic.installations.create(
            network.id,
            "Foyer",
            [
                {"type": "grid", "name": "wall", "rows": 2, "columns": 3},
                {"type": "single", "name": "tv", "stride": 1, "offset": 0},
            ],
        )
        return {
            "network_id": network.id,
            "bare_id": bare.id,
            "installation_id": foyer.id,
            "installation_public_id": foyer.public_id,
            "owner_key": await panic.create_api_key(owner.id, "browser tests"),
            "admin_key": await panic.create_api_key(admin.id, "browser tests"),
        }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    settings = live_settings(tmp_path_factory.mktemp("operator"), backoff="inf:1")
    seeded = trio.run(_seed, settings)
    with served(settings) as url:
        yield Live(url=url, **seeded)


def _open(browser: Browser, viewport: dict[str, int]) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    return opened, errors


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened, errors = _open(browser, {"width": 1280, "height": 900})
    yield opened
    opened.context.close()
    # no script errors, no CSP violations (a refused form's 422 is chromium's log line, meant)
    assert [e for e in errors if REFUSED_FORM not in e] == [], errors


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    opened, errors = _open(browser, PHONE)
    yield opened
    opened.context.close()
    assert errors == [], errors


def sign_in(page: Page, live: Live, email: str) -> None:
    page.goto(f"{live.url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#current-user-email")).to_have_text(email)


def api(live: Live, key: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"})


def stop(live: Live, network_id: int) -> None:
    with api(live, live.owner_key) as http:
        http.delete(f"/api/networks/{network_id}/runs/current")


def test_control_panel_lists_its_installations_and_links_to_them(page: Page, live: Live) -> None:
    sign_in(page, live, "owner@example.org")
    page.goto(f"{live.url}/networks/{live.network_id}")
    listed = page.locator("#network-installations")
    expect(listed.locator("tbody tr")).to_have_count(1)
    expect(listed).to_contain_text("Foyer")
    row = listed.locator(f'tr[data-installation="{live.installation_id}"]')
    expect(row.locator("td").nth(1)).to_have_text("2")  # two screens
    row.get_by_role("link", name="Foyer").click()
    expect(page).to_have_url(re.compile(rf"/installations/{live.installation_id}$"))

    page.goto(f"{live.url}/networks/{live.network_id}")
    page.locator("#installations-link").click()
    expect(page.locator("h1")).to_have_text("Installations of Night loop")
    expect(page.locator("#installation-list tbody tr")).to_have_count(1)

    # A network with none says so and offers to create one for it.
    page.goto(f"{live.url}/networks/{live.bare_id}")
    expect(page.locator("#network-installations")).to_contain_text("No installations yet")
    page.locator("#network-installations").get_by_role("link", name="Create one").click()
    expect(page.locator('select[name="network_id"] option:checked')).to_have_text("Bare")
    page.goto(f"{live.url}/installations?network_id={live.bare_id}")
    expect(page.locator("#installation-list")).to_contain_text("No installations yet")


def test_run_age_ticks_and_stop_is_offered_only_while_running(page: Page, live: Live) -> None:
    stop(live, live.network_id)
    sign_in(page, live, "owner@example.org")
    page.goto(f"{live.url}/networks/{live.network_id}")
    expect(page.locator("#network-lockout")).to_contain_text("7 s")
    stop_button = page.locator("#stop-button")
    expect(stop_button).to_be_disabled()  # idle: nothing to stop
    expect(page.locator("#runner-age")).to_have_text("")

    terminal = page.locator("#prompt-input")
    expect(terminal).to_be_enabled()
    terminal.fill("an old clock")
    terminal.press("Enter")
    expect(stop_button).to_be_enabled()
    age = page.locator("#runner-age")
    expect(age).to_have_text(re.compile(r"^running for \ds$"))
    first = age.text_content()
    expect(age).not_to_have_text(first or "")  # it goes on counting by itself
    expect(age).to_have_text(re.compile(r"^running for [1-9]\d*s$"))
    expect(page.locator("#runner-lockout")).to_contain_text("Locked out")

    page.reload()  # the first paint already has it
    expect(age).to_have_text(re.compile(r"^running for \d+s$"))
    stop_button.click()
    expect(page.locator("#runner-status")).to_have_attribute("data-state", "idle")
    expect(stop_button).to_be_disabled()
    expect(age).to_have_text("")


def operator_pages(live: Live) -> dict[str, tuple[str, str]]:
    """Every page an operator works from: name -> (who, path)."""
    owner = "owner@example.org"
    return {
        "dashboard": (owner, "/dashboard"),
        "control-panel": (owner, f"/networks/{live.network_id}"),
        "installations": (owner, "/installations"),
        "installation": (owner, f"/installations/{live.installation_id}"),
        "runs": (owner, f"/networks/{live.network_id}/runs"),
        "moderation": (owner, f"/networks/{live.network_id}/moderation"),
        "new-watcher": (owner, f"/installations/{live.installation_id}/watchers/new"),
        "qr": (owner, f"/networks/{live.network_id}/info/qr"),
        "admin": ("admin@example.org", "/admin"),
        "admin-users": ("admin@example.org", "/admin/users"),
        "remote": (owner, "/remote"),
    }


def test_no_operator_page_overflows_sideways_on_a_phone(
    browser: Browser, live: Live, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.mktemp("operator-shots")
    with api(live, live.admin_key) as http:  # a live run: the widest state of every page
        http.delete(f"/api/networks/{live.network_id}/runs/current")
        started = http.post(f"/api/networks/{live.network_id}/runs", json={"prompt": "wide"})
        assert started.status_code == 201, started.text
    widths: dict[str, int] = {}
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        pages = {}
        for email in ("owner@example.org", "admin@example.org"):
            pages[email] = _open(browser, viewport)
            sign_in(pages[email][0], live, email)
        for title, (email, path) in operator_pages(live).items():
            page = pages[email][0]
            page.goto(f"{live.url}{path}")
            page.wait_for_load_state("networkidle")
            if name == "phone":
                widths[title] = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=str(shots / f"{title}-{name}.png"), full_page=True)
        for page, errors in pages.values():
            page.context.close()
            assert errors == [], errors
    print("scrollWidth at 390 px:", widths, "screenshots in", shots)
    assert {title: w for title, w in widths.items() if w > PHONE["width"]} == {}


def test_a_toast_never_covers_the_navigation(phone: Page, live: Live) -> None:
    sign_in(phone, live, "owner@example.org")
    phone.goto(f"{live.url}/networks/{live.bare_id}")
    phone.get_by_text("Edit", exact=True).click()
    phone.get_by_role("button", name="Save Network").first.click()
    toast = phone.locator(".flash")
    expect(toast).to_contain_text("Network updated successfully")
    phone.evaluate("window.scrollTo(0, 0)")  # where the navigation is
    shown = toast.bounding_box()
    assert shown is not None
    for link in phone.locator(".site-nav a, .site-nav button").all():
        box = link.bounding_box()
        assert box is not None
        overlap_x = min(box["x"] + box["width"], shown["x"] + shown["width"]) - max(
            box["x"], shown["x"]
        )
        overlap_y = min(box["y"] + box["height"], shown["y"] + shown["height"]) - max(
            box["y"], shown["y"]
        )
        assert overlap_x <= 0 or overlap_y <= 0, (link.text_content(), box, shown)
    phone.locator(".site-nav").get_by_role("link", name="Installations").click()  # still clickable
    expect(phone.locator("h1")).to_have_text("Installations")


def test_a_new_network_is_built_with_the_cycle_editor(page: Page, live: Live) -> None:
    sign_in(page, live, "owner@example.org")
    page.get_by_text("Add network").click()
    form = page.locator("#new-network-form")
    form.get_by_label("Name").fill("Edited before it exists")
    expect(form.locator("#network-validity")).to_have_text("✓ Valid network")  # the default
    form.get_by_role("button", name="Remove Dummy Text-to-Text").click()
    picker = form.locator("#model-select-input")
    picker.fill("Dummy Text-to-Image")
    picker.press("Enter")  # adds the model; never submits the form
    expect(form.locator("#network-validity")).to_contain_text("Invalid")
    expect(form.locator("#create-network")).to_be_disabled()
    picker.fill("dummy image-to-t")
    picker.press("Enter")
    expect(form.locator("#network-validity")).to_have_text("✓ Valid network")
    expect(form.locator("#new-network-models")).to_have_value("dummy-t2i,dummy-i2t")
    form.locator("#create-network").click()
    expect(page.locator("#network-name")).to_have_text("Edited before it exists")
    expect(page.locator("#model-rows tr")).to_have_count(2)
    expect(page.locator("#model-rows")).to_contain_text("Dummy Image-to-Text")


def test_the_grid_size_limit_is_checked_as_you_type(page: Page, live: Live) -> None:
    sign_in(page, live, "owner@example.org")
    page.goto(f"{live.url}/installations/{live.installation_id}/watchers/new")
    rows = page.get_by_label("Rows")
    save = page.get_by_role("button", name="Save Watcher")
    rows.fill("13")
    expect(page.locator('[data-live-error="rows"]')).to_have_text(
        "must be less than or equal to 12"
    )
    expect(save).to_be_disabled()
    rows.fill("12")
    expect(page.locator('[data-live-error="rows"]')).to_be_hidden()
    page.get_by_label("Columns").fill("0")
    expect(page.locator('[data-live-error="columns"]')).to_have_text(
        "must be greater than or equal to 1"
    )
    expect(save).to_be_disabled()
    page.get_by_label("Columns").fill("3")
    expect(save).to_be_enabled()
    page.locator("#watcher-type").select_option("single")  # hidden fields do not count
    expect(page.locator('[data-live-error="columns"]')).to_be_hidden()


def test_a_reload_never_sends_a_form_again(page: Page, live: Live) -> None:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    sign_in(page, live, "owner@example.org")
    page.goto(f"{live.url}/dashboard")
    page.get_by_placeholder("Key name, e.g. my script").fill("once only")
    before = len(posts)
    page.get_by_role("button", name="Create API key").click()
    expect(page.locator("#new-api-key")).to_contain_text("once only")
    assert len(posts) == before + 1
    page.reload()
    expect(page.locator("#api-key-list")).to_be_visible()
    expect(page.locator("#new-api-key")).to_have_count(0)  # shown once, not made again
    assert len(posts) == before + 1
    expect(page.locator("#api-key-list tbody tr", has_text="once only")).to_have_count(1)

    # A refused form is shown again with its reason; a reload asks for the page, not the form.
    page.goto(f"{live.url}/networks/{live.bare_id}")
    page.get_by_text("Edit", exact=True).click()
    page.locator("#edit-network-form").evaluate("form => { form.noValidate = true; }")
    page.locator('#edit-network-form input[name="lockout_seconds"]').fill("-5")
    before = len(posts)
    page.get_by_role("button", name="Save Network").first.click()
    expect(page.locator("#edit-error")).to_be_visible()
    assert len(posts) == before + 1
    expect(page).to_have_url(re.compile(rf"/networks/{live.bare_id}$"))
    page.reload()
    expect(page.locator("#edit-error")).to_have_count(0)
    assert len(posts) == before + 1


def test_stop_all_asks_first(page: Page, live: Live) -> None:
    with api(live, live.admin_key) as http:
        http.delete(f"/api/networks/{live.network_id}/runs/current")
        assert http.post(f"/api/networks/{live.network_id}/runs", json={"prompt": "go"}).is_success
    sign_in(page, live, "admin@example.org")
    page.goto(f"{live.url}/admin")
    state = page.locator(f'[data-network-state="{live.network_id}"]')
    expect(state).to_have_text(re.compile("invoking|waiting"))
    expect(page.locator("#stop-all-yes")).to_be_hidden()
    page.locator("#stop-all").click()
    expect(page.locator("#stop-all-form")).to_contain_text("Are you sure")
    expect(state).to_have_text(re.compile("invoking|waiting"))  # asking stops nothing
    page.locator("#stop-all-yes").click()
    expect(page.locator(".flash")).to_contain_text("Stopped 1 running job")
    expect(state).to_have_text("idle")
    expect(page.locator(f'[data-stop-network="{live.network_id}"]')).to_be_disabled()


def test_the_phone_remote_starts_stops_and_shows_the_screens(
    browser: Browser, phone: Page, live: Live
) -> None:
    stop(live, live.network_id)
    sign_in(phone, live, "owner@example.org")
    sockets: list[str] = []
    phone.on("websocket", lambda socket: sockets.append(socket.url))
    phone.locator("#nav-remote").click()
    card = phone.locator(f"#remote-{live.network_id}")
    expect(phone.locator(f"#remote-{live.bare_id}")).to_be_visible()  # every network
    state = card.locator('[data-remote="state"]')
    expect(state).to_have_text("Idle")
    expect(card.locator('[data-remote="stop"]')).to_be_disabled()
    wall = card.locator('[data-screen="wall"] [data-viewers]')
    expect(wall).to_have_text("0 connected")

    expect(card).to_have_attribute("data-live", "true")  # its script runs and its socket is open
    assert any(url.endswith(f"/ws/networks/{live.network_id}?v=2") for url in sockets), sockets
    card.get_by_label("Prompt for Night loop").fill("a kite over the dunes")
    card.get_by_role("button", name="Start").click()
    expect(card.locator('[data-remote="message"]')).to_have_text("Started: a kite over the dunes")
    expect(state).to_have_text(re.compile("Invoking|Waiting"))
    expect(card.locator('[data-remote="prompt"]')).to_have_text("a kite over the dunes")
    expect(card.locator('[data-remote="age"]')).to_have_text(re.compile(r"^running for \d+s$"))
    expect(card.locator('[data-remote="go"]')).to_have_text(re.compile(r"^Start in \d+ s$"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = card.locator('[data-remote="stop"]').bounding_box()
    assert box is not None
    assert box["height"] >= 48  # a thumb-sized target
    assert box["width"] >= 48

    tv, errors = _open(browser, {"width": 1280, "height": 720})
    tv.goto(f"{live.url}/i/{live.installation_public_id}/wall")
    expect(wall).to_have_text("1 connected")
    screen = card.locator('[data-screen="wall"]')
    said = screen.locator("[data-screen-said]")
    screen.get_by_role("button", name="Identify wall").click()
    expect(said).to_have_text("Asked: the screen shows its name")
    expect(tv.locator("#identify")).to_have_text("Foyer · wall")
    screen.get_by_role("button", name="Enable sound on wall").click()
    expect(said).to_have_text("Asked: the screen tries its sound again")
    expect(tv.locator("body")).to_have_attribute("data-sound-asked", "1")
    tv.evaluate("window.beforeReload = true")
    screen.get_by_role("button", name="Reload wall").click()
    expect(said).to_have_text("Asked: the screen reloads")
    tv.wait_for_function("window.beforeReload === undefined")  # a fresh page
    expect(tv.locator("body")).to_have_attribute("data-connected", "true")
    expect(wall).to_have_text("1 connected")
    tv.context.close()
    assert errors == [], errors
    expect(wall).to_have_text("0 connected")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / "remote.png"), full_page=True)
    card.locator('[data-remote="stop"]').click()
    expect(state).to_have_text("Idle")
    expect(card.locator('[data-remote="message"]')).to_have_text("Stopped")
    expect(card.locator('[data-remote="stop"]')).to_be_disabled()
    expect(card.locator('[data-remote="age"]')).to_have_text("")
