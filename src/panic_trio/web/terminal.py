"""The terminal: one input for prompts, for the owner or a QR-code holder.

The page works over the live WebSocket (the input is enabled only once it is
open, so no prompt is typed into nothing); a plain form POST is the fallback
and gives the same answers. Anyone without the right — no token, an expired
one, one for another network — lands on the "QR Code Expired" page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.domain import Network
from panic_trio.errors import PanicError
from panic_trio.models import find_model
from panic_trio.web.auth import current_user, may_manage
from panic_trio.web.networks import page_data, public
from panic_trio.web.pages import not_found
from panic_trio.web.prompters import prompter
from panic_trio.web.prompts import start_from_prompt
from panic_trio.web.refusals import Refusal, refusal
from panic_trio.web.state import web_state

bp = Blueprint("terminal", __name__)


async def _allowed(network: Network, token: str | None) -> bool:
    if may_manage(await current_user(), network):
        return True
    return web_state().tokens.check(token, network) == "ok"


def _expired(network_id: int) -> ResponseReturnValue:
    return redirect(url_for("terminal.expired", network_id=network_id))


def _self_url(network_id: int, token: str | None) -> str:
    url = url_for("terminal.show", network_id=network_id)
    return url + ("?" + urlencode({"token": token}) if token else "")


@bp.get("/networks/<id:network_id>/terminal/")
@bp.get("/networks/<id:network_id>/terminal")
async def show(network_id: int) -> ResponseReturnValue:
    """The prompt page (display layout, large type)."""
    network = await public(network_id)
    if network is None:
        return await not_found()
    token = request.args.get("token")
    if not await _allowed(network, token):
        return _expired(network_id)
    missing = [m for m in network.models if find_model(m) is None]
    problem = (
        f"This network contains models that no longer exist: {', '.join(missing)}. "
        "Please fix the network configuration."
        if missing
        else None
    )
    data: dict[str, Any] = await page_data(
        network, keep=1, token=token, lockout_seconds=network.lockout_seconds
    )
    return await render_template(
        "terminal.html",
        network=network,
        data=data,
        problem=problem,
        token=token,
        status=web_state().panic.status(network_id),
        action=_self_url(network_id, token),
    )


@bp.post("/networks/<id:network_id>/terminal/")
@bp.post("/networks/<id:network_id>/terminal")
async def submit(network_id: int) -> ResponseReturnValue:
    """The no-JavaScript way to prompt; every outcome is shown on the page."""
    state = web_state()
    network = await public(network_id)
    if network is None:
        return await not_found()
    token = request.args.get("token")
    if not await _allowed(network, token):
        return _expired(network_id)
    who = prompter(
        network,
        user=await current_user(),
        token=token,
        address=request.remote_addr,
        tokens=state.tokens,
    )
    prompt = (await request.form).get("prompt", "")
    try:
        genesis = await start_from_prompt(network_id, prompt, who=who)
    except PanicError as exc:
        await flash(_words(refusal(exc, state.panic.now())), "error")
    else:
        await flash(f"Started: {genesis.input}", "info")
    return redirect(_self_url(network_id, token), 303)


def _words(refused: Refusal) -> str:
    """The refusal for the visitor at the terminal, as a sentence."""
    if refused.error == "shutting_down":
        return "The installation is restarting: try again in a moment"
    return refused.message


@bp.get("/networks/<id:network_id>/terminal/expired")
async def expired(network_id: int) -> ResponseReturnValue:
    """Why the QR code stopped working, and how to get a fresh one."""
    network = await public(network_id)
    if network is None:
        return await not_found()
    return await render_template(
        "terminal_expired.html",
        network=network,
        sign=request.args.get("sign") == "1",
        can_manage=may_manage(await current_user(), network),
    )
