"""Schemathesis against the JSON API's own OpenAPI description, over real HTTP.

Every operation of ``/api/openapi.json`` is called with schema-driven
bodies, paths and query strings, valid and invalid, as the owner (bearer
key). Each answer must be what the description promises: no 5xx, a
documented status, the documented content type and body shape, and invalid
data refused. Half the generated network ids are pointed at the real network
so the checks reach past the 404.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from panic_trio.web.openapi import OPENAPI
from tests.inputs.conftest import Portal

schema = schemathesis.openapi.from_dict(OPENAPI)
EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A body the schema allows may still be refused for a reason a schema cannot say:
# a cycle whose types do not chain, a name already taken. Those answers are
# documented 422s, checked by every other check; only this one would call them wrong.
EXCLUDED = [positive_data_acceptance]


@pytest.fixture
def owner_headers(portal: Portal) -> dict[str, str]:
    world = portal.world
    key = portal.run(world.panic.create_api_key, world.owner.id, "schemathesis")
    return {"Authorization": f"Bearer {key}"}


def test_the_served_description_is_the_one_fuzzed(portal: Portal) -> None:
    served = requests.get(f"{portal.url}/api/openapi.json", timeout=10)
    assert served.headers["Content-Type"].startswith("application/json")
    assert served.json() == OPENAPI


@schema.parametrize()
@EXAMPLES
def test_every_operation_keeps_its_description(
    case: schemathesis.Case[Any], portal: Portal, owner_headers: dict[str, str]
) -> None:
    ids = case.path_parameters or {}
    if isinstance(ids.get("network_id"), int) and ids["network_id"] % 2 == 0:
        ids["network_id"] = portal.world.network.id
    response = case.call_and_validate(
        base_url=portal.url, headers=owner_headers, excluded_checks=EXCLUDED, timeout=10
    )
    if case.method.upper() == "POST" and response.status_code == 201 and "runs" in case.path:
        portal.run(portal.world.panic.stop_run, portal.world.network.id)
