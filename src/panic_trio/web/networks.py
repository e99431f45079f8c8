"""Network pages: control panel (owner), edit, stop, delete, info (public), QR."""

from __future__ import annotations

from typing import Any, Final

from quart import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.domain import Invocation, Network, RunnerStatus, utc_now
from panic_trio.errors import InvalidInput, NotFound, OwnerUnreachable
from panic_trio.models import find_model
from panic_trio.web.auth import current_user, login_required, may_manage, safe_next
from panic_trio.web.encoding import public_invocation, public_status
from panic_trio.web.pages import not_found
from panic_trio.web.render import catalog_json, model_json
from panic_trio.web.ring import ring_view
from panic_trio.web.signs import qr_data_uri, scan_url
from panic_trio.web.state import web_state

GRID_SLOTS: Final = 6  # the control panel's live grid is 2 x 3

bp = Blueprint("networks", __name__)


async def managed(network_id: int) -> Network | None:
    """The network if the signed-in user may manage it (else ``None``: a 404)."""
    try:
        network = await web_state().panic.get_network(network_id)
    except NotFound:
        return None
    return network if may_manage(await current_user(), network) else None


async def public(network_id: int) -> Network | None:
    """The network for public pages, or ``None``."""
    try:
        return await web_state().panic.get_network(network_id)
    except NotFound:
        return None


async def current_run(status: RunnerStatus, network_id: int, keep: int) -> list[Invocation]:
    """The tail of the running run (at most ``keep`` invocations), for first paint."""
    if status.genesis is None:
        return []
    return await web_state().panic.run_tail(network_id, status.genesis.run_number, keep)


def model_rows(network: Network) -> list[dict[str, Any]]:
    """The network's models for display; unknown ids are kept and flagged."""
    rows = []
    for model_id in network.models:
        model = find_model(model_id)
        rows.append(
            model_json(model)
            if model
            else {"id": model_id, "name": model_id, "input": "?", "output": "?", "url": ""}
        )
    return rows


async def page_data(
    network: Network, *, keep: int, public: bool = True, **extra: Any
) -> dict[str, Any]:
    """What the page's scripts start from (rendered as JSON, never executed).

    ``public`` pages (everything but the control panel) are not told why a
    run failed or was stopped: that may name a provider or a missing token.
    """
    status = web_state().panic.status(network.id)
    concealed = web_state().panic.moderation.concealed
    invocations = [concealed(i) for i in await current_run(status, network.id, keep)]
    return {
        "network_id": network.id,
        "models": list(network.models),
        "catalog": catalog_json(network.models),
        "status": public_status(status) if public else status.to_json(),
        "invocations": [public_invocation(i) if public else i.to_json() for i in invocations],
        "base_url": web_state().settings.base_url,
        "server_time": utc_now().isoformat(),
        **extra,
    }


async def _render_panel(
    network: Network, *, status_code: int = 200, **form: Any
) -> tuple[str, int]:
    data = await page_data(
        network, keep=GRID_SLOTS, public=False, lockout_seconds=network.lockout_seconds
    )
    status = web_state().panic.status(network.id)
    installations = await web_state().panic.installations.find(network_id=network.id)
    page = await render_template(
        "network.html",
        installations=installations,
        network=network,
        spend=await web_state().panic.spending.network(network),
        status=status,
        ring_view=ring_view(network.models, status, _invocations(data)),
        model_rows=model_rows(network),
        data=data,
        form=form or {},
    )
    return page, status_code


@bp.get("/networks/<id:network_id>/")
@bp.get("/networks/<id:network_id>")
@login_required
async def show(network_id: int) -> ResponseReturnValue:
    """The control panel: edit, models, terminal, status, Stop, live grid."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    return await _render_panel(network)


@bp.post("/networks/<id:network_id>/edit")
@login_required
async def edit(network_id: int) -> ResponseReturnValue:
    """Save name, description and lockout; bad input changes nothing."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    form = await request.form
    fields: dict[str, Any] = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
    }
    lockout = form.get("lockout_seconds", "").strip()
    caps = {name: form[name].strip() for name in ("daily_cap", "run_cap") if name in form}
    try:
        for name, text in caps.items():
            fields[name] = _amount(text, name)
        if lockout:
            try:
                fields["lockout_seconds"] = int(lockout)
            except ValueError:
                raise InvalidInput(
                    "lockout seconds must be a whole number", field="lockout_seconds"
                ) from None
        await web_state().panic.update_network(network_id, **fields)
    except InvalidInput as exc:
        return await _render_panel(
            network,
            status_code=422,
            error=exc.message,
            values={**fields, "lockout": lockout, **caps},
        )
    await flash("Network updated successfully", "info")
    return redirect(url_for("networks.show", network_id=network_id), 303)


def _amount(text: str, field: str) -> float | None:
    """A cap typed in a form: empty is no cap."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        words = field.replace("_", " ")
        raise InvalidInput(f"{words} must be an amount in USD", field=field) from None


@bp.post("/networks/<id:network_id>/stop")
@login_required
async def stop(network_id: int) -> ResponseReturnValue:
    """Stop the current run (owner or admin), then go back."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    try:
        stopped = await web_state().panic.stop_run(network_id)
    except OwnerUnreachable as exc:
        await flash(f"Not stopped: {exc.message}", "error")
    else:
        await flash("Run stopped" if stopped else "Nothing was running", "info")
    form = await request.form
    back = safe_next(form.get("next")) or url_for("networks.show", network_id=network_id)
    return redirect(back, 303)


@bp.post("/networks/<id:network_id>/revoke-qr")
@login_required
async def revoke_qr(network_id: int) -> ResponseReturnValue:
    """End every terminal token of the network (QR codes printed or shown so far)."""
    if await managed(network_id) is None:
        return await not_found()
    await web_state().panic.revoke_terminal_tokens(network_id)
    await flash("Every QR code and terminal link issued so far is revoked", "info")
    return redirect(url_for("networks.show", network_id=network_id), 303)


@bp.route("/networks/<id:network_id>/delete", methods=["GET", "POST"])
@login_required
async def delete(network_id: int) -> ResponseReturnValue:
    """Ask, then delete the network and its runs."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    form = await request.form
    if request.method == "GET" or form.get("confirm") != "yes":
        return await render_template("confirm_delete.html", network=network)
    await web_state().panic.delete_network(network_id)
    await flash(f"Deleted network {network.name}", "info")
    user = await current_user()
    assert user is not None
    return redirect(url_for("dashboard.show", user_id=user.id), 303)


@bp.get("/networks/<id:network_id>/info/")
@bp.get("/networks/<id:network_id>/info")
async def info(network_id: int) -> ResponseReturnValue:
    """Public: the models, the last prompt and the current output, live."""
    network = await public(network_id)
    if network is None:
        return await not_found()
    return await _render_info(network)


async def _render_info(network: Network) -> str:
    data = await page_data(network, keep=2)
    status = web_state().panic.status(network.id)
    return await render_template(
        "info.html",
        network=network,
        model_rows=model_rows(network),
        data=data,
        ring_view=ring_view(network.models, status, _invocations(data)),
    )


def _invocations(data: dict[str, Any]) -> list[Invocation]:
    """The invocations behind a page's data, for the ring's last output."""
    return [Invocation.from_json(i) for i in data["invocations"]]


@bp.get("/networks/<id:network_id>/info/qr")
@login_required
async def qr(network_id: int) -> ResponseReturnValue:
    """The "scan to prompt" QR as a clean page to print or show (refreshed on screens)."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    url = scan_url(network)
    return await render_template(
        "qr.html",
        network=network,
        qr={"url": url, "image": await qr_data_uri(url, printable=True)},
        data={"network_id": network.id, "qr_mode": network.qr_mode},
    )


@bp.get("/networks/<id:network_id>/info/qr.json")
@login_required
async def qr_json(network_id: int) -> ResponseReturnValue:
    """A fresh QR code for the page's refresh timer."""
    network = await managed(network_id)
    if network is None:
        return jsonify({"error": "not_found"}), 404
    url = scan_url(network)
    printable = request.args.get("print") == "1"
    return jsonify({"url": url, "image": await qr_data_uri(url, printable=printable)})


@bp.post("/networks/<id:network_id>/qr/mode")
@login_required
async def qr_mode(network_id: int) -> ResponseReturnValue:
    """Choose between a code on a screen and a printed sign (leaving printed revokes it)."""
    if await managed(network_id) is None:
        return await not_found()
    mode = (await request.form).get("qr_mode", "")
    try:
        network = await web_state().panic.signs.choose(network_id, mode)
    except InvalidInput as exc:
        await flash(str(exc), "error")
    else:
        words = "a printed sign" if network.qr_mode == "printed" else "a code on a screen"
        await flash(f"Visitors now scan {words}", "info")
    return redirect(url_for("networks.qr", network_id=network_id), 303)


@bp.post("/networks/<id:network_id>/qr/rotate")
@login_required
async def rotate_sign(network_id: int) -> ResponseReturnValue:
    """A new printed sign: the old one stops working at once."""
    if await managed(network_id) is None:
        return await not_found()
    try:
        await web_state().panic.signs.rotate(network_id)
    except InvalidInput as exc:
        await flash(str(exc), "error")
    else:
        await flash("New sign: the old one no longer works. Print this one.", "info")
    return redirect(url_for("networks.qr", network_id=network_id), 303)


@bp.get("/networks/<id:network_id>/info/all")
@login_required
async def qr_index(network_id: int) -> ResponseReturnValue:
    """Links to the QR page of each of your networks."""
    user = await current_user()
    assert user is not None
    networks = await web_state().panic.list_networks(user.id)
    return await render_template("qr_index.html", networks=networks)
