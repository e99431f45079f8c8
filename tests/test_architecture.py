"""The import rules between parts hold (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout


# Panic's parts, for the composition root only: everyone else asks Panic.
PANIC_INTERNALS = frozenset({"store", "engine", "platforms", "events"})
OUTSIDE_THE_ROOT = ("web", "operations", "cli")


def _reaches_past_panic(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Attribute) or node.attr not in PANIC_INTERNALS:
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if name in ("panic", "_panic"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: panic.{node.attr}")
    return found


def test_nothing_outside_the_composition_root_reaches_past_the_embedding_api() -> None:
    package = ROOT / "src" / "panic_trio"
    files = [f for part in OUTSIDE_THE_ROOT for f in sorted((package / part).rglob("*.py"))]
    assert files
    assert [hit for f in files for hit in _reaches_past_panic(f)] == []
