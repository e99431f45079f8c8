"""Sessions, CSRF and sign-in/sign-out.

The session is Quart's signed cookie (``_panic_key``, HttpOnly, SameSite=Lax)
holding only the user id, the user's session version and a CSRF token; it
is signed with a key derived for sessions alone. Every form carries the CSRF
token and every state change checks it. The session version is checked on
every request: bumping it ("sign out everywhere", a password change) ends
every session of that user at once, copied cookies included.

Sign-ins are rate limited per address and per email: each attempt is
charged before its password is checked (a success refunds it), and only a
few attempts per address and per email may be checked at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Final, ParamSpec, TypeVar
from urllib.parse import unquote, urlencode, urlsplit

from quart import Blueprint, g, redirect, render_template, request, session, url_for
from quart.sessions import SecureCookieSessionInterface
from quart.typing import ResponseReturnValue

from panic_trio.domain import Network, User
from panic_trio.errors import NotFound
from panic_trio.web.pages import error_page
from panic_trio.web.ratelimit import whole_seconds
from panic_trio.web.state import web_state

P = ParamSpec("P")
R = TypeVar("R")

SESSION_USER: Final = "uid"
SESSION_VERSION: Final = "sv"
SESSION_CSRF: Final = "csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
MAX_NEXT_CHARS: Final = 2000
IN_FLIGHT_RETRY_SECONDS: Final = 1.0  # a sign-in of the same address or email is being checked

bp = Blueprint("auth", __name__)


class SessionInterface(SecureCookieSessionInterface):
    """Quart's signed-cookie sessions, with SHA-256 instead of SHA-1."""

    digest_method = staticmethod(hashlib.sha256)


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def csrf_valid(candidate: object) -> bool:
    """True if ``candidate`` is this session's CSRF token."""
    expected = session.get(SESSION_CSRF)
    return (
        isinstance(expected, str)
        and isinstance(candidate, str)
        and hmac.compare_digest(expected.encode(), candidate.encode())
    )


async def form_csrf_valid() -> bool:
    """Check the token of a submitted form (or the header, for scripts)."""
    form = await request.form
    return csrf_valid(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER))


async def current_user() -> User | None:
    """The signed-in user, or ``None`` (looked up once per request)."""
    if "current_user" in g:
        user: User | None = g.current_user
        return user
    user = None
    user_id = session.get(SESSION_USER)
    if isinstance(user_id, int):
        try:
            user = await web_state().panic.get_user(user_id)
        except NotFound:
            session.clear()
        else:
            if session.get(SESSION_VERSION, 0) != user.session_version:
                user = None  # signed out everywhere, or the password changed, since
                session.clear()
    g.current_user = user
    return user


def start_session(user: User) -> None:
    """A new session for ``user`` (never the old one: no fixation)."""
    session.clear()
    session[SESSION_USER] = user.id
    session[SESSION_VERSION] = user.session_version
    g.current_user = user
    csrf_token()


def may_manage(user: User | None, network: Network) -> bool:
    """Owners and admins may change a network and see its private pages."""
    return user is not None and (user.admin or user.id == network.owner_id)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, read the way a browser reads it.

    Browsers drop tabs and newlines anywhere in a URL and read a backslash
    as ``/``, so ``/<tab>/evil.example`` led off-site (and a newline in a
    ``Location`` header was a 500). Only printable ASCII with
    no backslash passes, however often decoded, and it must stay a path: no scheme,
    no host, not scheme-relative.
    """
    if not target or len(target) > MAX_NEXT_CHARS:
        return None
    form, previous = target, ""
    while form != previous:  # every level of percent-encoding (each one shrinks it)
        if not all("!" <= c <= "~" and c != "\\" for c in form):
            return None
        if not form.startswith("/") or form.startswith("//"):
            return None
        form, previous = unquote(form), form
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _here() -> str:
    query = request.query_string.decode("latin1")
    return request.path + (f"?{query}" if query else "")


def sign_in_redirect() -> ResponseReturnValue:
    """Send the visitor to sign in, remembering where they were going."""
    return redirect(url_for("auth.sign_in") + "?" + urlencode({"next": _here()}))


def login_required(
    view: Callable[P, Awaitable[ResponseReturnValue]],
) -> Callable[P, Awaitable[ResponseReturnValue]]:
    """Views that need a signed-in user; others are sent to sign in first."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        if await current_user() is None:
            return sign_in_redirect()
        return await view(*args, **kwargs)

    return wrapper


async def signed_in_user() -> User:
    """The user of a :func:`login_required` view."""
    user = await current_user()
    assert user is not None, "use @login_required"
    return user


def admin_required(
    view: Callable[P, Awaitable[ResponseReturnValue]],
) -> Callable[P, Awaitable[ResponseReturnValue]]:
    """Views for admins: others are sent to sign in first, or shown the 403 page."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        user = await current_user()
        if user is None:
            return sign_in_redirect()
        if not user.admin:
            return await error_page(403, "Admins only", "This page is for administrators.")
        return await view(*args, **kwargs)

    return wrapper


async def managed_user(user_id: int) -> User | None:
    """User ``user_id`` if the visitor is that user or an admin (else ``None``: a 404).

    The one check of every page that belongs to an account (its dashboard,
    its token sets), so an owner and an admin are told apart in one place.
    """
    viewer = await signed_in_user()
    if viewer.id == user_id:
        return viewer
    if not viewer.admin:
        return None
    try:
        return await web_state().panic.get_user(user_id)
    except NotFound:
        return None


def dashboard_url(user: User) -> str:
    """Where a user lands after signing in."""
    return url_for("dashboard.show", user_id=user.id)


@bp.get("/sign-in")
async def sign_in() -> ResponseReturnValue:
    """The sign-in form (or straight on, if already signed in)."""
    next_page = safe_next(request.args.get("next"))
    user = await current_user()
    if user is not None:
        return redirect(next_page or dashboard_url(user))
    return await render_template("sign_in.html", next_page=next_page or "", email="")


@bp.post("/sign-in")
async def sign_in_submit() -> ResponseReturnValue:
    """Check the password; 303 to the remembered page, or 401 with the form."""
    state = web_state()
    form = await request.form
    email = (form.get("email") or "").strip().lower()
    password = form.get("password") or ""
    next_page = safe_next(form.get("next")) or ""
    keys = (f"ip:{request.remote_addr}", f"email:{email}")
    # Charged before the password is checked, refunded on success: checking
    # first and counting after let 40 concurrent guesses all through.
    with state.login_in_flight.hold(keys) as room:
        wait = state.login_limiter.hit_all(keys) if room else IN_FLIGHT_RETRY_SECONDS
        if wait > 0:
            message = f"Too many sign-in attempts. Try again in {whole_seconds(wait)} seconds."
            page = await render_template(
                "sign_in.html", next_page=next_page, email=email, error=message
            )
            return page, 429, {"Retry-After": str(whole_seconds(wait))}
        user = await state.panic.authenticate(email, password)
    if user is None:
        page = await render_template(
            "sign_in.html",
            next_page=next_page,
            email=email,
            error="Wrong email or password.",
        )
        return page, 401
    for key in keys:  # refunded, not reset: signing in to one's own account
        state.login_limiter.refund(key)  # must not wipe one's guesses at others
    start_session(user)
    return redirect(next_page or dashboard_url(user), 303)


@bp.get("/sign-out")
async def sign_out_page() -> ResponseReturnValue:
    """A button to sign out (signing out on GET would let other sites do it)."""
    if await current_user() is None:
        return redirect("/")
    return await render_template("sign_out.html")


@bp.post("/sign-out")
async def sign_out() -> ResponseReturnValue:
    """Forget this browser's session (others, and copies, end with "sign out everywhere")."""
    session.clear()
    return redirect("/", 303)


@bp.post("/sign-out-everywhere")
@login_required
async def sign_out_everywhere() -> ResponseReturnValue:
    """End every session of the signed-in user, this one and any copied cookie included."""
    user = await signed_in_user()
    await web_state().panic.end_sessions(user.id)
    session.clear()
    return redirect("/", 303)
