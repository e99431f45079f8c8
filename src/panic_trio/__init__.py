"""PANIC! on Trio: cyclic networks of generative AI models, run exactly.

The embedding API is :func:`open_panic`; configuration is :class:`Settings`.
Both are loaded on first use, so importing a light part (``panic_trio.models``)
does not pull in the database, HTTP and imaging libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from panic_trio.panic import Panic, open_panic
    from panic_trio.settings import Settings

__version__ = "0.1.0"

__all__ = ["Panic", "Settings", "__version__", "open_panic"]

_LAZY = {
    "Panic": "panic_trio.panic",
    "open_panic": "panic_trio.panic",
    "Settings": "panic_trio.settings",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'panic_trio' has no attribute {name!r}")
