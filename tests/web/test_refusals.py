"""One mapping from the error tree to answers: HTTP status, JSON body, socket reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import trio

from panic_trio.domain import Invocation
from panic_trio.errors import (
    ArchiveError,
    InvalidInput,
    InvalidNetwork,
    InvalidPrompt,
    LockedOut,
    NotFound,
    PanicError,
    PermissionDenied,
    RateLimited,
    ShuttingDown,
    SpendingCapReached,
    StoreError,
)
from panic_trio.web.refusals import BROKEN, BUSY, refusal
from tests.web.conftest import TIMEOUT, World, client
from tests.web.test_api import api_key

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GENESIS = Invocation(
    id=7,
    network_id=1,
    run_number=7,
    sequence_number=0,
    model="dummy-t2t",
    input="a red balloon",
    output=None,
    state="invoking",
    metadata={},
    inserted_at=NOW,
    updated_at=NOW,
)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidPrompt("prompt must not be empty", field="prompt"), 422, "invalid_prompt"),
        (InvalidNetwork("not a cycle", field="models"), 422, "invalid_network"),
        (InvalidInput("name must not be empty", field="name"), 422, "invalid_input"),
        (NotFound("no network with id 9"), 404, "not_found"),
        (PermissionDenied("admins only"), 403, "forbidden"),
        (ShuttingDown("the server is shutting down"), 503, "shutting_down"),
        (StoreError("database is locked", transient=True), 503, "unavailable"),
        (StoreError("no such table"), 500, "internal_error"),
        (ArchiveError("bucket gone"), 500, "internal_error"),
    ],
)
def test_each_error_has_one_status_and_code(error: PanicError, status: int, code: str) -> None:
    answer = refusal(error, NOW)
    assert (answer.status, answer.error) == (status, code)
    said = {"unavailable": BUSY, "internal_error": BROKEN}.get(code, str(error))
    assert answer.message == said
    assert answer.socket_reply() == {"type": "error", "message": said}


@pytest.mark.parametrize(
    "error",
    [
        StoreError("duplicate key value (email)=(visitor@example.org)", transient=True),
        StoreError("duplicate key value (email)=(visitor@example.org)"),
        ArchiveError("s3://private-bucket/key refused"),
    ],
)
def test_what_the_database_or_a_library_said_stays_in_the_log(error: PanicError) -> None:
    answer = refusal(error, NOW)
    assert str(error) not in answer.message
    assert "example.org" not in str(answer.body)
    assert "private-bucket" not in str(answer.body)


def test_an_invalid_field_is_named() -> None:
    assert refusal(InvalidInput("bad", field="name"), NOW).body["field"] == "name"
    assert "field" not in refusal(InvalidInput("bad"), NOW).body


def test_waits_are_whole_seconds_rounded_up_in_the_body_and_the_header() -> None:
    locked = refusal(LockedOut(GENESIS, 2.2), NOW)
    assert locked.status == 429
    assert locked.body["retry_after"] == 3
    assert locked.headers == {"Retry-After": "3"}
    assert locked.body["genesis"] == GENESIS.to_json()
    assert locked.socket_reply() == {
        "type": "locked_out",
        "retry_after": 3,
        "genesis": GENESIS.to_json(),
    }
    limited = refusal(RateLimited(0.4), NOW)
    assert (limited.status, limited.error) == (429, "rate_limited")
    assert limited.headers == {"Retry-After": "1"}
    message = "too many prompts: try again in 1 s"
    assert limited.socket_reply() == {"type": "error", "message": message}


def test_a_spending_cap_says_when_prompts_are_taken_again() -> None:
    cap = SpendingCapReached(
        "the daily cap is reached",
        scope="network-day",
        limit=1.0,
        resumes_at=NOW + timedelta(hours=2),
    )
    answer = refusal(cap, NOW)
    assert answer.status == 429
    assert answer.body["retry_after"] == 7200
    assert answer.headers == {"Retry-After": "7200"}
    assert answer.socket_reply() == {
        "type": "spending_cap",
        "message": "the daily cap is reached",
        "scope": "network-day",
        "resumes_at": "2026-12-01T14:00:00.000000+00:00",
    }
    forever = refusal(
        SpendingCapReached("capped", scope="network-run", limit=1.0, resumes_at=None), NOW
    )
    assert forever.headers == {}
    assert "retry_after" not in forever.body


async def test_a_route_that_lets_an_error_through_answers_it_by_the_mapping(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        created = await client(world).post(
            "/api/networks", json={"name": "Bad", "models": ["dummy-t2i"]}, headers=headers
        )
        assert created.status_code == 422
        body = await created.get_json()
        assert (body["error"], body["field"]) == ("invalid_network", "models")
        missing = await client(world).get(
            f"/api/networks/{world.network.id}/runs/999/export", headers=headers
        )
        assert missing.status_code == 404
        assert (await missing.get_json())["error"] == "not_found"
