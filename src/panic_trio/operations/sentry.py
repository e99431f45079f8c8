"""Optional error reports to Sentry (``PANIC_SENTRY_DSN``).

Only the logging integration is enabled: every ``logger.error`` and
``logger.exception`` (a run's crash, a failed backup, an undelivered alert)
becomes a Sentry event, and nothing is patched into httpx, SQLAlchemy or the
web framework behind our backs. Personal data stays off (the default).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import trio

from panic_trio.blocking import ThreadSeam
from panic_trio.errors import ConfigError

FLUSH_SECONDS: Final = 2.0


@asynccontextmanager
async def open_error_reports(dsn: str | None) -> AsyncIterator[bool]:
    """Report errors to Sentry inside the block if ``dsn`` is set; gives whether it is.

    Exit flushes what is queued for up to ``FLUSH_SECONDS`` (in a thread).

    Raises:
        ConfigError: the DSN is malformed.
    """
    if not dsn:
        yield False
        return
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.utils import BadDsn

    from panic_trio import __version__

    try:
        sentry_sdk.init(
            dsn=dsn,
            release=f"panic-trio@{__version__}",
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        )
    except BadDsn as exc:
        raise ConfigError(f"PANIC_SENTRY_DSN is not a Sentry DSN: {exc}") from None
    seam = ThreadSeam("sentry", 1)
    try:
        yield True
    finally:
        with trio.CancelScope(shield=True):  # a shutdown must not lose the last reports
            await seam.run(lambda: sentry_sdk.get_client().close(timeout=FLUSH_SECONDS))
