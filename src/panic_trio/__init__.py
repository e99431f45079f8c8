"""PANIC! on Trio: cyclic networks of generative AI models, run exactly.

The embedding API is :func:`open_panic`; configuration is :class:`Settings`.
"""

from panic_trio.panic import Panic, open_panic
from panic_trio.settings import Settings

__version__ = "0.1.0"

__all__ = ["Panic", "Settings", "__version__", "open_panic"]
