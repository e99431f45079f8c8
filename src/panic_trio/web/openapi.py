"""A hand-written OpenAPI 3.1 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any, Final


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if properties:
        schema["properties"] = properties
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR: Final = {
    "description": "An error: an ``error`` code and a ``message``",
    "content": {"application/json": {"schema": _ref("Error")}},
}
_AUTH: Final[list[dict[str, list[str]]]] = [{"bearer": []}, {"session": []}]


def _integer(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _query_integer(name: str, minimum: int, maximum: int = 2**31 - 1) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": minimum, "maximum": maximum}
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _operation(
    summary: str, ok: tuple[str, dict[str, Any]], errors: str, *, security: Any = _AUTH
) -> dict[str, Any]:
    responses = {ok[0]: ok[1], **{code: _ERROR for code in errors.split()}}
    return {"summary": summary, "security": security, "responses": responses}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


_NETWORK_FIELDS: Final[dict[str, Any]] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": "string", "maxLength": 10_000},
    "models": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    "lockout_seconds": {"type": "integer", "minimum": 0, "maximum": 86_400},
    "daily_cap": {"type": ["number", "null"], "minimum": 0, "maximum": 1_000_000},
    "run_cap": {"type": ["number", "null"], "minimum": 0, "maximum": 1_000_000},
}
_NULLABLE_INVOCATION: Final = {"oneOf": [_ref("Invocation"), {"type": "null"}]}
_LOCKED_OUT: Final = {
    "description": "``locked_out`` (with ``retry_after`` and ``genesis``), ``rate_limited``, or"
    " ``spending_cap`` (``message`` in plain words, ``scope``, ``limit``, ``resumes_at``);"
    " the Retry-After header is in whole seconds, rounded up",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
}

OPENAPI: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "panic_trio",
        "version": "1",
        "description": "Start and stop runs; read networks, status and runs. Session writes "
        "need the X-CSRF-Token header (the page's <meta name=csrf-token>).",
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "personal API key"},
            "session": {"type": "apiKey", "in": "cookie", "name": "_panic_key"},
            "terminal": {"type": "apiKey", "in": "query", "name": "token"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                "required": ["error"],
            },
            "NetworkCreate": {
                "type": "object",
                "properties": _NETWORK_FIELDS,
                "required": ["name", "models"],
                "additionalProperties": False,
            },
            "NetworkChange": {
                "type": "object",
                "properties": _NETWORK_FIELDS,
                "additionalProperties": False,
            },
            "StartRun": {
                "type": "object",
                "properties": {"prompt": {"type": "string", "minLength": 1, "maxLength": 2000}},
                "required": ["prompt"],
                "additionalProperties": False,
            },
            "Invocation": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "network_id": {"type": "integer"},
                    "run_number": {"type": "integer"},
                    "sequence_number": {"type": "integer"},
                    "model": {"type": "string"},
                    "input": {"type": "string"},
                    "output": {"type": ["string", "null"]},
                    "state": {"enum": ["ready", "invoking", "completed", "failed"]},
                    "metadata": {"type": "object"},
                    "inserted_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                },
            },
            "Run": {
                "type": "object",
                "properties": {
                    "network_id": {"type": "integer"},
                    "run_number": {"type": "integer"},
                    "prompt": {"type": "string"},
                    "started_at": {"type": "string", "format": "date-time"},
                    "ended_at": {"type": ["string", "null"], "format": "date-time"},
                    "steps": {"type": "integer"},
                    "last_sequence_number": {"type": "integer"},
                    "ending": {"enum": ["running", "stopped", "replaced", "failed", "interrupted"]},
                    "reason": {"type": ["string", "null"]},
                    "cost": {
                        "type": "object",
                        "properties": {
                            "amount": {"type": ["number", "null"]},
                            "currency": {"type": "string"},
                        },
                    },
                },
            },
            "Network": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "owner_id": {"type": "integer"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "models": {"type": "array", "items": {"type": "string"}},
                    "lockout_seconds": {"type": "integer"},
                    "daily_cap": {"type": ["number", "null"]},
                    "run_cap": {"type": ["number", "null"]},
                },
            },
            "Status": {
                "type": "object",
                "properties": {
                    "state": {"enum": ["idle", "invoking", "waiting", "failed"]},
                    "genesis": _NULLABLE_INVOCATION,
                    "current": _NULLABLE_INVOCATION,
                    "next_invocation_at": {"type": ["string", "null"], "format": "date-time"},
                    "lockout_until": {"type": ["string", "null"], "format": "date-time"},
                    "error": {"type": ["string", "null"]},
                },
            },
        },
    },
    "paths": {
        "/api/networks": {
            "get": _operation(
                "Your networks (every network for an admin)",
                ("200", _json("{networks: [Network]}")),
                "401",
            ),
            "post": _operation(
                "Create a network: {name, models, description?, lockout_seconds?}",
                ("201", _json("{network: Network}")),
                "400 401 403 422",
            )
            | {"requestBody": _body("NetworkCreate")},
        },
        "/api/networks/{network_id}": {
            "parameters": [_integer("network_id")],
            "get": _operation(
                "A network and its runner status",
                (
                    "200",
                    _json(
                        "network, status", {"network": _ref("Network"), "status": _ref("Status")}
                    ),
                ),
                "401 404",
            ),
            "patch": _operation(
                "Change name, description, models, lockout_seconds, daily_cap or run_cap"
                " (all or nothing)",
                ("200", _json("{network: Network}")),
                "400 401 403 404 422",
            )
            | {"requestBody": _body("NetworkChange")},
        },
        "/api/networks/{network_id}/runs": {
            "parameters": [_integer("network_id")],
            "get": _operation(
                "The network's runs, newest first; the next page is ?before=<next_before>",
                (
                    "200",
                    _json(
                        "a page of runs",
                        {
                            "runs": {"type": "array", "items": _ref("Run")},
                            "next_before": {"type": ["integer", "null"]},
                        },
                    ),
                ),
                "401 404 422",
            )
            | {"parameters": [_query_integer("before", 1), _query_integer("limit", 1, 100)]},
            "post": {
                **_operation(
                    "Start a run with {prompt}",
                    ("201", _json("the run started", {"genesis": _ref("Invocation")})),
                    "400 401 403 404 422 503",
                    security=[*_AUTH, {"terminal": []}],
                ),
                "requestBody": _body("StartRun"),
                "parameters": [
                    {
                        "name": "replace",
                        "in": "query",
                        "required": False,
                        "description": "true: stop the current run and start in one step "
                        "(owner or admin; not with a terminal token)",
                        "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
                    }
                ],
            },
        },
        "/api/networks/{network_id}/runs/current": {
            "parameters": [_integer("network_id")],
            "get": _operation(
                "The active run: run_number, genesis, current invocation and status",
                (
                    "200",
                    _json(
                        "the run",
                        {
                            "run_number": {"type": "integer"},
                            "genesis": _ref("Invocation"),
                            "current": _NULLABLE_INVOCATION,
                            "status": _ref("Status"),
                        },
                    ),
                ),
                "401 404",
            ),
            "delete": _operation(
                "Stop the current run",
                ("200", _json("whether a run was stopped", {"stopped": {"type": "boolean"}})),
                "401 403 404",
            ),
        },
        "/api/networks/{network_id}/runs/{run_number}": {
            "parameters": [_integer("network_id"), _integer("run_number")],
            "get": _operation(
                "A run's invocations by sequence number",
                (
                    "200",
                    _json(
                        "the run",
                        {
                            "invocations": {"type": "array", "items": _ref("Invocation")},
                            "run": _ref("Run"),
                        },
                    ),
                ),
                "401 404",
            ),
        },
        "/api/networks/{network_id}/runs/{run_number}/export": {
            "parameters": [_integer("network_id"), _integer("run_number")],
            "get": _operation(
                "The run as one .zip: index.html (works offline), run.json and the media",
                (
                    "200",
                    {
                        "description": "a streamed zip",
                        "content": {"application/zip": {"schema": {"type": "string"}}},
                    },
                ),
                "401 404",
            ),
        },
        "/api/networks/{network_id}/spend": {
            "parameters": [_integer("network_id")],
            "get": _operation(
                "Burn rate: this run, last hour, today, last 7 days (USD); caps and cap stop",
                ("200", _json("the network's spend")),
                "401 404",
            ),
        },
        "/api/spend": {
            "get": _operation(
                "Every network's burn rate and the total, with the global cap (admins)",
                ("200", _json("the server's spend")),
                "401 403",
            ),
        },
        "/api/admin/stop-all": {
            "post": _operation(
                "Stop every run (admins)", ("200", _json("{stopped: n}")), "401 403"
            ),
        },
        "/api/models": {
            "get": _operation(
                "The model catalog", ("200", _json("{models: [...]}")), "", security=[]
            ),
        },
        "/api/models/check": {
            "get": _operation(
                "Validate a draft cycle (?models=a,b): valid, problem, compatible next models",
                ("200", _json("the check")),
                "",
                security=[],
            ),
        },
    },
}
OPENAPI["paths"]["/api/networks/{network_id}/runs"]["post"]["responses"]["429"] = _LOCKED_OUT
