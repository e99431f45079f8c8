"""Installation pages: list, create, edit, delete, and the watchers of each.

Only the owner of an installation's network may see or change it; anyone
else gets the 404 page, as for networks. Bad input re-renders the form with
the original's field-level messages and changes nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from quart import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.errors import InvalidInput, InvalidWatcher, NotFound
from panic_trio.installations import Installation
from panic_trio.installations.part import IDENTIFY_SECONDS
from panic_trio.installations.watchers import (
    BOARDS,
    MAX_DIMENSION,
    WATCHER_TYPES,
    watcher_errors,
)
from panic_trio.models.platform_records import board_label
from panic_trio.web.auth import login_required, safe_next, signed_in_user
from panic_trio.web.displays import owned, viewers
from panic_trio.web.pages import not_found
from panic_trio.web.state import web_state

WATCHER_FIELDS: Final = (
    "type", "name", "rows", "columns", "stride", "offset",
    "show_invoking", "vestaboard_name", "initial_prompt",
)  # fmt: skip
SCREEN_WORDS: Final = {
    "identify": f"show its name for {IDENTIFY_SECONDS:g} s",
    "reload": "reload",
    "sound": "try its sound again",
}
TYPE_LABELS: Final = {
    "grid": "Grid - Display invocations in a grid layout",
    "single": "Single - Show one invocation at a time",
    "vestaboard": "Vestaboard - Display for Vestaboard device",
}

bp = Blueprint("installations", __name__)


def _show(installation_id: int) -> ResponseReturnValue:
    return redirect(url_for("installations.show", installation_id=installation_id), 303)


async def _installation_form(
    installation: Installation | None, *, status: int = 200, **form: Any
) -> tuple[str, int]:
    user = await signed_in_user()
    networks = await web_state().panic.list_networks(user.id)
    page = await render_template(
        "installation_form.html", installation=installation, networks=networks, form=form
    )
    return page, status


@bp.get("/installations")
@bp.get("/installations/")
@login_required
async def index() -> ResponseReturnValue:
    """Your installations: name, network, number of watchers (``?network_id=`` one network's)."""
    user = await signed_in_user()
    panic = web_state().panic
    networks = {n.id: n for n in await panic.list_networks(user.id)}
    only = request.args.get("network_id", type=int)
    shown = networks.get(only) if only is not None else None
    installations = await panic.installations.find(
        owner_id=user.id, network_id=shown.id if shown else None
    )
    return await render_template(
        "installations.html", installations=installations, networks=networks, only=shown
    )


@bp.route("/installations/new", methods=["GET", "POST"])
@login_required
async def create() -> ResponseReturnValue:
    """Ask for a name and one of your networks, then create the installation."""
    if request.method == "GET":  # the control panel's link names its network
        return await _installation_form(
            None, values={"network_id": request.args.get("network_id", "")}
        )
    user = await signed_in_user()
    form = await request.form
    values = {"name": form.get("name", ""), "network_id": form.get("network_id", "")}
    try:
        network = await _own_network(user.id, values["network_id"])
        made = await web_state().panic.installations.create(network, values["name"])
    except InvalidInput as exc:
        return await _installation_form(None, status=422, error=exc.message, values=values)
    await flash("Installation created successfully", "info")
    return _show(made.id)


async def _own_network(user_id: int, raw: str) -> int:
    mine = {n.id for n in await web_state().panic.list_networks(user_id)}
    try:
        network_id = int(raw)
    except ValueError:
        raise InvalidInput("choose a network", field="network_id") from None
    if network_id not in mine:
        raise InvalidInput("choose one of your networks", field="network_id")
    return network_id


@bp.get("/installations/<id:installation_id>")
@login_required
async def show(installation_id: int) -> ResponseReturnValue:
    """The watchers, each with its summary, viewer count and display link."""
    installation = await owned(installation_id)
    if installation is None:
        return await not_found()
    network = await web_state().panic.get_network(installation.network_id)
    return await render_template(
        "installation.html",
        installation=installation,
        network=network,
        viewers=viewers().counts(installation),
        data={"installation_id": installation.id},
    )


@bp.route("/installations/<id:installation_id>/edit", methods=["GET", "POST"])
@login_required
async def edit(installation_id: int) -> ResponseReturnValue:
    """Rename the installation or move it to another of your networks."""
    installation = await owned(installation_id)
    if installation is None:
        return await not_found()
    if request.method == "GET":
        return await _installation_form(installation)
    user = await signed_in_user()
    form = await request.form
    values = {"name": form.get("name", ""), "network_id": form.get("network_id", "")}
    try:
        network = await _own_network(user.id, values["network_id"])
        await web_state().panic.installations.update(
            installation_id, name=values["name"], network_id=network
        )
    except InvalidInput as exc:
        return await _installation_form(installation, status=422, error=exc.message, values=values)
    await flash("Installation updated successfully", "info")
    return _show(installation_id)


@bp.post("/installations/<id:installation_id>/identify")
@login_required
async def identify(installation_id: int) -> ResponseReturnValue:
    """Open screens show their own names for a while (``watcher=`` only that one)."""
    if await owned(installation_id) is None:
        return await not_found()
    watcher = (await request.form).get("watcher") or None
    try:
        await web_state().panic.installations.identify(installation_id, watcher)
    except (InvalidWatcher, NotFound) as exc:
        await flash(str(exc), "error")
    else:
        which = f"Screen {watcher} shows its name" if watcher else "Open screens show their names"
        await flash(f"{which} for {IDENTIFY_SECONDS:g} s", "info")
    return _show(installation_id)


@bp.post("/installations/<id:installation_id>/screens")
@login_required
async def ask_screens(installation_id: int) -> ResponseReturnValue:
    """Ask open screens to ``identify``, ``reload`` or try their ``sound`` (the phone remote).

    ``watcher=`` names one screen (else every one); ``next=`` a local page
    to go back to.
    """
    if await owned(installation_id) is None:
        return await not_found()
    form = await request.form
    asked, watcher = form.get("request", ""), form.get("watcher") or None
    scripted = request.accept_mimetypes.best == "application/json"  # the remote's fetch
    try:
        await web_state().panic.installations.ask_screens(installation_id, asked, watcher)
    except (InvalidInput, InvalidWatcher, NotFound) as exc:
        if scripted:
            return jsonify({"error": "invalid", "message": str(exc)}), 422
        await flash(str(exc), "error")
    else:
        which = f"Screen {watcher}" if watcher else "Every open screen"
        if scripted:
            return jsonify({"asked": asked, "watcher": watcher, "message": SCREEN_WORDS[asked]})
        await flash(f"{which}: asked to {SCREEN_WORDS[asked]}", "info")
    back = safe_next(form.get("next")) or url_for(
        "installations.show", installation_id=installation_id
    )
    return redirect(back, 303)


@bp.route("/installations/<id:installation_id>/delete", methods=["GET", "POST"])
@login_required
async def delete(installation_id: int) -> ResponseReturnValue:
    """Ask ("Are you sure?"), then delete the installation."""
    installation = await owned(installation_id)
    if installation is None:
        return await not_found()
    form = await request.form
    if request.method == "GET" or form.get("confirm") != "yes":
        return await render_template(
            "confirm_installation.html",
            title=f"Delete “{installation.name}”?",
            message="Are you sure?",
            action=url_for("installations.delete", installation_id=installation_id),
            button="Delete installation",
            back=url_for("installations.index"),
        )
    with contextlib.suppress(NotFound):  # already gone
        await web_state().panic.installations.delete(installation_id)
    await flash(f"Deleted installation {installation.name}", "info")
    return redirect(url_for("installations.index"), 303)


async def _watcher_form(
    installation: Installation, name: str | None, values: dict[str, Any], status: int = 200
) -> tuple[str, int]:
    page = await render_template(
        "watcher_form.html",
        installation=installation,
        editing=name,
        values=values,
        errors=values.pop("_errors", {}),
        types=[(t, TYPE_LABELS[t]) for t in WATCHER_TYPES],
        max_dimension=MAX_DIMENSION,
        boards={board: board_label(board) for board in BOARDS},
    )
    return page, status


async def _save_watcher(installation: Installation, name: str | None) -> ResponseReturnValue:
    form = await request.form
    values: dict[str, Any] = {k: form.get(k, "") for k in WATCHER_FIELDS}
    kind = values["type"]
    # The form shows only the fields of the chosen type; hidden ones do not count.
    if kind == "grid":
        values.update(stride="", offset="", vestaboard_name="", show_invoking="", initial_prompt="")
    else:
        values.update(rows="", columns="")
        if kind != "vestaboard":
            values.update(vestaboard_name="", initial_prompt="")
    errors = watcher_errors(values)
    panic = web_state().panic
    try:
        if errors:
            raise InvalidWatcher(next(iter(errors.values())))
        if name is None:
            await panic.installations.add_watcher(installation.id, values)
        else:
            await panic.installations.update_watcher(installation.id, name, values)
    except InvalidWatcher as exc:
        if not errors:
            errors = {exc.field or "name": exc.message}
        return await _watcher_form(installation, name, {**values, "_errors": errors}, 422)
    await flash(f"Watcher {'added' if name is None else 'updated'} successfully", "info")
    return _show(installation.id)


@bp.route("/installations/<id:installation_id>/watchers/new", methods=["GET", "POST"])
@login_required
async def add_watcher(installation_id: int) -> ResponseReturnValue:
    """Add a watcher (grid by default)."""
    installation = await owned(installation_id)
    if installation is None:
        return await not_found()
    if request.method == "GET":
        return await _watcher_form(installation, None, {"type": "grid"})
    return await _save_watcher(installation, None)


@bp.route("/installations/<id:installation_id>/watchers/<name>/edit", methods=["GET", "POST"])
@login_required
async def edit_watcher(installation_id: int, name: str) -> ResponseReturnValue:
    """Change a watcher (it may be renamed; its display URL changes with it)."""
    installation = await owned(installation_id)
    watcher = None if installation is None else installation.watcher(name)
    if installation is None or watcher is None:
        return await not_found()
    if request.method == "GET":
        values = {k: ("" if v is None else v) for k, v in watcher.to_json().items()}
        return await _watcher_form(installation, name, values)
    return await _save_watcher(installation, name)


@bp.route("/installations/<id:installation_id>/watchers/<name>/delete", methods=["GET", "POST"])
@login_required
async def delete_watcher(installation_id: int, name: str) -> ResponseReturnValue:
    """Ask, then remove a watcher."""
    installation = await owned(installation_id)
    if installation is None or installation.watcher(name) is None:
        return await not_found()
    form = await request.form
    if request.method == "GET" or form.get("confirm") != "yes":
        return await render_template(
            "confirm_installation.html",
            title=f"Delete watcher “{name}”?",
            message="Are you sure you want to delete this watcher?",
            action=url_for(
                "installations.delete_watcher", installation_id=installation_id, name=name
            ),
            button="Delete watcher",
            back=url_for("installations.show", installation_id=installation_id),
        )
    with contextlib.suppress(InvalidWatcher):  # already gone
        await web_state().panic.installations.remove_watcher(installation_id, name)
    await flash("Watcher removed", "info")
    return _show(installation_id)


@bp.post("/installations/<id:installation_id>/watchers/<name>/move")
@login_required
async def move_watcher(installation_id: int, name: str) -> ResponseReturnValue:
    """Move a watcher one place up or down."""
    installation = await owned(installation_id)
    if installation is None or installation.watcher(name) is None:
        return await not_found()
    names = [w.name for w in installation.watchers]
    index = names.index(name)
    target = index - 1 if (await request.form).get("direction") == "up" else index + 1
    if 0 <= target < len(names):
        names[index], names[target] = names[target], names[index]
        await web_state().panic.installations.reorder_watchers(installation_id, names)
    return _show(installation_id)
