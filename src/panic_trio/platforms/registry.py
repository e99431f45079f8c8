"""Builds every platform once, with one long-lived HTTP client per provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from panic_trio.blocking import ThreadSeam
from panic_trio.platforms.base import Platform
from panic_trio.platforms.dummy import DummyPlatform
from panic_trio.settings import Settings

DUMMY_MEDIA_DIR: Final = "dummy"


@dataclass(frozen=True, slots=True)
class Platforms:
    """The platforms of one process, by name, plus the dummy one for file lookups."""

    by_name: dict[str, Platform]
    dummy: DummyPlatform


@asynccontextmanager
async def open_platforms(settings: Settings, *, inline: bool = False) -> AsyncIterator[Platforms]:
    """Create every platform; exit closes their HTTP clients."""
    dummy = DummyPlatform(
        media_dir=settings.data_dir / DUMMY_MEDIA_DIR,
        base_url=settings.base_url,
        delay=settings.dummy_delay,
        seam=ThreadSeam("dummy-media", 2, inline=inline),
    )
    yield Platforms(by_name={"dummy": dummy}, dummy=dummy)
