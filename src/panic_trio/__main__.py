"""``python -m panic_trio`` / ``panic-trio``: parse arguments, then ``trio.run``."""

from __future__ import annotations

import sys

from panic_trio.cli import main

if __name__ == "__main__":
    sys.exit(main())
