"""Public pages and files: home, about, errors, health, media, static display."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import trio
from quart import Blueprint, current_app, jsonify, redirect, render_template, request, send_file
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.security import safe_join

from panic_trio.errors import NotFound
from panic_trio.web.render import input_type, output_type
from panic_trio.web.state import web_state

ARCHIVE_DIR: Final = "archive"
_REDIRECT: Final = re.compile(r"s(\w+)")

bp = Blueprint("pages", __name__)


async def error_page(
    status: int, title: str, message: str, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    """An HTML error page (JSON under ``/api/``)."""
    if request.path.startswith("/api/"):
        body = jsonify({"error": title.lower().replace(" ", "_"), "message": message})
        return body, status, headers or {}
    page = await render_template("error.html", status=status, title=title, message=message)
    return page, status, headers or {}


async def not_found(_: Exception | None = None) -> ResponseReturnValue:
    """The 404 page."""
    if request.path.startswith("/api/"):
        message = f"no API endpoint {request.method} {request.path}"
        return jsonify({"error": "not_found", "message": message}), 404
    return await render_template("not_found.html"), 404


async def method_not_allowed(exc: HTTPException) -> ResponseReturnValue:
    """405 with the usual page, and the ``Allow`` header RFC 9110 requires."""
    allow = {name: value for name, value in exc.get_headers() if name == "Allow"}
    return await error_page(
        405, "Method not allowed", "That address does not take this request.", allow
    )


@bp.get("/healthz")
async def healthz() -> ResponseReturnValue:
    """Liveness for load balancers and scripts."""
    return jsonify({"status": "ok"})


@bp.get("/")
async def home() -> ResponseReturnValue:
    """The big breathing PANIC! button."""
    return await render_template("home.html")


@bp.get("/about/")
@bp.get("/about")
async def about() -> ResponseReturnValue:
    """What PANIC! is, how to use it, and the research questions."""
    return await render_template("about.html")


@bp.get("/404")
async def explicit_not_found() -> ResponseReturnValue:
    """The 404 page at its own address (the original links to it)."""
    return await not_found()


@bp.get("/favicon.ico")
async def favicon() -> ResponseReturnValue:
    """Browsers ask for this path whatever the page says."""
    static = Path(current_app.static_folder or ".")
    return await send_file(static / "favicon.svg", mimetype="image/svg+xml")


@bp.get("/robots.txt")
async def robots() -> ResponseReturnValue:
    """Terminals and displays are not for search engines."""
    return "User-agent: *\nDisallow: /\n", 200, {"Content-Type": "text/plain"}


async def _send_existing(path: Path | None, *, immutable: bool) -> ResponseReturnValue:
    if path is None or not await trio.Path(path).is_file():
        return await not_found()
    response = await send_file(path, conditional=True)
    if immutable:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@bp.get("/dummy/<name>")
async def dummy_media(name: str) -> ResponseReturnValue:
    """The dummy platform's images and sounds (names are hashes: cache forever)."""
    state = web_state()
    url = f"{state.settings.base_url}/dummy/{name}"
    return await _send_existing(state.panic.media_file(url), immutable=True)


def archive_path(key: str) -> Path | None:
    """The local archive file for ``key``, never outside the archive folder."""
    state = web_state()
    found = state.panic.media_file(f"{state.settings.base_url}/archive/{key}")
    if found is not None:
        return found
    # Files archived locally before a switch to S3 are still served.
    if key.startswith(".") or "/." in key or "\\" in key:
        return None
    joined = safe_join(str(state.settings.data_dir / ARCHIVE_DIR), key)
    return None if joined is None else Path(joined)


@bp.get("/archive/<path:key>")
async def archived_file(key: str) -> ResponseReturnValue:
    """Outputs archived to the local folder (keys are unique per invocation)."""
    return await _send_existing(archive_path(key), immutable=True)


@bp.get("/display/static/<id:invocation_id>/")
@bp.get("/display/static/<id:invocation_id>")
async def static_display(invocation_id: int) -> ResponseReturnValue:
    """One invocation, full screen, not live."""
    try:
        panic = web_state().panic
        invocation = panic.moderation.concealed(await panic.get_invocation(invocation_id))
    except NotFound:
        return await not_found()
    return await render_template(
        "static_display.html",
        invocation=invocation,
        kind=output_type(invocation),
        input_kind=input_type(invocation),
    )


@bp.get("/r/<code>")
async def remote_shortcut(code: str) -> ResponseReturnValue:
    """TV-remote shortcuts: ``/r/s<ID>`` opens that invocation's static display."""
    match = _REDIRECT.fullmatch(code)
    if match and match.group(1).isascii() and match.group(1).isdigit():
        return redirect(f"/display/static/{match.group(1)}")
    return redirect("/")
