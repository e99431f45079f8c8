"""What a real show trips on, in chromium: a long prompt on a phone, the wall
after a Stop, the admin feed across a restart, a cycle edited mid-run.

The server is ``app.serve`` in a thread (see ``test_displays_browser``); every
wait is a Playwright wait. Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from playwright.sync_api import Browser, Page, expect

from panic_trio.models import get_model
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

FOUR = ["dummy-t2i", "dummy-i2t", "dummy-t2a", "dummy-a2t"]
LONG_PROMPT = ("a lighthouse keeper counts the waves and writes each one down " * 40)[:2000]
PUBLIC_WORDS = re.compile(r"fail|cancel|stopped|error", re.IGNORECASE)


async def _seed(settings: Settings) -> dict[str, Any]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("show@example.org", PASSWORD)
        await panic.create_user("boss@example.org", PASSWORD, admin=True)
        network = await panic.create_network(owner.id, "Four", models=FOUR, lockout_seconds=3)
        installation = await panic.installations.create(
            network.id,
            "Gallery",
            [
                {"type": "grid", "name": "wall", "rows": 2, "columns": 3},
                {"type": "single", "name": "one", "stride": 1, "offset": 0},
            ],
        )
        return {
            "network_id": network.id,
            "installation_id": installation.id,
            "display_id": installation.public_id,
            "key": await panic.create_api_key(owner.id, "show tests"),
        }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, dict[str, Any]]]:
    settings = live_settings(tmp_path, backoff="inf:0.4")
    seeded = trio.run(_seed, settings)
    seeded["settings"] = settings
    running = Server(settings)
    running.start()
    yield running, seeded
    running.stop()


def api(server: Server, seeded: dict[str, Any]) -> httpx.Client:
    headers = {"Authorization": f"Bearer {seeded['key']}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def sign_in(page: Page, server: Server, email: str) -> None:
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#current-user-email")).to_have_text(email)


def rows_of(settings: Settings, network_id: int) -> list[Any]:
    async def read() -> list[Any]:
        async with open_panic(settings, runs=False) as panic:  # beside the running server
            found = await panic.store.recent_invocations(10_000, network_id)
            return sorted(found, key=lambda r: r.id)

    return trio.run(read)


def terminal_url(browser: Browser, server: Server, network_id: int) -> str:
    context = browser.new_context()
    owner = context.new_page()
    sign_in(owner, server, "show@example.org")
    body = owner.request.get(f"{server.url}/networks/{network_id}/info/qr.json").json()
    context.close()
    return str(body["url"])


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900), (320, 568), (844, 390)])
def test_a_2000_character_prompt_leaves_the_terminal_usable(
    browser: Browser,
    server: tuple[Server, dict[str, Any]],
    tmp_path: Path,
    width: int,
    height: int,
) -> None:
    running, seeded = server
    url = terminal_url(browser, running, seeded["network_id"])
    with api(running, seeded) as http:
        assert (
            http.post(
                f"/api/networks/{seeded['network_id']}/runs", json={"prompt": LONG_PROMPT}
            ).status_code
            == 201
        )
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True)
    context.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    phone = watch_errors(context.new_page(), errors)
    phone.goto(url)
    prompt = phone.locator("#prompt-input")
    send = phone.locator("#prompt-submit")
    expect(phone.locator("#current-run")).to_have_text(LONG_PROMPT)
    countdown = phone.locator("#terminal-countdown")
    expect(countdown).to_have_text(re.compile(r"^\d+ seconds? until ready for new input$"))
    expect(countdown).to_be_in_viewport(ratio=1)  # never cut
    assert countdown.evaluate("n => n.scrollWidth <= n.clientWidth")
    phone.screenshot(path=str(tmp_path / f"terminal-{width}x{height}-locked.png"))
    expect(prompt).to_be_enabled()  # the 3 s lockout is over
    expect(prompt).to_be_in_viewport(ratio=1)
    expect(send).to_be_in_viewport(ratio=1)
    prompt.focus()
    expect(prompt).to_be_focused()
    prompt.fill("w" * 1990)
    expect(phone.locator("#prompt-counter")).to_have_text("1,990 / 2,000")
    expect(phone.locator("#prompt-counter")).to_be_visible()
    phone.locator("#current-run").tap()  # the whole prompt, on demand
    expect(phone.locator("#current-run")).to_have_attribute("data-expanded", "true")
    prompt.scroll_into_view_if_needed()
    expect(prompt).to_be_in_viewport(ratio=1)
    phone.screenshot(path=str(tmp_path / f"terminal-{width}x{height}-open.png"))
    prompt.fill("a short one")
    send.tap()
    expect(phone.locator("#terminal-message")).to_have_text("Started: a short one")
    context.close()
    assert errors == []


def test_the_wall_after_a_stop_shows_no_failure_anywhere(
    browser: Browser, server: tuple[Server, dict[str, Any]], tmp_path: Path
) -> None:
    running, seeded = server
    net, inst = seeded["network_id"], seeded["display_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    wall = watch_errors(context.new_page(), errors)
    wall.goto(f"{running.url}/i/{inst}/wall")
    expect(wall.locator("body")).to_have_attribute("data-connected", "true")
    with api(running, seeded) as http:
        http.post(f"/api/networks/{net}/runs", json={"prompt": "a quiet harbour"})
        expect(wall.locator("#slot-3")).to_have_attribute("data-state", "completed")
        assert http.delete(f"/api/networks/{net}/runs/current").json() == {"stopped": True}
    expect(wall.locator(".tile.state-ended")).to_have_count(1)
    [ended] = [r for r in rows_of(seeded["settings"], net) if r.state == "failed"]
    assert ended.metadata["error"] == "cancelled: stopped"
    url = terminal_url(browser, running, net)
    pages = {
        "wall": f"{running.url}/i/{inst}/wall",
        "single": f"{running.url}/i/{inst}/one",
        "info": f"{running.url}/networks/{net}/info",
        "terminal": url,
        "static": f"{running.url}/display/static/{ended.id}",
    }
    for name, address in pages.items():
        page = wall if name == "wall" else watch_errors(context.new_page(), errors)
        if name != "wall":
            page.goto(address)
        if name in ("wall", "single", "info", "terminal"):
            expect(page.locator("body")).not_to_have_attribute("data-connected", "false")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(tmp_path / f"after-stop-{name}.png"))
        dom = page.content()
        assert "Failed" not in dom, name
        assert ended.metadata["error"] not in dom, name
        assert not PUBLIC_WORDS.search(page.locator("body").inner_text()), name
    single = context.pages[1]
    expect(single.locator("#slot-0")).not_to_have_attribute("data-state", "ended")  # kept
    owner = context.new_page()
    sign_in(owner, running, "show@example.org")
    owner.goto(f"{running.url}/networks/{net}")
    expect(owner.locator("#grid .tile-failed .failed-title")).to_have_text("Stopped")
    context.close()
    assert errors == []


def test_the_admin_feed_has_no_gap_across_a_restart(
    browser: Browser, server: tuple[Server, dict[str, Any]]
) -> None:
    running, seeded = server
    net = seeded["network_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    admin = context.new_page()
    sign_in(admin, running, "boss@example.org")
    admin.goto(f"{running.url}/admin")
    expect(admin.locator("body")).to_have_attribute("data-feed", "open")
    with api(running, seeded) as http:
        http.post(f"/api/networks/{net}/runs", json={"prompt": "through the night"})
    expect(admin.locator("#feed-rows tr").nth(3)).to_be_attached()  # at least four
    running.stop()  # the run is released; it resumes at the next start
    expect(admin.locator("body")).to_have_attribute("data-feed", "closed")
    time.sleep(3)  # the page's reconnect delay grows meanwhile
    running.start()
    resumed_at = max(r.id for r in rows_of(seeded["settings"], net))
    expect(admin.locator("body")).to_have_attribute("data-feed-synced", "2")
    expect(admin.locator(f'#feed-rows tr[data-invocation="{resumed_at + 8}"]')).to_have_count(1)
    with api(running, seeded) as http:
        http.delete(f"/api/networks/{net}/runs/current")
    shown: list[int] = admin.eval_on_selector_all(
        "#feed-rows tr", "rows => rows.map(r => Number(r.dataset.invocation))"
    )
    assert shown == sorted(shown, reverse=True)
    assert shown == list(range(shown[0], shown[0] - len(shown), -1))  # no row missing
    assert admin.locator(".feed-gap").count() == 0
    assert min(shown) <= resumed_at  # it spans the restart
    context.close()


def test_a_cycle_edited_mid_run_never_feeds_a_model_the_wrong_media(
    browser: Browser, server: tuple[Server, dict[str, Any]], tmp_path: Path
) -> None:
    running, seeded = server
    net = seeded["network_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    owner = watch_errors(context.new_page(), errors)
    sign_in(owner, running, "show@example.org")
    owner.goto(f"{running.url}/networks/{net}")
    with api(running, seeded) as http:
        started = http.post(f"/api/networks/{net}/runs", json={"prompt": "a red balloon"})
    first = started.json()["genesis"]["run_number"]
    expect(owner.locator("#runner-sequence")).to_have_text(re.compile(r"#[3-9]|#\d\d"))
    owner.get_by_role("button", name="Remove Dummy Audio-to-Text").click()
    owner.get_by_role("button", name="Remove Dummy Text-to-Audio").click()
    expect(owner.locator("#network-validity")).to_have_text("✓ Valid network")
    owner.get_by_role("button", name="Save Network").click()
    expect(owner.locator("#editor-message")).to_have_text("Saved")
    note = owner.locator("#cycle-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("the new cycle starts with the next prompt")
    owner.screenshot(path=str(tmp_path / "cycle-note.png"), full_page=True)
    expect(owner.locator("#runner-sequence")).to_have_text(re.compile(r"#(1[2-9]|[2-9]\d)"))
    restart = owner.locator("#restart-now")
    expect(restart).to_be_visible()  # a text output comes round every other step
    restart.click()
    expect(note).to_be_hidden()
    with api(running, seeded) as http:
        current = http.get(f"/api/networks/{net}/runs/current").json()
        assert current["genesis"]["metadata"]["cycle"] == ["dummy-t2i", "dummy-i2t"]
        expect(owner.locator("#runner-sequence")).to_have_text(re.compile(r"#[4-9]"))
        http.delete(f"/api/networks/{net}/runs/current")
    rows = rows_of(seeded["settings"], net)
    old = [r for r in rows if r.run_number == first]
    new = [r for r in rows if r.run_number == current["run_number"]]
    assert len(old) >= 12
    assert [r.model for r in old] == [FOUR[r.sequence_number % 4] for r in old]
    # Started from the old run's latest text output: the one the button showed. The old
    # run may have gone one step further (to an audio output) before the click landed.
    latest_texts = [
        r.output
        for r in old[-4:]
        if r.state == "completed" and get_model(r.model).output_type == "text"
    ]
    assert new[0].input in latest_texts, (new[0].input, old[-4:])
    for run in (old, new):
        for before, after in itertools.pairwise(run):
            made = get_model(before.model).output_type
            assert get_model(after.model).input_type == made, (before, after)
    context.close()
    assert errors == []
