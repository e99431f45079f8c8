"""A fake Replicate API: models, predictions with a real lifecycle, cancel."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import trio
from quart import Response, request

from tests.fakes.server import FakeService, Recorded, json_response

TOKEN = "r8_fake_token"


def version_for(path: str) -> str:
    """The fake's 64-hex version id for a model path."""
    return hashlib.sha256(path.encode()).hexdigest()


@dataclass
class Script:
    """How predictions of one model path behave.

    ``polls`` is the number of GETs before the prediction settles (0: it is
    created settled; ``None``: it never settles). It settles as ``status``
    with ``output`` or ``error``; a settled prediction reports ``metrics`` as
    Replicate does (``predict_time`` in seconds; official models add
    ``image_count`` or token counts). The first ``failures`` predictions
    settle ``failed`` with ``failure_error`` (a cold start gone wrong).
    """

    output: Any = "fake output"
    status: str = "succeeded"
    error: Any = None
    polls: int | None = 2
    metrics: dict[str, Any] = field(default_factory=lambda: {"predict_time": 2.5})
    failures: int = 0  # the first predictions that end failed anyway
    failure_error: str = "CUDA error: device-side assert triggered"


@dataclass
class FakePrediction:
    id: str
    path: str
    version: str | None
    input: dict[str, Any]
    script: Script
    polls: int = 0
    status: str = "starting"
    poll_times: list[float] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        done = self.status not in ("starting", "processing")
        return {
            "id": self.id,
            "model": self.path,
            "version": self.version,
            "input": self.input,
            "status": self.status,
            "output": self.script.output if self.status == "succeeded" else None,
            "error": self.script.error if self.status == "failed" else None,
            "logs": "",
            "urls": {
                "get": f"/v1/predictions/{self.id}",
                "cancel": f"/v1/predictions/{self.id}/cancel",
            },
            "completed_at": "2026-11-28T00:00:00Z" if done else None,
            "metrics": dict(self.script.metrics) if done else {},
        }


class FakeReplicate(FakeService):
    """Speaks enough of api.replicate.com/v1 for the Replicate platform.

    ``official`` paths have no public version (run via the models endpoint);
    ``missing`` paths answer 404. ``scripts[path]`` scripts predictions.
    """

    def __init__(self) -> None:
        super().__init__("fake-replicate")
        self.token = TOKEN
        self.scripts: dict[str, Script] = {}
        self.by_prompt: dict[str, Script] = {}  # wins over scripts when input.prompt matches
        self.default = Script()
        self.official: set[str] = set()
        self.missing: set[str] = set()
        self.predictions: dict[str, FakePrediction] = {}
        self.prediction_created = trio.Event()
        self._ids = itertools.count(1)
        app = self.app
        app.add_url_rule("/models/<owner>/<name>", view_func=self._get_model, methods=["GET"])
        app.add_url_rule(
            "/models/<owner>/<name>/predictions", view_func=self._create_official, methods=["POST"]
        )
        app.add_url_rule("/predictions", view_func=self._create, methods=["POST"])
        app.add_url_rule("/predictions/<pid>", view_func=self._get_prediction, methods=["GET"])
        app.add_url_rule("/predictions/<pid>/cancel", view_func=self._cancel, methods=["POST"])
        app.add_url_rule("/account", view_func=self._account, methods=["GET"])

    def script(self, path: str, **fields: Any) -> Script:
        script = Script(**fields)
        self.scripts[path] = script
        return script

    def check_auth(self, recorded: Recorded) -> Response | None:
        if recorded.headers.get("authorization") != f"Bearer {self.token}":
            return json_response(
                {
                    "title": "Unauthenticated",
                    "detail": "You did not pass a valid authentication token",
                    "status": 401,
                },
                401,
            )
        return None

    def cancelled_ids(self) -> list[str]:
        return [r.path.split("/")[2] for r in self.received("POST", "/predictions/*/cancel")]

    async def _account(self) -> Response:
        """The token's account: what a token test asks for (free, needs the token)."""
        return json_response({"type": "user", "username": "panic", "name": "PANIC!"})

    async def _get_model(self, owner: str, name: str) -> Response:
        path = f"{owner}/{name}"
        if path in self.missing:
            return json_response({"detail": "Not found.", "status": 404}, 404)
        latest = None if path in self.official else {"id": version_for(path)}
        return json_response(
            {
                "url": f"https://replicate.com/{path}",
                "owner": owner,
                "name": name,
                "latest_version": latest,
            }
        )

    async def _create_official(self, owner: str, name: str) -> Response:
        path = f"{owner}/{name}"
        if path in self.missing:
            return json_response({"detail": "Not found.", "status": 404}, 404)
        return self._start(path, None, await request.get_json(force=True, silent=True))

    async def _create(self) -> Response:
        body = await request.get_json(force=True, silent=True)
        version = body.get("version") if isinstance(body, dict) else None
        paths = [p for p in self._known_paths() if version_for(p) == version]
        if not paths:
            return json_response({"detail": "Invalid version or not permitted", "status": 422}, 422)
        return self._start(paths[0], version, body)

    def _known_paths(self) -> set[str]:
        seen = {r.path.removeprefix("/models/") for r in self.received("GET", "/models/*/*")}
        return seen | set(self.scripts)

    def _start(self, path: str, version: str | None, body: Any) -> Response:
        data = body.get("input") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return json_response(
                {"detail": "- input: Invalid type. Expected: object", "status": 422}, 422
            )
        script = self.by_prompt.get(str(data.get("prompt")))
        script = script or self.scripts.get(path, self.default)
        pid = f"pred{next(self._ids):04d}"
        if script.failures > 0:
            script.failures -= 1
            script = replace(script, status="failed", error=script.failure_error, failures=0)
        prediction = FakePrediction(pid, path, version, data, script)
        if script.polls == 0:
            prediction.status = script.status
        self.predictions[pid] = prediction
        self.prediction_created.set()
        return json_response(prediction.view(), 201)

    async def _get_prediction(self, pid: str) -> Response:
        prediction = self.predictions.get(pid)
        if prediction is None:
            return json_response({"detail": "Not found.", "status": 404}, 404)
        prediction.poll_times.append(trio.current_time())
        if prediction.status in ("starting", "processing"):
            prediction.polls += 1
            polls = prediction.script.polls
            if polls is not None and prediction.polls >= polls:
                prediction.status = prediction.script.status
            else:
                prediction.status = "processing"
        return json_response(prediction.view())

    async def _cancel(self, pid: str) -> Response:
        prediction = self.predictions.get(pid)
        if prediction is None:
            return json_response({"detail": "Not found.", "status": 404}, 404)
        if prediction.status in ("starting", "processing"):
            prediction.status = "canceled"
        return json_response(prediction.view())
