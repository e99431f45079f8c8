"""Our error tree as answers: one mapping from a :class:`PanicError` to what a client is told.

A refusal is the same on every path: the JSON API answers its status, body
and headers, the live socket its reply frame, a form its words. Routes let
``PanicError`` propagate (the app's error handler answers it) or, where the
page itself shows the refusal, ask :func:`refusal` for the words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from quart import jsonify, request
from quart.typing import ResponseReturnValue

from panic_trio.domain import iso
from panic_trio.errors import (
    InvalidInput,
    InvalidNetwork,
    InvalidPrompt,
    LockedOut,
    NotFound,
    OwnerUnreachable,
    PanicError,
    PermissionDenied,
    RateLimited,
    ShuttingDown,
    SpendingCapReached,
    StoreError,
)
from panic_trio.web.pages import error_page
from panic_trio.web.ratelimit import whole_seconds
from panic_trio.web.state import web_state

logger = logging.getLogger(__name__)

BUSY = "The database is busy. Try again in a few seconds."
BROKEN = "Something went wrong on the server. It has been logged."


@dataclass(frozen=True, slots=True)
class Refusal:
    """What one error means to a client: an HTTP status, a JSON body, headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str:
        """The short code (``locked_out``, ``invalid_prompt``, …)."""
        return str(self.body["error"])

    @property
    def message(self) -> str:
        """The refusal in words, for a person."""
        return str(self.body["message"])

    def socket_reply(self) -> dict[str, Any]:
        """The live socket's reply frame (its shapes are fixed in docs/api.md)."""
        if self.error == "locked_out":
            return {"type": "locked_out", **_only(self.body, "retry_after", "genesis")}
        if self.error == "spending_cap":
            return {"type": "spending_cap", **_only(self.body, "message", "scope", "resumes_at")}
        return {"type": "error", "message": self.message}


def _only(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: body[key] for key in keys}


def _waited(status: int, error: str, message: str, seconds: float, **extra: Any) -> Refusal:
    whole = whole_seconds(seconds)
    body = {"error": error, "message": message, "retry_after": whole, **extra}
    return Refusal(status, body, {"Retry-After": str(whole)})


def refusal(exc: PanicError, now: datetime) -> Refusal:
    """The answer to ``exc``; ``now`` (the store's clock) dates a spending cap's retry."""
    message = str(exc)
    if isinstance(exc, LockedOut):
        return _waited(429, "locked_out", message, exc.retry_after, genesis=exc.genesis.to_json())
    if isinstance(exc, RateLimited):
        return _waited(429, "rate_limited", message, exc.retry_after)
    if isinstance(exc, SpendingCapReached):
        return _cap_refusal(exc, now)
    if isinstance(exc, InvalidInput):
        code = "invalid_input"
        if isinstance(exc, InvalidPrompt):
            code = "invalid_prompt"
        elif isinstance(exc, InvalidNetwork):
            code = "invalid_network"
        extra = {} if exc.field is None else {"field": exc.field}
        return Refusal(422, {"error": code, "message": exc.message, **extra})
    if isinstance(exc, NotFound):
        return Refusal(404, {"error": "not_found", "message": message})
    if isinstance(exc, PermissionDenied):
        return Refusal(403, {"error": "forbidden", "message": message})
    if isinstance(exc, ShuttingDown):
        return Refusal(503, {"error": "shutting_down", "message": message})
    if isinstance(exc, OwnerUnreachable):  # another process runs it and did not answer
        return _waited(503, "owner_unreachable", exc.message, exc.retry_after)
    # Past here the text is the database's or a library's (it can hold values):
    # it goes to the log, and the caller gets words of ours.
    if isinstance(exc, StoreError) and exc.transient:
        logger.warning("answered 503: %s", exc)
        return Refusal(503, {"error": "unavailable", "message": BUSY}, {"Retry-After": "5"})
    logger.error("answered 500: %r", exc)
    return Refusal(500, {"error": "internal_error", "message": BROKEN})


def _cap_refusal(exc: SpendingCapReached, now: datetime) -> Refusal:
    extra = {"scope": exc.scope, "limit": exc.limit, "resumes_at": iso(exc.resumes_at)}
    if exc.resumes_at is None:
        return Refusal(429, {"error": "spending_cap", "message": exc.message, **extra})
    wait = max((exc.resumes_at - now).total_seconds(), 0.0)
    return _waited(429, "spending_cap", exc.message, wait, **extra)


async def answer_refusal(exc: PanicError) -> ResponseReturnValue:
    """The app's handler for a ``PanicError`` no route caught: JSON under ``/api/``, else a page."""
    answer = refusal(exc, web_state().panic.now())
    if request.path.startswith("/api/"):
        return jsonify(answer.body), answer.status, answer.headers
    title = answer.error.replace("_", " ").capitalize()
    return await error_page(answer.status, title, answer.message, answer.headers)
