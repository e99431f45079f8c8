"""Builds every platform once, with one long-lived HTTP client per provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Final

import httpx

from panic_trio.blocking import ThreadSeam
from panic_trio.local_media import DUMMY_DIR, LocalMedia, MediaResolver
from panic_trio.platforms.base import Platform
from panic_trio.platforms.dummy import DummyPlatform
from panic_trio.platforms.gemini import GeminiPlatform
from panic_trio.platforms.openai import OpenAIPlatform
from panic_trio.platforms.replicate import ReplicatePlatform
from panic_trio.platforms.token_check import TokenChecker
from panic_trio.platforms.vestaboard import VestaboardClient
from panic_trio.settings import Settings

HTTP_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
HTTP_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)


@dataclass(frozen=True, slots=True)
class Platforms:
    """The platforms of one process by name, plus the dummy one (for its files)
    and the Vestaboard client (a display, not a model)."""

    by_name: dict[str, Platform]
    dummy: DummyPlatform
    vestaboard: VestaboardClient | None = None
    tokens: TokenChecker | None = None


@asynccontextmanager
async def open_platforms(
    settings: Settings, *, local_files: MediaResolver | None = None, inline: bool = False
) -> AsyncIterator[Platforms]:
    """Create every platform; exit closes their HTTP clients.

    ``local_files`` maps this server's media URLs to files (``open_panic``
    builds it once); by default one is made from ``settings``.
    """
    if local_files is None:
        local_files = LocalMedia.from_settings(settings)
    dummy = DummyPlatform(
        media_dir=settings.data_dir / DUMMY_DIR,
        base_url=settings.base_url,
        delay=settings.dummy_delay,
        seam=ThreadSeam("dummy-media", 2, inline=inline),
    )
    async with AsyncExitStack() as stack:

        async def client() -> httpx.AsyncClient:
            return await stack.enter_async_context(
                httpx.AsyncClient(timeout=HTTP_TIMEOUT, limits=HTTP_LIMITS)
            )

        served: tuple[Platform, ...] = (
            dummy,
            OpenAIPlatform(await client(), settings),
            ReplicatePlatform(await client(), settings),
            GeminiPlatform(
                await client(),
                settings,
                local_file=local_files,
                files=ThreadSeam("gemini-files", 2, inline=inline),
            ),
        )
        by_name = {platform.name: platform for platform in served}  # names from their records
        vestaboard = VestaboardClient(await client(), settings)
        checker = TokenChecker(await client(), settings)
        yield Platforms(by_name=by_name, dummy=dummy, vestaboard=vestaboard, tokens=checker)
