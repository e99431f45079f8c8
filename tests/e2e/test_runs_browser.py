"""Browser tests of runs as artefacts: the exported zip opened from file://, the live ring,
the run page, with screenshots at phone and TV sizes.

Same harness as ``test_browser.py``: the server in a thread with its own
``trio.run``, Debian chromium through Playwright's sync API, no fixed sleeps.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.browsing import WAIT_MS
from tests.e2e.test_browser import Live, api, live, page, sign_in

__all__ = ["live", "page"]  # fixtures

PROMPT = 'a <script>alert("boo")</script> lighthouse'
SHOTS = Path("/tmp/panic-trio-screenshots")


def wait_for_steps(client: httpx.Client, network_id: int, run_number: int, steps: int) -> None:
    """Poll the run's summary until ``steps`` steps completed (bounded by the browser timeout)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        body = client.get(f"/api/networks/{network_id}/runs/{run_number}").json()
        if body["run"]["steps"] >= steps:
            return
        time.sleep(0.1)  # a poll interval, not a wait for something to happen
    raise AssertionError(f"run {run_number} did not reach {steps} steps")


@pytest.fixture
def audio_run(live: Live) -> Iterator[tuple[int, int]]:
    """A stopped run through image, text, audio and text models, on a network of its own."""
    with api(live, live.owner_key) as client:
        network = client.post(
            "/api/networks",
            json={"name": "Sounds", "models": ["dummy-t2i", "dummy-i2t", "dummy-t2a", "dummy-a2t"]},
        ).json()["network"]
        genesis = client.post(f"/api/networks/{network['id']}/runs", json={"prompt": PROMPT})
        run_number = genesis.json()["genesis"]["run_number"]
        wait_for_steps(client, network["id"], run_number, 6)
        assert client.delete(f"/api/networks/{network['id']}/runs/current").json()["stopped"]
        yield network["id"], run_number


def test_the_exported_zip_works_offline_from_file_urls(
    browser: Browser, live: Live, audio_run: tuple[int, int], tmp_path: Path
) -> None:
    network_id, run_number = audio_run
    with api(live, live.owner_key) as client:
        response = client.get(f"/api/networks/{network_id}/runs/{run_number}/export")
    assert response.status_code == 200
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path)
    index = (tmp_path / "index.html").as_uri()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    offline = context.new_page()
    requests: list[str] = []
    dialogs: list[str] = []
    offline.on("request", lambda request: requests.append(request.url))

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    offline.on("dialog", refuse)
    offline.goto(index, wait_until="load")

    expect(offline.locator("#prompt")).to_have_text(PROMPT)  # the <script> is text
    images = offline.locator("img")
    assert images.count() >= 2
    widths = images.evaluate_all("images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(width > 0 for width in widths), widths
    audio = offline.locator("audio")
    assert audio.count() >= 1
    durations = audio.evaluate_all(
        """players => Promise.all(players.map(player => new Promise(resolve => {
            const source = player.querySelector("source");
            if (!source || player.canPlayType(source.type) === "") { resolve(-1); return; }
            player.addEventListener("loadedmetadata", () => resolve(player.duration));
            player.addEventListener("error", () => resolve(-2), true);
            player.preload = "auto";
            player.load();
        })))"""
    )
    assert all(duration > 0 for duration in durations), durations
    assert dialogs == []
    assert requests
    assert all(url.startswith("file://") for url in requests), requests
    SHOTS.mkdir(exist_ok=True)
    offline.screenshot(path=str(SHOTS / "export-1280.png"), full_page=False)
    context.close()


def test_the_ring_lights_each_step_and_names_its_nodes(page: Page, live: Live) -> None:
    sign_in(page, live, "owner@example.org")
    page.goto(f"{live.url}/networks/{live.network_id}")
    ring = page.locator("#network-ring")
    expect(ring.locator(".ring-node")).to_have_count(2)
    expect(page.get_by_role("img", name="1: Dummy Text-to-Image, text → image")).to_be_visible()
    expect(page.get_by_role("img", name="2: Dummy Image-to-Text, image → text")).to_be_visible()
    expect(page.get_by_role("group", name="The network as a ring of 2 models")).to_be_visible()
    expect(page.locator("#prompt-input")).to_be_enabled()  # the socket is open

    with api(live, live.owner_key) as client:
        started = client.post(f"/api/networks/{live.network_id}/runs", json={"prompt": "rings"})
        assert started.status_code == 201
        try:
            seen = []
            for lit in ("1", "0", "1", "0"):  # waiting for i2t, then t2i, then i2t, ...
                expect(ring).to_have_attribute("data-lit", lit)
                expect(ring.locator(f"#ring-node-{lit}")).to_have_class(re.compile(r"\blit\b"))
                expect(ring.locator(".ring-node.lit")).to_have_count(1)
                seen.append(page.locator("#ring-counter").text_content())
                # The last output sits at the other node: an image at 0, text at 1.
                if lit == "1":
                    thumb = ring.locator("#ring-node-0 .ring-thumb")
                    expect(thumb).to_have_attribute("visibility", "visible")
                else:
                    expect(ring.locator("#ring-node-1 .ring-glyph")).to_have_text("¶")
            numbers = [int(re.sub(r"\D", "", text or "")) for text in seen]
            assert numbers == sorted(numbers)
            assert len(set(numbers)) == 4
            animation = (
                "getComputedStyle(document.querySelector('.ring-node.lit .ring-dot')).animationName"
            )
            assert page.evaluate(animation) == "ring-pulse"
            page.emulate_media(reduced_motion="reduce")
            assert page.evaluate(animation) == "none"
            shoot(page, live, "control-panel")
        finally:
            client.delete(f"/api/networks/{live.network_id}/runs/current")
    expect(ring).to_have_attribute("data-lit", "")
    expect(page.locator("#ring-counter")).to_have_text("idle")


def test_the_ring_is_a_static_picture_without_javascript(browser: Browser, live: Live) -> None:
    context = browser.new_context(java_script_enabled=False)
    static = context.new_page()
    static.goto(f"{live.url}/networks/{live.network_id}/info")
    expect(static.locator("#network-ring .ring-node")).to_have_count(2)
    expect(static.locator("#network-ring .ring-name").first).to_have_text("Dummy Text-to-Image")
    context.close()


def test_a_run_page_grows_live_and_its_public_link_works_signed_out(
    page: Page, browser: Browser, live: Live
) -> None:
    sign_in(page, live, "owner@example.org")
    with api(live, live.owner_key) as client:
        started = client.post(
            f"/api/networks/{live.network_id}/runs", json={"prompt": "live <i>run</i>"}
        )
        run_number = started.json()["genesis"]["run_number"]
        try:
            page.goto(f"{live.url}/networks/{live.network_id}/runs/{run_number}")
            expect(page.locator("#run-prompt")).to_have_text("live <i>run</i>")
            count = page.locator("#chain .step").count()
            expect(page.locator("#chain .step")).to_have_count(count + 2)  # without a reload
            expect(page.locator("#chain .step img").first).to_be_visible()
            page.get_by_role("button", name="Make public").click()
            link = page.locator("#share-link").get_attribute("href")
            assert link
            shoot(page, live, "run")
        finally:
            client.delete(f"/api/networks/{live.network_id}/runs/current")
    page.goto(f"{live.url}/networks/{live.network_id}/runs")
    expect(page.locator(f"#run-{run_number}")).to_have_attribute("data-ending", "stopped")
    shoot(page, live, "runs")

    context = browser.new_context()
    public = context.new_page()
    errors: list[str] = []
    public.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    public.goto(link)
    expect(public.locator("#run-prompt")).to_have_text("live <i>run</i>")
    expect(public.locator("#run-ending")).to_have_text("ended")
    expect(public.get_by_role("button", name="Make public")).to_have_count(0)
    assert errors == []
    context.close()


def shoot(page: Page, live: Live, name: str) -> None:
    """The page at a phone's and a TV's size, for people to look at (not compared)."""
    SHOTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for width, height in ((390, 844), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)
