"""What every browser test shares: Debian's chromium under Playwright's sync
API, the server in a thread of its own, and a page's script errors collected
(the module-wide ``browser`` fixture is in conftest.py).

The server runs ``app.serve`` under its own ``trio.run`` in a background thread,
because Playwright's sync API must own the test's thread.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import Browser, Page, Playwright

from panic_trio import app
from panic_trio.settings import Settings

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
WAIT_MS = 15_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium"),
]


class Server:
    """``app.serve`` in a background thread; :meth:`start` and :meth:`stop` repeatably."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = ""
        self._thread: threading.Thread | None = None
        self._box: dict[str, Any] = {}

    def start(self) -> None:
        ready = threading.Event()

        async def main() -> None:
            self._box["stop"] = stop = trio.Event()
            self._box["token"] = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                urls = await nursery.start(
                    partial(app.serve, self.settings, shutdown_trigger=stop.wait)
                )
                self.url = urls[0]
                ready.set()

        self._thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
        self._thread.start()
        assert ready.wait(30), "the server did not start"

    def stop(self) -> None:
        assert self._thread is not None
        trio.from_thread.run_sync(self._box["stop"].set, trio_token=self._box["token"])
        self._thread.join(30)
        assert not self._thread.is_alive(), "the server did not shut down"


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The server's URL while it runs; it is shut down (and must stop) on exit."""
    server = Server(settings)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def launch(playwright: Playwright) -> Browser:
    """Debian's chromium, headless, with nothing phoning home."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def watch_errors(page: Page, errors: list[str]) -> Page:
    """Collect the page's script errors and console errors (CSP violations among them)."""
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    return page
