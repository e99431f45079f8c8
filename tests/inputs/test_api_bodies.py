"""JSON API bodies of any shape: a 4xx with a JSON reason, never a 5xx, nothing half-done.

Hypothesis writes arbitrary JSON (and non-JSON) bodies for the API's writes:
create a network, change one, start a run. Whatever arrives, the answer is a
JSON error with a reason (or, for a valid body, the documented success), and
a refused write changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from panic_trio.errors import InvalidInput
from panic_trio.inputs import check_network_fields, check_prompt
from tests.inputs.conftest import FUZZ, Portal, snapshot
from tests.web.conftest import World, client

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
MODELS = st.lists(
    st.sampled_from(["dummy-t2t", "dummy-t2i", "dummy-i2t", "nope", "", "gpt-5-chat"]), max_size=4
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=250) | JSON,
        "description": st.text(max_size=50) | JSON,
        "models": MODELS | JSON,
        "lockout_seconds": st.integers(-(10**20), 10**20)
        | st.floats()
        | st.text(max_size=5)
        | st.booleans()
        | st.none(),
        "owner_id": st.integers(),
        "id": st.integers(),
    },
)
BODIES = st.one_of(
    JSON.map(lambda v: ("json", v)),
    FIELDS.map(lambda v: ("json", v)),
    st.binary(max_size=200).map(lambda v: ("raw", v)),
    st.just(("raw", b'{"name": "x", "models": ["dummy-t2t"]')),
)


def acceptable(fields: Any, *, create: bool) -> bool:
    if not isinstance(fields, dict):
        return False
    if create:
        fields = {"name": "", "models": [], "description": "", "lockout_seconds": 30} | fields
    try:
        check_network_fields(fields)
    except (InvalidInput, TypeError):
        return False
    return True


_UNREADABLE = object()


def decoded(body: tuple[str, Any]) -> Any:
    """What the server reads from ``body``: the JSON value, or ``_UNREADABLE``."""
    kind, value = body
    if kind == "json":
        return value
    try:
        return json.loads(value)
    except ValueError:
        return _UNREADABLE


def prompt_ok(value: Any) -> bool:
    try:
        check_prompt(value)
    except InvalidInput:
        return False
    return True


async def send(world: World, method: str, path: str, body: tuple[str, Any]) -> Any:
    key = await world.panic.create_api_key(world.owner.id, "fuzz")
    headers = {"Authorization": f"Bearer {key}"}
    kind, value = body
    if kind == "json":
        return await client(world).open(path, method=method, json=value, headers=headers)
    headers["Content-Type"] = "application/json"
    return await getattr(client(world), method.lower())(path, data=value, headers=headers)


async def check_write(world: World, method: str, path: str, body: tuple[str, Any]) -> None:
    before = await snapshot(world)
    network_before = await world.panic.get_network(world.network.id)
    response = await send(world, method, path, body)
    payload = await response.get_json()
    assert response.status_code < 500, payload
    assert isinstance(payload, dict), await response.get_data(as_text=True)
    value = decoded(body)
    if path == "/api/networks":
        valid = acceptable(value, create=True)
    elif path.endswith("/runs"):
        valid = isinstance(value, dict) and prompt_ok(value.get("prompt"))
    else:
        valid = acceptable(value, create=False)
    assert (response.status_code < 400) == valid, (value, payload)  # both ways
    if response.status_code >= 400:
        assert isinstance(payload["error"], str)
        assert payload.get("message") or payload["error"] == "locked_out"
        assert await snapshot(world) == before
        assert await world.panic.get_network(world.network.id) == network_before
        return
    if path == "/api/networks":
        assert response.status_code == 201
        await world.panic.delete_network(payload["network"]["id"])
    elif path.endswith("/runs"):
        assert response.status_code == 201
        assert await world.panic.stop_run(world.network.id)
    else:
        assert response.status_code == 200
        await world.panic.update_network(
            world.network.id,
            name=network_before.name,
            description=network_before.description,
            models=network_before.models,
            lockout_seconds=network_before.lockout_seconds,
        )


@FUZZ
@given(body=BODIES)
def test_create_network_bodies(portal: Portal, body: tuple[str, Any]) -> None:
    portal.run(check_write, portal.world, "POST", "/api/networks", body)


@FUZZ
@given(body=BODIES)
def test_update_network_bodies(portal: Portal, body: tuple[str, Any]) -> None:
    path = f"/api/networks/{portal.world.network.id}"
    portal.run(check_write, portal.world, "PATCH", path, body)


@FUZZ
@given(body=BODIES | JSON.map(lambda v: ("json", {"prompt": v})))
def test_start_run_bodies(portal: Portal, body: tuple[str, Any]) -> None:
    path = f"/api/networks/{portal.world.network.id}/runs"
    portal.run(check_write, portal.world, "POST", path, body)
