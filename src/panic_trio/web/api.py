"""The JSON API under ``/api/`` (shapes fixed by the contract).

Callers authenticate with a personal API key (``Authorization: Bearer``), the
session cookie (writes need the ``X-CSRF-Token`` header too), or, to start a
run only, a terminal token (``?token=``). Every write is checked: owner or
admin. Someone else's network is a 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any, Final

from quart import Blueprint, Response, jsonify, request

from panic_trio.errors import NotFound
from panic_trio.inputs import NETWORK_FIELDS
from panic_trio.models import all_models, find_model, network_problem
from panic_trio.models.validation import compatible_next
from panic_trio.runs import DEFAULT_PAGE_SIZE, check_page_size
from panic_trio.web.api_requests import (
    ApiError,
    caller,
    fail,
    json_object,
    managed_network,
    prompting_caller,
    replace_flag,
)
from panic_trio.web.auth import current_user, may_manage
from panic_trio.web.openapi import OPENAPI
from panic_trio.web.prompts import start_from_prompt
from panic_trio.web.render import model_json
from panic_trio.web.runs import before_arg, next_before, zip_response
from panic_trio.web.state import web_state

bp = Blueprint("api", __name__, url_prefix="/api")

RUN_FIELDS: Final = ("prompt",)


@bp.errorhandler(ApiError)
async def _api_error(exc: ApiError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(exc.body), exc.status, exc.headers


@bp.post("/networks/<id:network_id>/runs")
async def start_run(network_id: int) -> Any:
    """Start a run: 201 genesis, 429 locked out or rate limited, 422 bad prompt.

    With ``?replace=true`` (the owner or an admin, not a terminal token) an
    active run is stopped and the new one started in one step, lockout or not.
    """
    replace = replace_flag()
    who = await prompting_caller(network_id, replace=replace)
    body = await json_object(RUN_FIELDS)
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        fail(422, "invalid_prompt", 'the body needs a "prompt" string')
    genesis = await start_from_prompt(network_id, prompt, who=who.prompter, replace=replace)
    return jsonify({"genesis": genesis.to_json()}), 201


@bp.get("/networks/<id:network_id>/runs/current")
async def current_run(network_id: int) -> Any:
    """The active run: its genesis, latest invocation and status; 404 if none."""
    user = await caller(write=False)
    await managed_network(network_id, user)
    status = web_state().panic.status(network_id)
    if not status.active or status.genesis is None:
        last = status.genesis.run_number if status.genesis is not None else None
        fail(404, "not_found", f"no run is going on network {network_id}", last_run_number=last)
    return jsonify(
        {
            "run_number": status.genesis.run_number,
            "genesis": status.genesis.to_json(),
            "current": status.current.to_json() if status.current else None,
            "status": status.to_json(),
        }
    )


@bp.delete("/networks/<id:network_id>/runs/current")
async def stop_run(network_id: int) -> Any:
    """Stop the current run (owner or admin)."""
    user = await caller(write=True)
    await managed_network(network_id, user)
    return jsonify({"stopped": await web_state().panic.stop_run(network_id)})


@bp.get("/networks")
async def list_networks() -> Any:
    """The caller's networks (every network for an admin)."""
    user = await caller(write=False)
    networks = await web_state().panic.list_networks(None if user.admin else user.id)
    return jsonify({"networks": [n.to_json() for n in networks]})


@bp.post("/networks")
async def create_network() -> Any:
    """Create a network owned by the caller."""
    user = await caller(write=True)
    body = await json_object(NETWORK_FIELDS)
    network = await web_state().panic.create_network(
        user.id,
        body.get("name", ""),
        models=body.get("models", []),
        description=body.get("description", ""),
        lockout_seconds=body.get("lockout_seconds", 30),
        daily_cap=body.get("daily_cap"),
        run_cap=body.get("run_cap"),
    )
    return jsonify({"network": network.to_json()}), 201


@bp.get("/networks/<id:network_id>")
async def get_network(network_id: int) -> Any:
    """The network and its runner status."""
    user = await caller(write=False)
    network = await managed_network(network_id, user)
    status = web_state().panic.status(network_id)
    return jsonify({"network": network.to_json(), "status": status.to_json()})


@bp.patch("/networks/<id:network_id>")
async def update_network(network_id: int) -> Any:
    """Change name, description, models, lockout or caps; all or nothing."""
    user = await caller(write=True)
    await managed_network(network_id, user)
    body = await json_object(NETWORK_FIELDS)
    network = await web_state().panic.update_network(network_id, **body)
    return jsonify({"network": network.to_json()})


@bp.get("/networks/<id:network_id>/runs/<id:run_number>")
async def get_run(network_id: int, run_number: int) -> Any:
    """Every invocation of one run, by sequence number, and the run's summary."""
    user = await caller(write=False)
    await managed_network(network_id, user)
    panic = web_state().panic
    invocations = await panic.list_run(network_id, run_number)
    if not invocations:
        fail(404, "not_found", f"no run {run_number} on network {network_id}")
    summary = await panic.run_summary(network_id, run_number)
    return jsonify({"invocations": [i.to_json() for i in invocations], "run": summary.to_json()})


@bp.get("/networks/<id:network_id>/runs")
async def run_history(network_id: int) -> Any:
    """A page of the network's runs, newest first (keyset: ``?before=<run_number>``)."""
    user = await caller(write=False)
    await managed_network(network_id, user)
    before = before_arg(request.args.get("before"))
    limit = check_page_size(request.args.get("limit", DEFAULT_PAGE_SIZE))
    page = await web_state().panic.run_history(network_id, before=before, limit=limit)
    return jsonify({"runs": [r.to_json() for r in page], "next_before": next_before(page, limit)})


@bp.get("/networks/<id:network_id>/runs/<id:run_number>/export")
async def export_run(network_id: int, run_number: int) -> Any:
    """The run as one streamed ``.zip``: index.html, run.json and the media."""
    user = await caller(write=False)
    await managed_network(network_id, user)
    return zip_response(await web_state().panic.run_exporter(network_id, run_number))


@bp.get("/networks/<id:network_id>/spend")
async def network_spend(network_id: int) -> Any:
    """The network's burn rate: this run, last hour, today, last 7 days; caps."""
    user = await caller(write=False)
    network = await managed_network(network_id, user)
    return jsonify(await web_state().panic.spending.network(network))


@bp.get("/spend")
async def spend() -> Any:
    """Every network's burn rate and the total (admins only)."""
    user = await caller(write=False)
    if not user.admin:
        fail(403, "forbidden", "admins only")
    panic = web_state().panic
    return jsonify(await panic.spending.overview(await panic.list_networks(None)))


@bp.post("/admin/stop-all")
async def stop_all() -> Any:
    """Stop every run (admins only)."""
    user = await caller(write=True)
    if not user.admin:
        fail(403, "forbidden", "admins only")
    return jsonify({"stopped": await web_state().panic.stop_all()})


@bp.get("/models")
async def models() -> Any:
    """The model catalog (deprecated models hidden)."""
    return jsonify({"models": [model_json(m) for m in all_models(include_deprecated=False)]})


@bp.get("/models/check")
async def check_models() -> Any:
    """Validate a draft cycle for the editor: its problem, what may come next, and,
    for a signed-in caller, the tokens its owner lacks (``?network=<id>``: that
    network's owner, if the caller may manage it; else the caller)."""
    ids = [m for m in request.args.get("models", "").split(",") if m]
    known = [m for m in ids if find_model(m) is not None]
    return jsonify(
        {
            "valid": bool(ids) and network_problem(ids) is None,
            "problem": network_problem(ids) if ids else None,
            "compatible": [model_json(m) for m in compatible_next(known)],
            "warnings": await _token_warnings(known),
        }
    )


async def _token_warnings(model_ids: list[str]) -> list[str]:
    user = await current_user()
    if user is None or not model_ids:
        return []
    owner_id = user.id
    network_id = request.args.get("network", type=int)
    network = None
    if network_id is not None:
        try:
            network = await web_state().panic.get_network(network_id)
        except NotFound:
            network = None
        if network is not None and may_manage(user, network):
            owner_id = network.owner_id
        else:
            network = None
    return await web_state().panic.token_warnings(owner_id, model_ids, network=network)


@bp.get("/openapi.json")
async def openapi() -> Any:
    """The OpenAPI description of this API."""
    return jsonify(OPENAPI)
