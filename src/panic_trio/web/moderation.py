"""A network's moderation page: blocked words, hiding outputs, the prompt log.

For the network's owner and admins (anyone else: 404, as every private
network page). Good forms end in a 303 back to the page with a flash, so a
reload never resubmits; a bad one shows the page again with the reason and a
422, and nothing changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.domain import Network
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.web.auth import login_required
from panic_trio.web.networks import managed
from panic_trio.web.pages import error_page, not_found
from panic_trio.web.render import output_type
from panic_trio.web.runs import before_arg
from panic_trio.web.state import web_state

RECENT_OUTPUTS: Final = 12
LOG_PAGE: Final = 50

bp = Blueprint("moderation", __name__)


def issued(token_id: str | None) -> str:
    """When a terminal token (by its id, ``<issued_ms>.<nonce>``) was handed out, in UTC."""
    if not token_id:
        return ""
    issued_ms, _, _nonce = token_id.partition(".")
    if not issued_ms.isdigit():
        return ""
    return datetime.fromtimestamp(int(issued_ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def _render(network: Network, *, status_code: int = 200, **extra: Any) -> tuple[str, int]:
    moderation = web_state().panic.moderation
    try:
        before = before_arg(request.args.get("before"))
    except InvalidInput:
        before = None
    log = await moderation.prompts(network.id, before=before, limit=LOG_PAGE)
    recent = await moderation.recent(network.id, RECENT_OUTPUTS)
    page = await render_template(
        "moderation.html",
        network=network,
        patterns=await moderation.patterns(network.id),
        recent=[(i, output_type(i)) for i in recent],
        hidden=[(i, output_type(i)) for i in await moderation.hidden(network.id)],
        log=log,
        older=log[-1]["id"] if len(log) == LOG_PAGE else None,
        issued=issued,
        form=extra.pop("form", {}),
        **extra,
    )
    return page, status_code


def _back(network_id: int) -> ResponseReturnValue:
    return redirect(url_for("moderation.show", network_id=network_id), 303)


@bp.get("/networks/<id:network_id>/moderation")
@login_required
async def show(network_id: int) -> ResponseReturnValue:
    """The blocklist, recent and hidden outputs, and the prompt log (``?before=`` pages it)."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    if request.args.get("before") is not None:
        try:
            before_arg(request.args.get("before"))
        except InvalidInput as exc:
            return await error_page(422, "Bad request", exc.message)
    return await _render(network)


@bp.post("/networks/<id:network_id>/moderation/blocklist")
@login_required
async def block(network_id: int) -> ResponseReturnValue:
    """Block a word or pattern for the network's prompts (from the next prompt on)."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    text = (await request.form).get("pattern", "")
    try:
        pattern = await web_state().panic.moderation.block(network_id, text)
    except InvalidInput as exc:
        return await _render(
            network, status_code=422, block_error=exc.message, form={"pattern": text}
        )
    await flash(f"Blocked “{pattern}”", "info")
    return _back(network_id)


@bp.post("/networks/<id:network_id>/moderation/blocklist/<id:block_id>/remove")
@login_required
async def unblock(network_id: int, block_id: int) -> ResponseReturnValue:
    """Allow a blocked pattern again."""
    if await managed(network_id) is None:
        return await not_found()
    removed = await web_state().panic.moderation.unblock(network_id, block_id)
    await flash("Unblocked" if removed else "That pattern was not blocked", "info")
    return _back(network_id)


@bp.post("/networks/<id:network_id>/moderation/hide")
@login_required
async def hide(network_id: int) -> ResponseReturnValue:
    """Hide one output from every screen at once (``action=show`` shows it again)."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    form = await request.form
    action = form.get("action", "hide")
    raw = form.get("invocation_id", "")
    if action not in ("hide", "show") or not (raw.isascii() and raw.isdigit()):
        return await _render(network, status_code=422, hide_error="choose an output to hide")
    panic = web_state().panic
    try:
        invocation = await panic.get_invocation(int(raw) if int(raw) < 2**31 else 0)
    except NotFound:
        invocation = None
    if invocation is None or invocation.network_id != network_id:
        return await _render(network, status_code=422, hide_error="no such output on this network")
    await panic.moderation.hide(invocation.id, hidden=action == "hide")
    step = f"step {invocation.sequence_number} of run {invocation.run_number}"
    await flash(
        f"Hid {step} from every screen" if action == "hide" else f"Showing {step} again", "info"
    )
    return _back(network_id)
