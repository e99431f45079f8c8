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
from panic_trio.models.platform_records import display_name, platform_record
from panic_trio.platforms.http import base_url, check_response, map_httpx_errors
from panic_trio.settings import Settings

CHECK_TIMEOUT_SECONDS: Final = 15.0


class TokenChecker:
    """Asks each provider the free question its record's probe names.

    (OpenAI: ``GET /models``; Replicate: ``GET /account``; Gemini: ``GET
    /models``.) The injected client is shared and not closed here.
    """

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    def _request(self, platform: str, token: str) -> httpx.Request:
        record = platform_record(platform)
        if record is None or record.probe is None:
            raise PlatformRejected(f"{platform} tokens cannot be tested here", platform=platform)
        url = base_url(self._settings, record) + record.probe.path
        if record.probe.auth == "key_param":
            return self._client.build_request("GET", url, params={"key": token})
        return self._client.build_request("GET", url, headers=_bearer(token))

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
