"""Testing a provider token with one cheap authenticated call, before a visitor does.

A token discovered wrong at run time fails the first visitor's run; this asks
the provider something free that needs the token (its model list, or the
account) and reports what it said. Nothing is billed and nothing is kept.
"""

from __future__ import annotations

from typing import Final

import httpx
import trio

from panic_trio.errors import PlatformRejected, PlatformTimeout
from panic_trio.platforms.http import check_response, display_name, map_httpx_errors
from panic_trio.settings import Settings

CHECK_TIMEOUT_SECONDS: Final = 15.0
TESTABLE: Final = ("openai", "replicate", "gemini")


class TokenChecker:
    """Asks each provider a free question that needs the token.

    OpenAI: ``GET /models``; Replicate: ``GET /account``; Gemini: ``GET
    /models``. The injected client is shared and not closed here.
    """

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    def _request(self, platform: str, token: str) -> httpx.Request:
        s = self._settings
        if platform == "openai":
            url = s.openai_base_url.rstrip("/") + "/models"
            return self._client.build_request("GET", url, headers=_bearer(token))
        if platform == "replicate":
            url = s.replicate_base_url.rstrip("/") + "/account"
            return self._client.build_request("GET", url, headers=_bearer(token))
        if platform == "gemini":
            url = s.gemini_base_url.rstrip("/") + "/models"
            return self._client.build_request("GET", url, params={"key": token})
        raise PlatformRejected(f"{platform} tokens cannot be tested here", platform=platform)

    async def check(self, platform: str, token: str) -> None:
        """Return if the provider accepts ``token``.

        Raises:
            PlatformRejected: refused (401/403: the token is wrong) or the
                platform cannot be tested.
            PlatformUnavailable: the provider could not be reached.
            PlatformTimeout: no answer within ``CHECK_TIMEOUT_SECONDS``.
        """
        request = self._request(platform, token)
        with trio.move_on_after(CHECK_TIMEOUT_SECONDS), map_httpx_errors(platform, ""):
            response = await self._client.send(request)
            check_response(response, platform, "")
            return
        raise PlatformTimeout(
            f"{display_name(platform)} did not answer within {CHECK_TIMEOUT_SECONDS:g} s",
            platform=platform,
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
