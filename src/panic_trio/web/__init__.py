"""The web app: server-rendered pages, a JSON API and live WebSockets.

:func:`create_app` builds a Quart-Trio app around an open
:class:`~panic_trio.panic.Panic`; :func:`panic_trio.app.serve` runs it under
Hypercorn. The app starts no tasks of its own: every WebSocket's tasks live
in that connection's nursery, and the engine belongs to ``open_panic``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import trio
from quart import Response, request
from quart.typing import ResponseReturnValue
from quart_trio import QuartTrio
from werkzeug.routing import BaseConverter

from panic_trio.errors import PanicError
from panic_trio.operations.metrics import Metrics
from panic_trio.panic import Panic
from panic_trio.security.tokens import derive_key
from panic_trio.settings import Settings
from panic_trio.web import (
    admin,
    api,
    auth,
    dashboard,
    displays,
    installations,
    live,
    metrics,
    moderation,
    networks,
    pages,
    refusals,
    remote,
    runs,
    signs,
    terminal,
    token_sets,
    users,
)
from panic_trio.web.files import PanicResponse
from panic_trio.web.forwarded import Forwarded
from panic_trio.web.limits import ClientLimits
from panic_trio.web.ratelimit import InFlight, RateLimiter
from panic_trio.web.reloads import reload_url
from panic_trio.web.render import (
    cap_usd,
    markdown,
    media_src,
    model_label,
    run_age,
    spent,
    usd,
)
from panic_trio.web.run_links import RunLinks
from panic_trio.web.security import add_security_headers
from panic_trio.web.sockets import with_raw_send
from panic_trio.web.state import EXTENSION, WebState
from panic_trio.web.terminal_tokens import TerminalTokens

HERE: Final = Path(__file__).parent


class RowId(BaseConverter):
    """``<id:name>``: a row id. Ids no row can have (0, past 2³¹-1) become 0: a 404.

    Werkzeug's ``int`` takes any number of digits, and a 40-digit id reached
    the database and failed there as a 500. Refusing in ``to_python`` would
    answer 405 instead of 404 for other methods (werkzeug counts the method
    before converting), so more than ten digits fail the pattern and the rest
    map to 0, which no row has.
    """

    regex = r"\d{1,10}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if 1 <= number < 2**31 else 0

    def to_url(self, value: Any) -> str:
        return str(int(value))


UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY_BYTES: Final = 256 * 1024
LOGIN_LIMIT: Final = (5, 300.0)  # five failed sign-ins per five minutes, per address and email
LOGIN_IN_FLIGHT: Final = 2  # sign-ins checked at once per address and per email
PROMPT_LIMIT: Final = (5, 15.0)  # five prompts per fifteen seconds per client


async def body_too_slow(_error: Exception) -> ResponseReturnValue:
    """408 for a body slower than ``body_timeout``, and the connection closed.

    Left open, a client sending a byte every few seconds held it for ever.
    """
    return "request body too slow\n", 408, {"Connection": "close", "Content-Type": "text/plain"}


def create_app(
    panic: Panic,
    settings: Settings,
    *,
    secret_key: str,
    going_away: trio.Event | None = None,
    terminal_tokens: TerminalTokens | None = None,
    login_limit: tuple[int, float] = LOGIN_LIMIT,
    prompt_limit: tuple[int, float] = PROMPT_LIMIT,
    exporter: Metrics | None = None,
) -> QuartTrio:
    """Build the app.

    Args:
        panic: the open engine (the app never closes it).
        settings: public URL and data folder come from here.
        secret_key: from :func:`panic_trio.security.tokens.load_secret_key`;
            sessions and terminal tokens each use a key derived from it.
        going_away: set it to close every WebSocket with 1001 (shutdown).
        terminal_tokens: a replacement token issuer (tests age tokens).
        login_limit, prompt_limit: ``(count, per_seconds)`` rate limits.
        exporter: served at ``/metrics`` (404 without one); it counts this
            app's WebSockets as viewers.
    """
    app = QuartTrio(
        __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static")
    )
    app.response_class = PanicResponse
    app.url_map.converters["id"] = RowId
    app.secret_key = derive_key(secret_key, "panic-trio sessions").hex()
    app.session_interface = auth.SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="_panic_key",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        BODY_TIMEOUT=settings.body_timeout,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.extensions[EXTENSION] = WebState(
        panic=panic,
        settings=settings,
        tokens=terminal_tokens
        or TerminalTokens(derive_key(secret_key, "panic-trio terminal tokens")),
        login_limiter=RateLimiter(*login_limit),
        prompt_limiter=RateLimiter(*prompt_limit),
        going_away=going_away if going_away is not None else trio.Event(),
        metrics=exporter,
        run_links=RunLinks(derive_key(secret_key, "panic-trio run links")),
        login_in_flight=InFlight(LOGIN_IN_FLIGHT),
    )
    if exporter is not None:
        sockets = app.extensions[EXTENSION].sockets
        exporter.viewers = lambda: sockets.open
    for blueprint in (
        auth.bp, api.bp, live.bp, pages.bp, dashboard.bp, networks.bp, terminal.bp, admin.bp,
        installations.bp, displays.bp, metrics.bp, runs.bp, users.bp, signs.bp, moderation.bp,
        remote.bp, token_sets.bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint)
    app.jinja_env.filters.update(
        markdown=markdown,
        media=lambda url: media_src(url, settings.base_url),
        model_label=model_label,
        usd=usd,
        cap=cap_usd,
        spent=spent,
        run_age=run_age,
    )
    app.jinja_env.globals.update(csrf_token=auth.csrf_token)

    @app.before_request
    async def read_body_then_check_csrf() -> ResponseReturnValue | None:
        # Read the body before any early answer: Hypercorn closes a keep-alive
        # connection whose request body was left unread (stack notes §11).
        if request.method not in UNSAFE_METHODS:
            return None
        await request.get_data()
        if request.path.startswith("/api/") or await auth.form_csrf_valid():
            return None
        return await pages.error_page(
            403, "Forbidden", "The form has expired. Go back, reload the page and try again."
        )

    @app.context_processor
    async def page_globals() -> dict[str, Any]:
        return {
            "current_user": await auth.current_user(),
            "base_url": settings.base_url,
            "reload_url": reload_url(),
        }

    @app.after_request
    async def security_headers(response: Response) -> Response:
        return add_security_headers(response, settings.base_url)

    app.asgi_app = ClientLimits(  # type: ignore[method-assign,assignment]
        with_raw_send(app.asgi_app),
        sockets=settings.max_sockets_per_client,
        requests=settings.max_requests_per_client,
    )
    if settings.proxy_hops:  # outermost, so the caps and every page see the visitor's address
        forwarded = Forwarded(app.asgi_app, hops=settings.proxy_hops)
        app.asgi_app = forwarded  # type: ignore[method-assign,assignment]
    app.register_error_handler(PanicError, refusals.answer_refusal)
    app.register_error_handler(408, body_too_slow)
    app.register_error_handler(404, pages.not_found)
    app.register_error_handler(405, pages.method_not_allowed)
    return app
