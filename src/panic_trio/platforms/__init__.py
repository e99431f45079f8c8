"""Where models run: the Platform seam, the dummy platform and the hosted APIs."""

from panic_trio.platforms.base import Call, Platform, Result

__all__ = ["Call", "Platform", "Result"]
