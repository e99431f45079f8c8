"""``panic-trio archive status|retry`` (see the archive package)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``archive`` subcommands (none yet)."""
