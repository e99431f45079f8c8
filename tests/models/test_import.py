"""The catalog is light: importing it loads no database, HTTP or imaging library.

Checked in a fresh interpreter, since this test process has loaded them all.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "httpx", "PIL")


def test_importing_the_models_loads_no_heavy_library() -> None:
    probe = (
        f"import sys, panic_trio.models\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


def test_the_package_still_gives_the_embedding_api() -> None:
    probe = "from panic_trio import Panic, Settings, open_panic; print(Panic.__name__)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "Panic"
