"""The admin page: live feed of every network, runner statuses, stop, backup."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import trio
from quart import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    websocket,
)
from quart.typing import ResponseReturnValue

from panic_trio.models import all_models
from panic_trio.web.auth import admin_required, current_user
from panic_trio.web.encoding import dumps
from panic_trio.web.live import same_origin
from panic_trio.web.sockets import Session, open_socket
from panic_trio.web.state import web_state

FEED_LENGTH: Final = 100
OUTPUT_KINDS: Final = {m.id: m.output_type for m in all_models()}  # thumbnails in the feed

bp = Blueprint("admin", __name__)


def _stopped_message(count: int) -> str:
    if count == 0:
        return "No running jobs found to stop"
    return f"Stopped {count} running job" + ("" if count == 1 else "s")


@bp.get("/admin/")
@bp.get("/admin")
@admin_required
async def show() -> ResponseReturnValue:
    """Everything that runs, for admins."""
    panic = web_state().panic
    networks = await panic.list_networks(None)
    return await render_template(
        "admin.html",
        invocations=[
            panic.moderation.concealed(i) for i in await panic.recent_invocations(FEED_LENGTH)
        ],
        networks=networks,
        owners={u.id: u.email for u in await panic.list_users()},
        statuses={n.id: panic.status(n.id) for n in networks},
        spend=await panic.spending.overview(networks),
        kinds=OUTPUT_KINDS,
        data={"kinds": OUTPUT_KINDS, "base_url": web_state().settings.base_url},
    )


@bp.post("/admin/stop-all")
@admin_required
async def stop_all() -> ResponseReturnValue:
    """Stop every run on every network."""
    if (await request.form).get("confirm") != "yes":  # the page asks "Are you sure?" first
        await flash("Nothing was stopped: confirm that you mean every run", "error")
        return redirect("/admin", 303)
    await flash(_stopped_message(await web_state().panic.stop_all()), "info")
    return redirect("/admin", 303)


@bp.get("/admin/backup")
async def backup() -> ResponseReturnValue:
    """A consistent copy of the database, as a download (admins only)."""
    user = await current_user()
    if user is None or not user.admin:
        return jsonify({"error": "Forbidden"}), 403
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="panic-backup-") as folder:
        path = Path(folder) / "backup.db"
        await web_state().panic.backup(path)  # a failure is answered as every refusal
        data = await trio.Path(path).read_bytes()
    return Response(
        data,
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="panic_backup_{stamp}.db"',
            "Cache-Control": "no-store",
        },
    )


async def snapshot(since: int | None) -> str:
    """The feed's first frame: the newest rows, and whether rows after ``since`` are missing.

    A page that reconnects (after a restart, say) sends the newest id it has;
    the snapshot fills what it missed, or, when more than ``FEED_LENGTH`` rows
    came meanwhile, says there is a gap so the page can mark it.
    """
    panic = web_state().panic
    rows = [panic.moderation.concealed(i) for i in await panic.recent_invocations(FEED_LENGTH + 1)]
    gap = since is not None and len(rows) > FEED_LENGTH and rows[FEED_LENGTH].id > since
    return dumps(
        {
            "type": "snapshot",
            "invocations": [r.to_json() for r in rows[:FEED_LENGTH]],
            "gap": gap,
        }
    )


async def _feed(
    session: Session, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    state = web_state()
    encode = state.feed_encoder
    since = websocket.args.get("since", type=int)
    with state.panic.watch_all() as events:  # first: nothing falls between
        await session.send(await snapshot(since))
        task_status.started()
        async for event in events:
            if event.kind != "status":
                await session.send(encode(event))


@bp.websocket("/ws/admin")
async def feed() -> Response | None:
    """Every network's invocations as they happen (admins only)."""
    user = await current_user() if same_origin() else None
    if user is None or not user.admin:
        return Response("admins only", 403)
    await open_socket(_feed)
    return None
