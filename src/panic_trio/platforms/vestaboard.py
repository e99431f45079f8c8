"""Vestaboard read-write API: put a message on one board.

The original crashed its runner on any status it did not expect; here every
outcome is either the message id or a :class:`~panic_trio.errors.PlatformError`
whose message says what the board said, so a display can never take a run
down with a stray exception. There are no retries: the board's own rate limit
(one message every few seconds) makes an immediate retry pointless, and the
caller decides what a failed push means.
"""

from __future__ import annotations

import logging
from typing import Final

import httpx

from panic_trio.errors import MissingToken, PlatformRejected, PlatformUnavailable
from panic_trio.models.platform_records import RECORDS
from panic_trio.platforms.http import base_url, json_object, map_httpx_errors, provider_message
from panic_trio.settings import Settings

logger = logging.getLogger(__name__)

PLATFORM: Final = "vestaboard"
RECORD: Final = RECORDS[PLATFORM]
KEY_HEADER: Final = "X-Vestaboard-Read-Write-Key"


class VestaboardClient:
    """Sends text to Vestaboards through the read-write API.

    The injected ``httpx.AsyncClient`` is shared and not closed here; the base
    URL comes from the setting its record names.
    """

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self._client = client
        self._url = base_url(settings, RECORD) + "/"

    async def send_text(self, text: str, token: str | None, board: str = "unknown") -> str:
        """Show ``text`` on ``board`` and return the message id Vestaboard assigned.

        Raises:
            MissingToken: no read-write key for the board.
            PlatformRejected: the board refused the message (4xx, 304 for an
                unchanged message, an unexpected status or body).
            PlatformUnavailable: rate-limited (503/429), a server error, or
                the board could not be reached.
        """
        where = f"Vestaboard {board}"
        if not token:
            raise MissingToken(
                f"No read-write key is set for the {where}; add it on the dashboard",
                platform=PLATFORM,
                model=board,
            )
        with map_httpx_errors(PLATFORM, board, target=where):
            response = await self._client.post(
                self._url, json={"text": text}, headers={KEY_HEADER: token}
            )
        status = response.status_code
        if response.is_success:
            body = json_object(response, PLATFORM, board)
            message_id = body.get("id")
            if isinstance(message_id, str | int) and str(message_id):
                return str(message_id)
            raise PlatformRejected(
                f"{where} accepted the message but sent no message id",
                status=status,
                platform=PLATFORM,
                model=board,
            )
        logger.warning("%s answered %d", where, status)
        if status == 304:
            raise PlatformRejected(
                f"{where} did not change (304): it is already showing that message",
                status=status,
                platform=PLATFORM,
                model=board,
            )
        if status in (429, 503):
            raise PlatformUnavailable(
                f"{where} is receiving messages too quickly ({status}); wait and try again",
                platform=PLATFORM,
                model=board,
            )
        if 400 <= status < 500:
            raise PlatformRejected(
                f"{where} rejected the message ({status}): {provider_message(response)}",
                status=status,
                platform=PLATFORM,
                model=board,
            )
        if status >= 500:
            raise PlatformUnavailable(
                f"{where} is unavailable ({status}): {provider_message(response)}",
                platform=PLATFORM,
                model=board,
            )
        raise PlatformRejected(
            f"{where} answered with an unexpected status {status}",
            status=status,
            platform=PLATFORM,
            model=board,
        )
