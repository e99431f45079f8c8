"""The user dashboard: networks, platform tokens (masked), personal API keys, password."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.domain import User
from panic_trio.errors import InvalidInput, PlatformError
from panic_trio.models.platform_records import checkable_tokens, token_labels
from panic_trio.web.auth import (
    current_user,
    login_required,
    managed_user,
    signed_in_user,
    start_session,
)
from panic_trio.web.pages import not_found
from panic_trio.web.ratelimit import whole_seconds
from panic_trio.web.render import catalog_json
from panic_trio.web.state import web_state

DEFAULT_MODELS = "dummy-t2t"

bp = Blueprint("dashboard", __name__)


def _editor_data(models: str) -> dict[str, Any]:
    """What the new network's cycle editor starts from (the models typed last, if any)."""
    ids = [m.strip() for m in models.split(",") if m.strip()]
    return {"models": ids, "catalog": catalog_json(ids)}


async def _render(user: User, *, status_code: int = 200, **extra: Any) -> tuple[str, int]:
    panic = web_state().panic
    page = await render_template(
        "dashboard.html",
        user=user,
        networks=await panic.list_networks(user.id),
        tokens=await panic.masked_tokens(user.id),
        token_labels=token_labels(),
        testable=checkable_tokens(),
        api_keys=await panic.list_api_keys(user.id),
        default_models=DEFAULT_MODELS,
        editor_data=_editor_data(extra.get("form", {}).get("models") or DEFAULT_MODELS),
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status_code


@bp.get("/dashboard")
@login_required
async def mine() -> ResponseReturnValue:
    """Your own dashboard."""
    user = await signed_in_user()
    return redirect(url_for("dashboard.show", user_id=user.id))


@bp.get("/users/<id:user_id>/")
@bp.get("/users/<id:user_id>")
@login_required
async def show(user_id: int) -> ResponseReturnValue:
    """Networks, tokens and API keys of one user (yourself, or anyone for admins)."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    return await _render(user)


@bp.post("/users/<id:user_id>/networks")
@login_required
async def create_network(user_id: int) -> ResponseReturnValue:
    """Create a network; its cycle is then built in the control panel's editor."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    form = await request.form
    values = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "models": form.get("models", DEFAULT_MODELS),
        "lockout": form.get("lockout_seconds", "30"),
    }
    try:
        try:
            lockout = int(values["lockout"])
        except ValueError:
            raise InvalidInput(
                "lockout seconds must be a whole number", field="lockout_seconds"
            ) from None
        models = [m.strip() for m in values["models"].split(",") if m.strip()]
        network = await web_state().panic.create_network(
            user.id,
            values["name"],
            models=models,
            description=values["description"],
            lockout_seconds=lockout,
        )
    except InvalidInput as exc:
        return await _render(user, status_code=422, network_error=exc.message, form=values)
    await flash(f"Created network {network.name}", "info")
    return redirect(url_for("networks.show", network_id=network.id), 303)


@bp.post("/users/<id:user_id>/tokens")
@login_required
async def set_tokens(user_id: int) -> ResponseReturnValue:
    """Set (or clear) platform tokens; blank fields leave a token as it is."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    form = await request.form
    changed = []
    for name in token_labels():
        value = (form.get(name) or "").strip()
        if form.get(f"clear_{name}") == "on":
            await web_state().panic.set_platform_token(user.id, name, None)
            changed.append(name)
        elif value:
            await web_state().panic.set_platform_token(user.id, name, value)
            changed.append(name)
    await flash(f"Updated tokens: {', '.join(changed)}" if changed else "No tokens changed", "info")
    return redirect(url_for("dashboard.show", user_id=user.id), 303)


@bp.post("/users/<id:user_id>/tokens/<name>/test")
@login_required
async def test_token(user_id: int, name: str) -> ResponseReturnValue:
    """Ask the provider whether the stored token works (one free authenticated call)."""
    user = await managed_user(user_id)
    if user is None or name not in checkable_tokens():
        return await not_found()
    label = token_labels()[name]
    try:
        await web_state().panic.check_platform_token(user.id, name)
    except PlatformError as exc:
        await flash(f"{label}: does not work: {exc.message}", "error")
    else:
        await flash(f"{label}: works (the provider accepted it)", "info")
    return redirect(url_for("dashboard.show", user_id=user.id), 303)


@bp.post("/users/<id:user_id>/api-keys")
@login_required
async def create_api_key(user_id: int) -> ResponseReturnValue:
    """Create a personal API key and show it this once (only its hash is kept)."""
    user = await managed_user(user_id)
    viewer = await current_user()
    if user is None or viewer is None or viewer.id != user.id:
        return await not_found()
    name = ((await request.form).get("name") or "").strip() or "API key"
    key = await web_state().panic.create_api_key(user.id, name)
    page, _ = await _render(user, new_key=key, new_key_name=name)
    return page, 201, {"Cache-Control": "no-store"}


@bp.post("/users/<id:user_id>/password")
@login_required
async def change_password(user_id: int) -> ResponseReturnValue:
    """Change your own password: every other session ends, this one goes on."""
    state = web_state()
    user = await signed_in_user()
    if user.id != user_id:
        return await not_found()
    form = await request.form
    keys = (f"ip:{request.remote_addr}", f"email:{user.email}")
    wait = state.login_limiter.hit_all(keys)  # the current password is a guess like any other
    if wait > 0:
        message = f"Too many attempts. Try again in {whole_seconds(wait)} seconds."
        page, _ = await _render(user, password_error=message)
        return page, 429, {"Retry-After": str(whole_seconds(wait))}
    try:
        changed = await state.panic.change_password(
            user.id, form.get("current_password") or "", form.get("new_password") or ""
        )
    except InvalidInput as exc:
        return await _render(user, status_code=422, password_error=exc.message)
    for key in keys:
        state.login_limiter.refund(key)
    start_session(changed)
    await flash("Password changed; every other session is signed out", "info")
    return redirect(url_for("dashboard.show", user_id=user.id), 303)


@bp.post("/users/<id:user_id>/api-keys/<id:key_id>/revoke")
@login_required
async def revoke_api_key(user_id: int, key_id: int) -> ResponseReturnValue:
    """Revoke one of your API keys."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    revoked = await web_state().panic.revoke_api_key(user.id, key_id)
    await flash("API key revoked" if revoked else "No such API key", "info")
    return redirect(url_for("dashboard.show", user_id=user.id), 303)
