"""Browser tests of what visitors see in the room: the typeface, the about page,
idle screens, the visualiser, the printable QR and the kiosk grid.

One server for the module (``app.serve`` in a thread with its own
``trio.run``); every wait is a Playwright wait. Screenshots at a phone's
390x844 and a TV's 1920x1080 go to ``SHOTS`` (a temporary folder unless
``PT_SCREENSHOTS`` names one) to be looked at.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from playwright.sync_api import Browser, Page, ViewportSize, expect

from panic_trio.panic import open_panic
from tests.e2e.browsing import (
    MARKS,
    WAIT_MS,
    served,
)
from tests.e2e.conftest import PASSWORD, live_settings

pytestmark = MARKS

SHOTS = Path(os.environ.get("PT_SCREENSHOTS") or tempfile.gettempdir()) / "panic-screens"
PHONE: ViewportSize = {"width": 390, "height": 844}
TV: ViewportSize = {"width": 1920, "height": 1080}


@dataclass
class Room:
    """The running server and what was seeded into it."""

    url: str
    owner_key: str
    network_id: int
    display_id: str
    sound_network_id: int
    sound_display_id: str


async def _seed(settings: Any) -> dict[str, Any]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("room@example.org", PASSWORD)
        network = await panic.create_network(
            owner.id, "Night loop", models=["dummy-t2i", "dummy-i2t"], lockout_seconds=1
        )
        installation = await panic.installations.create(
            network.id,
            "Foyer",
            [
                {"type": "grid", "name": "wall", "rows": 2, "columns": 3},
                {"type": "single", "name": "spot", "stride": 2, "offset": 1},
            ],
        )
        sound = await panic.create_network(
            owner.id, "Sound loop", models=["dummy-t2a", "dummy-a2t"], lockout_seconds=1
        )
        hall = await panic.installations.create(
            sound.id, "Hall", [{"type": "single", "name": "ear", "stride": 2, "offset": 0}]
        )
        return {
            "sound_network_id": sound.id,
            "sound_display_id": hall.public_id,
            "network_id": network.id,
            "display_id": installation.public_id,
            "owner_key": await panic.create_api_key(owner.id, "screens tests"),
        }


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    settings = live_settings(tmp_path_factory.mktemp("screens"), backoff="inf:1")
    seeded = trio.run(_seed, settings)
    with served(settings) as url:
        yield Room(url=url, **seeded)


def open_page(browser: Browser, viewport: ViewportSize, **options: Any) -> Page:
    context = browser.new_context(viewport=viewport, **options)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.errors = errors  # type: ignore[attr-defined]
    return page


def close(page: Page) -> None:
    errors: list[str] = page.errors  # type: ignore[attr-defined]
    page.context.close()
    assert errors == [], errors  # no script errors, no CSP violations


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] if page.viewport_size else False, width


def sign_in(page: Page, room: Room) -> None:
    page.goto(f"{room.url}/sign-in")
    page.get_by_label("Email").fill("room@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#current-user-email")).to_have_text("room@example.org")


def api(room: Room) -> httpx.Client:
    return httpx.Client(
        base_url=room.url, headers={"Authorization": f"Bearer {room.owner_key}"}, timeout=10
    )


LOADED_FACES = """async () => {
  await document.fonts.ready;
  return [...document.fonts]
    .filter((f) => f.family.replaceAll('"', '') === 'Sometype Mono' && f.status === 'loaded')
    .length;
}"""


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("tv", TV)])
def test_the_about_page_in_our_typeface(
    browser: Browser, room: Room, size: str, viewport: ViewportSize
) -> None:
    page = open_page(browser, viewport)
    page.goto(f"{room.url}/about")
    expect(page.get_by_role("heading", name="Research questions")).to_be_visible()
    assert page.evaluate(LOADED_FACES) >= 1  # served from here, and used
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith('"Sometype Mono"')
    no_sideways_scroll(page)
    page.get_by_role("link", name="People").click()
    expect(page.locator("#people")).to_be_in_viewport()
    shoot(page, f"about-{size}")
    close(page)


def test_a_printed_sign_is_printable_and_lets_a_phone_prompt(browser: Browser, room: Room) -> None:
    owner = open_page(browser, TV)
    sign_in(owner, room)
    owner.goto(f"{room.url}/networks/{room.network_id}/info/qr")
    expect(owner.locator("#qr-sheet")).to_contain_text("scan to prompt")
    owner.get_by_label("Printed sign").check()
    owner.get_by_role("button", name="Save").click()
    expect(owner.locator("#rotate-sign")).to_be_visible()
    sign = owner.locator("#qr-url").get_attribute("href") or ""
    assert "/s/" in sign
    shoot(owner, "qr-printed-tv")
    owner.emulate_media(media="print")
    expect(owner.locator(".qr-controls")).to_be_hidden()
    expect(owner.locator("#qr-sheet")).to_be_visible()
    assert owner.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") == (
        "rgb(255, 255, 255)"
    )
    shoot(owner, "qr-printed-print")
    owner.emulate_media(media="screen")

    phone = open_page(browser, PHONE)
    phone.goto(sign)
    expect(phone).to_have_url(re.compile(r"/terminal\?token="))
    prompt = phone.get_by_role("textbox")
    expect(prompt).to_be_enabled()
    no_sideways_scroll(phone)
    close(phone)

    owner.set_viewport_size(PHONE)
    owner.reload()
    no_sideways_scroll(owner)
    shoot(owner, "qr-printed-phone")
    owner.get_by_label("Code on a screen").check()
    owner.get_by_role("button", name="Save").click()
    expect(owner.locator("#rotate-sign")).to_have_count(0)
    close(owner)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("tv", TV)])
def test_an_idle_screen_invites_a_prompt_and_says_its_name_when_asked(
    browser: Browser, room: Room, size: str, viewport: ViewportSize
) -> None:
    screen = open_page(browser, viewport)
    screen.goto(f"{room.url}/i/{room.display_id}/wall")
    expect(screen.locator("body")).to_have_attribute("data-idle", "true")
    attract = screen.locator("#attract")
    expect(attract).to_be_visible()
    expect(attract).to_contain_text("Night loop")
    expect(attract).to_contain_text("scan to prompt")
    qr = screen.locator("#attract-qr")
    expect(qr).to_be_visible()
    assert "/terminal?token=" in (qr.get_attribute("data-url") or "")
    assert "⊞" not in screen.content()
    assert qr.evaluate("img => img.naturalWidth") > 0
    no_sideways_scroll(screen)
    shoot(screen, f"attract-{size}")

    owner = open_page(browser, TV)
    sign_in(owner, room)
    owner.goto(f"{room.url}/installations")
    owner.get_by_role("link", name="Foyer").first.click()
    owner.get_by_role("button", name="Identify screens").click()
    expect(screen.locator("#identify")).to_have_text("Foyer · wall")
    shoot(screen, f"identify-{size}")
    close(owner)

    with api(room) as http:
        started = http.post(f"/api/networks/{room.network_id}/runs", json={"prompt": "a kite"})
        assert started.status_code == 201, started.text
        expect(screen.locator("body")).to_have_attribute("data-idle", "false")
        expect(attract).to_be_hidden()
        expect(screen.locator("#slot-0")).to_be_visible()
        assert http.delete(f"/api/networks/{room.network_id}/runs/current").status_code == 200
    expect(attract).to_be_visible()  # stopped: the screen invites the next prompt
    close(screen)


RING = """canvas => {
  const g = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  const inner = Math.min(w, h) * 0.18 + 1.5;
  const hues = new Set();
  let lit = 0;
  for (let k = 0; k < 72; k += 1) {
    const a = (k / 72) * 2 * Math.PI;
    const x = w / 2 + inner * Math.cos(a);
    const [r, gr, b] = g.getImageData(x, h / 2 + inner * Math.sin(a), 1, 1).data;
    if (Math.max(r, gr, b) - Math.min(r, gr, b) > 60) {
      lit += 1;
      const max = Math.max(r, gr, b);
      const first = max === r ? (gr >= b ? "r-y" : "m-r") : null;
      const second = max === gr ? (r >= b ? "y-g" : "g-c") : (gr >= r ? "c-b" : "b-m");
      hues.add(first ?? second);
    }
  }
  return { lit, hues: hues.size };
}"""


def audio_screen(browser: Browser, room: Room, viewport: ViewportSize, **options: Any) -> Page:
    screen = open_page(browser, viewport, **options)
    screen.add_init_script(AUTOPLAY_BLOCKED)
    screen.goto(f"{room.url}/i/{room.sound_display_id}/ear")
    expect(screen.locator("body")).to_have_attribute("data-connected", "true")
    return screen


def start_sound(room: Room, prompt: str) -> None:
    with api(room) as http:
        response = http.post(
            f"/api/networks/{room.sound_network_id}/runs?replace=true", json={"prompt": prompt}
        )
        assert response.status_code == 201, response.text


# Debian's headless chromium under Playwright plays sound without a gesture
# (it reports the page as user-activated), so pages here get the policy a kiosk
# browser applies: play() is refused with NotAllowedError until a tap or a key.
AUTOPLAY_BLOCKED = """(() => {
  const play = HTMLMediaElement.prototype.play;
  let touched = false;
  for (const kind of ["pointerdown", "keydown"]) {
    window.addEventListener(kind, () => { touched = true; }, true);
  }
  HTMLMediaElement.prototype.play = function () {
    if (!touched) {
      return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError"));
    }
    return play.call(this);
  };
})();"""


@pytest.fixture
def kiosk_browser(browser: Browser) -> Browser:
    return browser


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("tv", TV)])
def test_audio_is_a_spinning_rainbow_ring_with_a_cue_when_sound_is_blocked(
    kiosk_browser: Browser, room: Room, size: str, viewport: ViewportSize
) -> None:
    screen = audio_screen(kiosk_browser, room, viewport)
    start_sound(room, f"a humming {size}")
    tile = screen.locator(".tile-audio")
    expect(tile).to_have_attribute("data-sound", "blocked")
    cue = screen.get_by_role("button", name="tap or click to enable sound")
    expect(cue).to_be_visible()
    canvas = screen.locator(".tile-audio canvas")
    spin = float(canvas.get_attribute("data-spin") or "0")
    assert 1 <= abs(spin) <= 5  # revolutions a minute, either way
    shoot(screen, f"sound-blocked-{size}")
    screen.mouse.click(viewport["width"] // 2, viewport["height"] // 2)
    expect(tile).to_have_attribute("data-sound", "on")
    expect(cue).to_be_hidden()
    first = canvas.get_attribute("data-angle")
    expect(canvas).not_to_have_attribute("data-angle", first or "")  # it turns
    ring = canvas.evaluate(RING)
    assert ring["lit"] >= 48, ring  # bars all round the circle
    assert ring["hues"] >= 5, ring  # a rainbow, not one colour
    no_sideways_scroll(screen)
    shoot(screen, f"sound-on-{size}")
    close(screen)


def test_with_reduced_motion_the_ring_stands_still(kiosk_browser: Browser, room: Room) -> None:
    screen = audio_screen(kiosk_browser, room, TV, reduced_motion="reduce")
    start_sound(room, "a still hum")
    canvas = screen.locator(".tile-audio canvas")
    expect(canvas).to_have_attribute("data-spin", "0.00")
    screen.mouse.click(10, 10)
    expect(screen.locator(".tile-audio")).to_have_attribute("data-sound", "on")
    screen.wait_for_timeout(500)  # frames are drawn meanwhile; the angle must not move
    assert canvas.get_attribute("data-angle") == "0.000"
    close(screen)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("tv", TV)])
def test_a_signed_in_kiosk_types_prompts_on_the_grid_screen(
    browser: Browser, room: Room, size: str, viewport: ViewportSize
) -> None:
    kiosk = open_page(browser, viewport)
    sign_in(kiosk, room)
    sockets: list[str] = []
    kiosk.on("websocket", lambda socket: sockets.append(socket.url))
    kiosk.goto(f"{room.url}/i/{room.display_id}/wall")
    prompt = kiosk.get_by_label("Prompt")
    expect(prompt).to_be_enabled()  # the live socket is open
    assert any(url.endswith(f"/ws/networks/{room.network_id}?v=2") for url in sockets), sockets
    expect(kiosk.locator("#attract")).to_contain_text("type above, or scan to prompt")
    expect(prompt).to_be_in_viewport()
    words = f"a paper boat on the {size}"
    prompt.fill(words)
    prompt.press("Enter")
    expect(kiosk.locator("#terminal-message")).to_have_text(f"Started: {words}")
    expect(kiosk.locator("#last-prompt")).to_have_text(words)
    expect(kiosk.locator("#slot-0")).to_be_visible()
    expect(kiosk.locator("#attract")).to_be_hidden()
    expect(prompt).to_be_disabled()  # the lockout counts down for the kiosk too
    no_sideways_scroll(kiosk)
    shoot(kiosk, f"kiosk-{size}")
    with api(room) as http:
        assert http.delete(f"/api/networks/{room.network_id}/runs/current").status_code == 200
    expect(kiosk.locator("#attract")).to_be_visible()
    # Let the last images finish loading: a download cut off by closing the page
    # leaves the served file open until the server collects it (a ResourceWarning).
    kiosk.wait_for_load_state("networkidle")
    close(kiosk)

    anonymous = open_page(browser, viewport)
    anonymous.goto(f"{room.url}/i/{room.display_id}/wall")
    expect(anonymous.locator("body")).to_have_attribute("data-connected", "true")
    expect(anonymous.locator("[data-terminal]")).to_have_count(0)  # a public TV has no input
    close(anonymous)
