"""Concrete paths for the app's URL rules, every parameter pointing at the owner's things."""

from __future__ import annotations

from tests.web.conftest import World


def fill(rule: str, world: World, ids: dict[str, int]) -> str:
    """``rule`` with each ``<converter:name>`` replaced by the owner's value for ``name``."""
    values: dict[str, str] = {
        "network_id": str(world.network.id),
        "user_id": str(world.owner.id),
        "invocation_id": str(ids["invocation"]),
        "run_number": str(ids["invocation"]),
        "key_id": str(ids["key"]),
        "set_id": str(ids.get("token_set", 1)),
        "member_id": str(world.owner.id),
        "block_id": str(ids.get("block", 1)),
        "installation_id": str(ids.get("installation", 1)),
        "public_id": f"{ids.get('installation', 1)}-0",
        "name": "main",
        "code": "x",
        "rest": "nothing/here",
        "filename": "panic.css",
        "key": "invocation-1-output.webp",
    }
    path = rule
    while "<" in path:
        start = path.index("<")
        end = path.index(">", start)
        name = path[start + 1 : end].split(":")[-1]
        value = values[name]
        if name == "name" and path[:start].endswith("/tokens/"):
            value = "openai"  # a token the owner has; "main" would be a 404 for everyone
        path = path[:start] + value + path[end + 1 :]
    return path
