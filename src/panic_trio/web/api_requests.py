"""Who is calling the JSON API and what they sent: the checks every route starts with.

Each check answers for itself by raising :class:`ApiError` (a status and an
``error``/``message`` body), which ``web/api.py`` turns into the response.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NoReturn

from quart import request

from panic_trio.domain import Network, User
from panic_trio.errors import NotFound
from panic_trio.web.auth import CSRF_HEADER, csrf_valid, current_user, may_manage
from panic_trio.web.prompters import Prompter, prompter
from panic_trio.web.state import web_state


class ApiError(Exception):
    """An error answer: status, JSON body and optional headers."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body.get("error", "error"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def fail(status: int, error: str, message: str, **extra: Any) -> NoReturn:
    """Raise an :class:`ApiError` with the usual ``error``/``message`` body."""
    raise ApiError(status, {"error": error, "message": message, **extra})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a user, or an anonymous holder of a terminal token."""

    user: User | None
    prompter: Prompter


async def caller(*, write: bool) -> User:
    """The authenticated user, or 401/403."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, key = header.partition(" ")
        user = None
        if scheme.lower() == "bearer" and key.strip():
            user = await web_state().panic.user_for_api_key(key.strip())
        if user is None:
            fail(401, "unauthorized", "the API key is not valid")
        return user
    user = await current_user()
    if user is None:
        fail(401, "unauthorized", "sign in, or send Authorization: Bearer <API key>")
    if write and not csrf_valid(request.headers.get(CSRF_HEADER)):
        fail(403, "csrf", f"session writes need the {CSRF_HEADER} header (see <meta csrf-token>)")
    return user


async def managed_network(network_id: int, user: User) -> Network:
    """The network if ``user`` may manage it; otherwise 404."""
    try:
        network = await web_state().panic.get_network(network_id)
    except NotFound:
        network = None
    if network is None or not may_manage(user, network):
        fail(404, "not_found", f"no network with id {network_id}")
    return network


def replace_flag() -> bool:
    """``?replace=true``: stop the current run and start in one step (owners only)."""
    value = request.args.get("replace", "false").lower()
    if value not in ("true", "false", "1", "0"):
        fail(400, "bad_request", "replace must be true or false")
    return value in ("true", "1")


async def prompting_caller(network_id: int, *, replace: bool = False) -> Caller:
    """Who may start a run here: the owner (or an admin), or a terminal token's holder."""
    token = request.args.get("token")
    if replace and (request.headers.get("Authorization") is None and token is not None):
        fail(403, "forbidden", "only the network's owner may replace a run")
    if request.headers.get("Authorization") is None and token is not None:
        try:
            network = await web_state().panic.get_network(network_id)
        except NotFound:
            fail(404, "not_found", f"no network with id {network_id}")
        check = web_state().tokens.check(token, network)
        if check != "ok":
            fail(401, "invalid_token", f"the terminal token is {check.replace('_', ' ')}")
        return Caller(None, _prompter(network, None, token))
    user = await caller(write=True)
    network = await managed_network(network_id, user)
    return Caller(user, _prompter(network, user, None))


def _prompter(network: Network, user: User | None, token: str | None) -> Prompter:
    return prompter(
        network, user=user, token=token, address=request.remote_addr, tokens=web_state().tokens
    )


async def json_object(allowed: Collection[str]) -> dict[str, Any]:
    """The body as a JSON object with no field outside ``allowed`` (else 400 or 422).

    An unknown field is refused, not ignored: a typo would silently do
    nothing, and a field passed on as a keyword argument was a 500.
    """
    body = await _anyjson_object()
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        fail(
            422,
            "unknown_field",
            f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})",
            field=unknown[0],
        )
    return body


async def _anyjson_object() -> dict[str, Any]:
    # Parse the bytes ourselves: Quart's get_json decodes them as UTF-8 first
    # and lets a UnicodeDecodeError escape (a 500) for a body that is not.
    raw = await request.get_data(as_text=False)
    try:
        body = json.loads(raw)
    except ValueError:  # not JSON, or not text at all (UnicodeDecodeError)
        body = None
    if not isinstance(body, dict):
        fail(400, "bad_request", "the body must be a JSON object")
    return body
