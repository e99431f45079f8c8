"""Named token sets: ``/users/<id>/token-sets`` (the original's ``/api_tokens``).

A user (or an admin acting for them) makes several named sets, fills each
with platform tokens (stored encrypted, shown masked), shares a set with
other accounts by email, and chooses which set each of their networks' runs
use. Only a set's owner changes it; a member may use it and leave it. Good
forms end in a 303 back to the page with a flash; a bad one shows the page
again with the reason and a 422, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.domain import User
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.models.platform_records import token_labels
from panic_trio.web.auth import login_required, managed_user
from panic_trio.web.networks import managed
from panic_trio.web.pages import not_found
from panic_trio.web.state import web_state

bp = Blueprint("token_sets", __name__)


async def _render(user: User, *, status_code: int = 200, **extra: Any) -> tuple[str, int]:
    panic = web_state().panic
    sets = await panic.token_sets.list(user.id)
    page = await render_template(
        "token_sets.html",
        user=user,
        sets=sets,
        default=next((s for s in sets if s.mine), None),
        networks=await panic.list_networks(user.id),
        chosen=await panic.token_sets.chosen(user.id),
        token_labels=token_labels(),
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status_code


def _back(user: User) -> ResponseReturnValue:
    return redirect(url_for("token_sets.index", user_id=user.id), 303)


def _set_id(raw: str | None) -> int | None:
    """A set id from a form (``""``: none), or ``InvalidInput``."""
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) < 2**31:
        raise InvalidInput("choose one of the token sets", field="token_set_id")
    return int(raw)


@bp.get("/users/<id:user_id>/token-sets")
@login_required
async def index(user_id: int) -> ResponseReturnValue:
    """The user's sets and those shared with them, and each network's choice."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    return await _render(user)


@bp.post("/users/<id:user_id>/token-sets")
@login_required
async def create(user_id: int) -> ResponseReturnValue:
    """A new, empty set."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    name = (await request.form).get("name", "")
    try:
        await web_state().panic.token_sets.create(user.id, name)
    except InvalidInput as exc:
        return await _render(user, status_code=422, create_error=exc.message, form={"name": name})
    await flash(f"Created token set “{' '.join(name.split())}”", "info")
    return _back(user)


@bp.post("/users/<id:user_id>/token-sets/<id:set_id>/tokens")
@login_required
async def set_tokens(user_id: int, set_id: int) -> ResponseReturnValue:
    """Set or clear the set's tokens; blank fields leave a token as it is."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    form = await request.form
    sets = web_state().panic.token_sets
    changed = []
    try:
        for name in token_labels():
            value = (form.get(name) or "").strip()
            if form.get(f"clear_{name}") == "on":
                await sets.set_token(user.id, set_id, name, None)
                changed.append(name)
            elif value:
                await sets.set_token(user.id, set_id, name, value)
                changed.append(name)
    except NotFound:
        return await not_found()
    await flash(f"Updated tokens: {', '.join(changed)}" if changed else "No tokens changed", "info")
    return _back(user)


@bp.post("/users/<id:user_id>/token-sets/<id:set_id>/rename")
@login_required
async def rename(user_id: int, set_id: int) -> ResponseReturnValue:
    """Rename one of the user's sets."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    try:
        await web_state().panic.token_sets.rename(
            user.id, set_id, (await request.form).get("name", "")
        )
    except NotFound:
        return await not_found()
    except InvalidInput as exc:
        return await _render(user, status_code=422, set_error=(set_id, exc.message))
    await flash("Renamed the token set", "info")
    return _back(user)


@bp.post("/users/<id:user_id>/token-sets/<id:set_id>/share")
@login_required
async def share(user_id: int, set_id: int) -> ResponseReturnValue:
    """Share one of the user's sets with another account, by its email."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    email = (await request.form).get("email", "")
    try:
        member = await web_state().panic.token_sets.share(user.id, set_id, email)
    except NotFound:
        return await not_found()
    except InvalidInput as exc:
        return await _render(user, status_code=422, set_error=(set_id, exc.message))
    await flash(f"Shared with {member}: their networks may now use it", "info")
    return _back(user)


@bp.post("/users/<id:user_id>/token-sets/<id:set_id>/members/<id:member_id>/remove")
@login_required
async def unshare(user_id: int, set_id: int, member_id: int) -> ResponseReturnValue:
    """End a share: the owner removes a member, or a member leaves."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    try:
        moved = await web_state().panic.token_sets.unshare(user.id, set_id, member_id)
    except NotFound:
        return await not_found()
    note = f"; {moved} network(s) went back to their own tokens" if moved else ""
    await flash(f"The set is no longer shared{note}", "info")
    return _back(user)


@bp.post("/users/<id:user_id>/token-sets/<id:set_id>/delete")
@login_required
async def delete(user_id: int, set_id: int) -> ResponseReturnValue:
    """Delete one of the user's sets (``confirm=yes``); networks using it go back to defaults."""
    user = await managed_user(user_id)
    if user is None:
        return await not_found()
    if (await request.form).get("confirm") != "yes":
        return await _render(user, status_code=422, set_error=(set_id, "tick the box to confirm"))
    try:
        moved = await web_state().panic.token_sets.delete(user.id, set_id)
    except NotFound:
        return await not_found()
    note = f"; {moved} network(s) went back to their owner's own sets" if moved else ""
    await flash(f"Deleted the token set{note}", "info")
    return _back(user)


@bp.post("/networks/<id:network_id>/token-set")
@login_required
async def choose(network_id: int) -> ResponseReturnValue:
    """Choose the set this network's runs use (blank: its owner's own sets, first first)."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    owner = await web_state().panic.get_user(network.owner_id)
    try:
        set_id = _set_id((await request.form).get("token_set_id"))
        await web_state().panic.token_sets.choose(network_id, set_id)
    except InvalidInput as exc:
        return await _render(owner, status_code=422, choose_error=(network_id, exc.message))
    sets = {s.id: s.name for s in await web_state().panic.token_sets.list(owner.id)}
    uses = f"the token set “{sets[set_id]}”" if set_id else "its owner's own token sets"
    await flash(f"{network.name} now uses {uses}", "info")
    return redirect(url_for("token_sets.index", user_id=owner.id), 303)
