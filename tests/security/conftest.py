"""Security tests use the web suite's app (``tests/web/conftest.py``): a real engine, 3 users."""

from __future__ import annotations

from tests.web.conftest import settings, world

__all__ = ["settings", "world"]
