"""User management for admins: list accounts, create one, reset a password, grant admin.

Every view is for admins only (403 otherwise, as the admin page). A good form
ends in a 303 back to the list with a flash (reloading never resubmits); a bad
one shows the list again with the reason and a 422, and nothing changes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.errors import InvalidInput, NotFound
from panic_trio.web.auth import admin_required, signed_in_user
from panic_trio.web.pages import not_found
from panic_trio.web.state import web_state

bp = Blueprint("users", __name__)


async def _render(*, status_code: int = 200, **extra: Any) -> tuple[str, int]:
    panic = web_state().panic
    networks = Counter(n.owner_id for n in await panic.list_networks(None))
    page = await render_template(
        "users.html",
        users=await panic.list_users(),
        networks=networks,
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status_code


@bp.get("/admin/users")
@admin_required
async def index() -> ResponseReturnValue:
    """Every account: email, admin or not, how many networks."""
    return await _render()


@bp.post("/admin/users")
@admin_required
async def create() -> ResponseReturnValue:
    """Create an account (the admin hands the password over themselves)."""
    form = await request.form
    email = (form.get("email") or "").strip()
    admin = form.get("admin") == "on"
    try:
        user = await web_state().panic.create_user(email, form.get("password") or "", admin=admin)
    except InvalidInput as exc:
        values = {"email": email, "admin": admin}
        return await _render(status_code=422, create_error=exc.message, form=values)
    await flash(f"Created {'admin ' if user.admin else 'user '}{user.email}", "info")
    return redirect(url_for("users.index"), 303)


@bp.post("/admin/users/<id:user_id>/password")
@admin_required
async def reset_password(user_id: int) -> ResponseReturnValue:
    """Set someone else's password; every session of theirs ends."""
    if user_id == (await signed_in_user()).id:
        message = "Change your own password on your dashboard (it asks for the current one)."
        return await _render(status_code=422, row_error=(user_id, message))
    password = (await request.form).get("password") or ""
    try:
        user = await web_state().panic.reset_password(user_id, password)
    except NotFound:
        return await not_found()
    except InvalidInput as exc:
        return await _render(status_code=422, row_error=(user_id, exc.message))
    await flash(f"New password set for {user.email}; their sessions are signed out", "info")
    return redirect(url_for("users.index"), 303)


@bp.post("/admin/users/<id:user_id>/admin")
@admin_required
async def set_admin(user_id: int) -> ResponseReturnValue:
    """Grant (``admin=yes``) or revoke (``admin=no``) admin rights; the last admin keeps theirs."""
    wanted = (await request.form).get("admin")
    if wanted not in ("yes", "no"):
        return await _render(status_code=422, row_error=(user_id, "admin must be yes or no"))
    try:
        user = await web_state().panic.set_admin(user_id, wanted == "yes")
    except NotFound:
        return await not_found()
    except InvalidInput as exc:
        return await _render(status_code=422, row_error=(user_id, exc.message))
    verb = "is now an admin" if user.admin else "is no longer an admin"
    await flash(f"{user.email} {verb}", "info")
    if user.id == (await signed_in_user()).id and not user.admin:  # the list is closed to you now
        return redirect(url_for("dashboard.show", user_id=user.id), 303)
    return redirect(url_for("users.index"), 303)
