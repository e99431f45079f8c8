"""WebSocket frames a hostile client might send: binary, huge, not JSON, wrong types.

Every frame that is not a well-formed ``start_run`` with a valid prompt gets
an ``error`` reply, changes nothing, and leaves the socket up: the next frame
is answered too. On the real server (Hypercorn), a frame over the 64 KB
limit closes that one connection (1009) and the server keeps serving.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, WebSocketConnection

from panic_trio import app
from panic_trio.inputs import check_prompt
from panic_trio.panic import open_panic
from tests.e2e.conftest import PASSWORD, live_settings, open_ws
from tests.inputs.conftest import FUZZ, Portal, snapshot
from tests.web.conftest import World

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["start_run", "stop_run", "START_RUN", "", "ping"]) | JSON,
        "prompt": JSON | st.text(max_size=50),
    },
)
FRAMES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200),
    JSON.map(json.dumps),
    MESSAGES.map(json.dumps),
    st.just("x" * 60_000),
    st.just(json.dumps({"type": "start_run", "prompt": "y" * 9000})),
    st.just('{"type": "start_run", "prompt": "\\ud800"}'),
)


def is_valid_start(frame: str | bytes) -> bool:
    if not isinstance(frame, str) or len(frame) > 8192:  # live.MAX_FRAME_CHARS
        return False
    try:
        message = json.loads(frame)
        if not isinstance(message, dict) or message.get("type") != "start_run":
            return False
        check_prompt(message.get("prompt"))
    except Exception:
        return False
    return True


async def receive_reply(ws: WebSocketConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await ws.get_message())
        if message["type"] in ("run_started", "locked_out", "error"):
            return message


async def send_frame(world: World, url: str, frame: str | bytes) -> None:
    token = world.tokens.issue(world.network)
    before = await snapshot(world)
    ws_url = url.replace("http", "ws") + f"/ws/networks/{world.network.id}?token={token}"
    async with open_ws(ws_url) as ws:
        assert json.loads(await ws.get_message())["type"] == "status"
        await ws.send_message(frame)
        reply = await receive_reply(ws)
        if is_valid_start(frame):
            assert reply["type"] == "run_started", reply
            assert await world.panic.stop_run(world.network.id)
        else:
            assert reply["type"] == "error", reply
            assert isinstance(reply["message"], str)
            assert 0 < len(reply["message"]) < 300
            assert await snapshot(world) == before
        await ws.send_message("[]")  # the socket is still up and answering
        assert (await receive_reply(ws))["type"] == "error"


@FUZZ
@given(frame=FRAMES)
def test_every_frame_gets_an_answer_and_bad_ones_change_nothing(
    portal: Portal, frame: str | bytes
) -> None:
    portal.run(send_frame, portal.world, portal.url, frame)


@pytest.mark.parametrize("size", [65 * 1024, 1024 * 1024])
async def test_a_frame_over_the_servers_limit_closes_only_that_socket(
    tmp_path: Path, size: int
) -> None:
    settings = live_settings(tmp_path)
    async with open_panic(settings) as panic:
        owner = await panic.create_user("o@example.org", PASSWORD)
        net = await panic.create_network(owner.id, "n", models=["dummy-t2t"])
    with trio.fail_after(20):
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(app.serve, settings, shutdown_trigger=stop.wait))
            ws_url = urls[0].replace("http", "ws") + f"/ws/networks/{net.id}"
            async with open_ws(ws_url) as bystander, open_ws(ws_url) as hostile:
                assert json.loads(await bystander.get_message())["type"] == "status"
                assert json.loads(await hostile.get_message())["type"] == "status"
                await hostile.send_message("x" * size)
                with pytest.raises(ConnectionClosed) as closed:
                    await hostile.get_message()
                assert closed.value.reason is not None
                assert closed.value.reason.code == 1009  # message too big
                await bystander.send_message("[]")
                assert json.loads(await bystander.get_message())["type"] == "error"
            async with httpx.AsyncClient(base_url=urls[0]) as http:
                assert (await http.get("/healthz")).status_code == 200
            stop.set()
