"""A fake model provider that logs every call as ``(row, node, start, end)``.

Several ``serve`` processes call it (``tests/nodes/node.py``); it logs on its
side, as a provider would see the calls: a call is in flight from the
request's arrival until the answer is sent, whatever happens to the caller
(a caller killed or stopped mid-call does not end the call early).
"""

from __future__ import annotations

from dataclasses import dataclass

import trio
from quart import Response, request

from tests.fakes.server import FakeService, json_response


@dataclass
class LoggedCall:
    """One call as the provider saw it (Trio time of the test process)."""

    row: int
    node: str
    start: float
    end: float | None = None


class CallLog(FakeService):
    """``POST /invoke {"row", "node"}``: takes ``duration`` seconds, answers an output."""

    def __init__(self, duration: float) -> None:
        super().__init__("calls")
        self.duration = duration
        self.calls: list[LoggedCall] = []
        self.app.add_url_rule("/invoke", view_func=self._invoke, methods=["POST"])

    async def _invoke(self) -> Response:
        body = await request.get_json()
        call = LoggedCall(int(body["row"]), str(body["node"]), trio.current_time())
        self.calls.append(call)
        with trio.CancelScope(shield=True):  # the provider finishes whatever the caller does
            await trio.sleep(self.duration)
        call.end = trio.current_time()
        return json_response({"output": f"row {call.row} by {call.node}"})

    def overlaps(self, network_of: dict[int, int]) -> list[tuple[LoggedCall, LoggedCall]]:
        """Pairs of calls of one network in flight at once (``network_of``: row → network)."""
        found = []
        by_network: dict[int, list[LoggedCall]] = {}
        for call in self.calls:
            by_network.setdefault(network_of[call.row], []).append(call)
        for calls in by_network.values():
            calls.sort(key=lambda c: c.start)
            latest: LoggedCall | None = None  # the call in flight the longest so far
            for call in calls:
                assert call.end is not None, "a call is still in flight"
                if latest is not None and latest.end is not None and call.start < latest.end:
                    found.append((latest, call))
                if latest is None or (latest.end or 0) < call.end:
                    latest = call
        return found
