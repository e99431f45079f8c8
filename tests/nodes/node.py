"""One ``serve`` process of a multi-process test, calling the fake provider.

Usage: python -m tests.nodes.node CALLS_URL (settings from PANIC_* variables).
The dummy platform is replaced by one that calls ``CALLS_URL/invoke`` (see
tests/fakes/calls.py), so the test sees every call of every process.
"""

from __future__ import annotations

import sys

import httpx
import trio

from panic_trio import Settings, app
from panic_trio.platforms.base import Call, Result


class ProviderCalls:
    """The Platform seam: each call is a request to the logging fake provider."""

    name = "dummy"
    display_name = "Dummy"
    requires_token = False

    def __init__(self, url: str, node: str, http: httpx.AsyncClient) -> None:
        self._url = url
        self._node = node
        self._http = http

    async def invoke(self, call: Call) -> Result:
        response = await self._http.post(
            f"{self._url}/invoke", json={"row": call.invocation_id, "node": self._node}
        )
        response.raise_for_status()
        return Result(str(response.json()["output"]))


async def main(url: str) -> None:
    settings = Settings.from_env()
    async with httpx.AsyncClient(timeout=60) as http:
        platform = ProviderCalls(url, settings.node, http)
        await app.serve(settings, platforms={"dummy": platform})


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
