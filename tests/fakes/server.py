"""The shared machinery of the fake services: serving, recording, fault injection."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    """A scripted answer for requests matching ``method`` and the glob ``path``.

    ``status=None`` only delays (by ``delay`` seconds) and then lets the
    request through; ``times`` is how many requests it applies to.
    """

    method: str
    path: str
    status: int | None
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(payload), status=status, headers=headers, content_type="application/json"
    )


class FakeService:
    """Base of the fakes: subclasses add routes and override :meth:`check_auth`."""

    def __init__(self, name: str) -> None:
        self.app = QuartTrio(name)
        self.app.before_request(self._before_request)
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.url = ""
        self._stop = trio.Event()

    async def start(self, nursery: trio.Nursery) -> str:
        """Serve on an ephemeral port inside ``nursery``; return the base URL."""
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.1
        urls: list[str] = await nursery.start(
            partial(serve, self.app, config, shutdown_trigger=self._stop.wait)
        )
        self.url = urls[0]
        return self.url

    def stop(self) -> None:
        self._stop.set()

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int | None,
        json_body: Any = None,
        body: str | bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with this instead."""
        if body is None:
            raw = b"" if json_body is None else json.dumps(json_body).encode()
        else:
            raw = body.encode() if isinstance(body, str) else body
        self.faults.append(
            Fault(method, path, status, raw, content_type, dict(headers or {}), delay, times)
        )

    def received(self, method: str, path: str) -> list[Recorded]:
        """The recorded requests matching ``method`` and the glob ``path``."""
        return [
            r for r in self.requests if r.method == method and fnmatch.fnmatchcase(r.path, path)
        ]

    def check_auth(self, recorded: Recorded) -> Response | None:
        """The error response for bad credentials, or ``None`` to go on."""
        return None

    async def _before_request(self) -> Response | None:
        # Read the body before anything can answer early: Hypercorn closes a
        # keep-alive connection whose request body was left unread.
        body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.args.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        self.requests.append(recorded)
        fault = self._take_fault(recorded)
        if fault is not None:
            if fault.delay:
                await trio.sleep(fault.delay)
            if fault.status is not None:
                return Response(
                    fault.body,
                    status=fault.status,
                    headers=fault.headers,
                    content_type=fault.content_type,
                )
        return self.check_auth(recorded)

    def _take_fault(self, recorded: Recorded) -> Fault | None:
        for fault in self.faults:
            if fault.method == recorded.method and fnmatch.fnmatchcase(recorded.path, fault.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None
