"""Run pages: a network's run history, a page per run, its public link and its export.

History, export and sharing are the owner's (or an admin's). A run page is
the owner's too, unless the owner made it public: then its signed link
(``?share=``) shows it to anyone, without failure reasons, until revoked.
Someone else's run, like someone else's network, is a 404.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from quart import Blueprint, Response, flash, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.domain import Invocation, Network
from panic_trio.errors import InvalidInput, NotFound
from panic_trio.export import RunExporter, export_filename
from panic_trio.runs import (
    DEFAULT_PAGE_SIZE,
    STEPS_PER_PAGE,
    RunSummary,
    check_page_size,
    run_cycle,
)
from panic_trio.web.auth import current_user, login_required, may_manage
from panic_trio.web.networks import managed
from panic_trio.web.pages import error_page, not_found
from panic_trio.web.render import catalog_json, model_label
from panic_trio.web.state import web_state

EXPORT_TIMEOUT_SECONDS: Final = 3600.0  # Quart's default of 60 s would cut a long run's export

bp = Blueprint("runs", __name__)


def before_arg(value: str | None) -> int | None:
    """The ``before`` keyset cursor of a history page (``None``: the newest runs).

    Raises:
        InvalidInput: not a whole number above 0.
    """
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) < 2**31:
        raise InvalidInput("before must be a run number", field="before")
    return int(value)


def step_cursor(value: str | None) -> int:
    """The ``after`` cursor of a run page: the last step of the page before (-1: the start).

    Raises:
        InvalidInput: not a whole number of 0 or more.
    """
    if value is None or value == "":
        return -1
    if not (value.isascii() and value.isdigit()) or not int(value) < 2**31:
        raise InvalidInput("after must be a step number", field="after")
    return int(value)


def next_before(page: list[RunSummary], limit: int) -> int | None:
    """The cursor of the next (older) page, or ``None`` on the last page."""
    return page[-1].run_number if len(page) == limit else None


@bp.get("/networks/<id:network_id>/runs")
@login_required
async def history(network_id: int) -> ResponseReturnValue:
    """The owner's list of runs, newest first, a page at a time."""
    network = await managed(network_id)
    if network is None:
        return await not_found()
    try:
        before = before_arg(request.args.get("before"))
        limit = check_page_size(request.args.get("limit", DEFAULT_PAGE_SIZE))
    except InvalidInput as exc:
        return await error_page(422, "Bad request", exc.message)
    page = [
        concealed_prompt(run)
        for run in await web_state().panic.run_history(network_id, before=before, limit=limit)
    ]
    return await render_template(
        "runs.html",
        network=network,
        runs=page,
        before=before,
        next_before=next_before(page, limit),
    )


async def _visible_run(network_id: int, run_number: int) -> tuple[Network, RunSummary, bool]:
    """The run, its network and whether the viewer is its owner (or an admin).

    Raises:
        NotFound: no such run, or the viewer may not see it.
    """
    panic = web_state().panic
    network = await panic.get_network(network_id)
    summary = await panic.run_summary(network_id, run_number)
    if may_manage(await current_user(), network):
        return network, summary, True
    carried = web_state().run_links.nonce(request.args.get("share"), network_id, run_number)
    stored = await panic.run_share(network_id, run_number)
    if carried is None or stored is None or carried != stored:
        raise NotFound(f"no run {run_number} on network {network_id}")
    return network, summary, False


def concealed_prompt(run: RunSummary) -> RunSummary:
    """The run without its prompt when an operator hid its first step (the genesis)."""
    if run.run_number not in web_state().panic.moderation.concealed.outputs:
        return run
    return dataclasses.replace(run, prompt="")


def step_view(invocation: Invocation, previous: Invocation | None, owner: bool) -> dict[str, Any]:
    """One step of the chain as the run page shows it."""
    took = invocation.metadata.get("latency_ms")
    gap = None
    if previous is not None:
        gap = (invocation.inserted_at - previous.inserted_at).total_seconds()
    return {
        "invocation": invocation,
        "label": model_label(invocation.model),
        "took": took / 1000 if isinstance(took, int | float) else None,
        "gap": gap,
        "error": invocation.metadata.get("error") if owner else None,
        "stopped": invocation.metadata.get("cancelled") is True,
    }


def stop_words(error: object) -> str:
    """How a stopped step reads: "stopped", or "stopped: replaced by a new run"."""
    why = str(error or "").removeprefix("cancelled: ")
    return "stopped" if why in ("", "stopped") else f"stopped: {why}"


def share_url(network_id: int, run_number: int, nonce: str) -> str:
    """The public link of a shared run (signed; dead once the share is revoked)."""
    token = web_state().run_links.token(network_id, run_number, nonce)
    base = (web_state().settings.public_url or request.host_url).rstrip("/")
    path = url_for("runs.show", network_id=network_id, run_number=run_number)
    return f"{base}{path}?share={token}"


@bp.get("/networks/<id:network_id>/runs/<id:run_number>")
async def show(network_id: int, run_number: int) -> ResponseReturnValue:
    """One run's whole chain, live while it goes on."""
    try:
        network, summary, owner = await _visible_run(network_id, run_number)
    except NotFound:
        return await not_found()
    try:
        after = step_cursor(request.args.get("after"))
    except InvalidInput as exc:
        return await error_page(422, "Bad request", exc.message)
    panic = web_state().panic
    # One row before the page (for the first step's gap) and one past it (is there more?).
    rows = await panic.run_steps(network_id, run_number, after=after - 1, limit=STEPS_PER_PAGE + 2)
    rows = [panic.moderation.concealed(row) for row in rows]
    summary = concealed_prompt(summary)
    previous = rows.pop(0) if after >= 0 and rows and rows[0].sequence_number == after else None
    more = len(rows) > STEPS_PER_PAGE
    invocations = rows[:STEPS_PER_PAGE]
    steps = []
    for invocation in invocations:
        steps.append(step_view(invocation, previous, owner))
        previous = invocation
    genesis = (
        invocations[0] if after < 0 and invocations else await panic.get_invocation(run_number)
    )
    cycle = run_cycle(genesis, network.models)
    share = await panic.run_share(network_id, run_number) if owner else None
    link = None if share is None else share_url(network_id, run_number, share)
    data = {
        "network_id": network_id,
        "run_number": run_number,
        "owner": owner,
        "catalog": catalog_json(cycle),
        "base_url": web_state().settings.base_url,
        "last_sequence_number": summary.last_sequence_number,
        # Completed steps not drawn on this page (none when the page is the whole run).
        "steps_elsewhere": 0
        if after < 0 and not more
        else max(0, summary.steps - sum(i.state == "completed" for i in invocations)),
        "live_tail": not more,
    }
    return await render_template(
        "run.html",
        network=network,
        run=summary,
        steps=steps,
        cycle=cycle,
        owner=owner,
        share_link=link,
        data=data,
        stop_words=stop_words,
        newer=invocations[-1].sequence_number if more else None,
        paged=after >= 0,
        share=request.args.get("share"),
    )


@bp.post("/networks/<id:network_id>/runs/<id:run_number>/share")
@login_required
async def share(network_id: int, run_number: int) -> ResponseReturnValue:
    """Make the run public (a fresh signed link) or private again (``action=revoke``)."""
    if await managed(network_id) is None:
        return await not_found()
    panic = web_state().panic
    form = await request.form
    try:
        if form.get("action") == "revoke":
            await panic.unshare_run(network_id, run_number)
            await flash("The run is private again: its public link no longer works", "info")
        else:
            await panic.share_run(network_id, run_number)
            await flash("The run is public: anyone with the link below can watch it", "info")
    except NotFound:
        return await not_found()
    return redirect(url_for("runs.show", network_id=network_id, run_number=run_number), 303)


def zip_response(exporter: RunExporter) -> Response:
    """A streamed ``.zip`` download of an export."""
    response = Response(exporter.chunks(), mimetype="application/zip")
    filename = export_filename(exporter.summary.run_number)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.timeout = EXPORT_TIMEOUT_SECONDS
    return response


@bp.get("/networks/<id:network_id>/runs/<id:run_number>/export")
@login_required
async def export(network_id: int, run_number: int) -> ResponseReturnValue:
    """Download the run as one self-contained ``.zip`` (owner or admin)."""
    if await managed(network_id) is None:
        return await not_found()
    try:
        exporter = await web_state().panic.run_exporter(network_id, run_number)
    except NotFound:
        return await not_found()
    return zip_response(exporter)
