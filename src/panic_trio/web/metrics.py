"""``GET /metrics``: Prometheus text format, never public.

Allowed: ``Authorization: Bearer <PANIC_METRICS_TOKEN>`` when that is set,
an admin's personal API key as the bearer, or an admin's session. Anyone
else gets 401 (no or wrong credentials) or 403 (signed in, not an admin).
"""

from __future__ import annotations

import hmac

from quart import Blueprint, Response, request
from quart.typing import ResponseReturnValue

from panic_trio.operations.metrics import CONTENT_TYPE
from panic_trio.web.auth import current_user
from panic_trio.web.state import web_state

bp = Blueprint("metrics", __name__)


def _refuse(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


async def _allowed() -> Response | None:
    """``None`` if the caller may read metrics, else the refusal."""
    state = web_state()
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            return _refuse(401, "send Authorization: Bearer <token>")
        token = state.settings.metrics_token
        if token is not None and hmac.compare_digest(value.encode(), token.encode()):
            return None
        user = await state.panic.user_for_api_key(value)
        if user is None:
            return _refuse(401, "the token is not valid")
        return None if user.admin else _refuse(403, "metrics are for admins")
    user = await current_user()
    if user is None:
        return _refuse(401, "sign in as an admin, or send Authorization: Bearer <token>")
    return None if user.admin else _refuse(403, "metrics are for admins")


@bp.get("/metrics")
async def metrics() -> ResponseReturnValue:
    """Every metric of this server, for Prometheus."""
    exporter = web_state().metrics
    if exporter is None:
        return _refuse(404, "metrics are not enabled in this app")
    refusal = await _allowed()
    if refusal is not None:
        return refusal
    return Response(exporter.exposition(), content_type=CONTENT_TYPE)
