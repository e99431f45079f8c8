"""The live WebSocket: messages, prompts, permissions, malformed frames, shutdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import trio
import trio.testing
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from quart.typing import TestWebsocketConnectionProtocol as Socket

from panic_trio.domain import Event, RunnerStatus
from panic_trio.events import Broadcast
from panic_trio.panic import open_panic
from panic_trio.web import create_app
from panic_trio.web.encoding import EventEncoder
from panic_trio.web.live import LiveSocket
from panic_trio.web.sockets import SLOW_CLIENT_SECONDS, Session
from tests.web.conftest import SECRET, TIMEOUT, World, client, make_settings, signed_in

Message = dict[str, Any]


async def receive(ws: Socket) -> Message:
    message: Message = json.loads(await ws.receive())
    return message


async def receive_until(ws: Socket, done: Callable[[Message], bool]) -> list[Message]:
    """Every message up to and including the first that satisfies ``done``."""
    seen = []
    while True:
        message = await receive(ws)
        seen.append(message)
        if done(message):
            return seen


def is_reply(message: Message) -> bool:
    return message["type"] in ("run_started", "locked_out", "error")


async def prompt(ws: Socket, text: Any) -> Message:
    await ws.send(json.dumps({"type": "start_run", "prompt": text}))
    return (await receive_until(ws, is_reply))[-1]


async def test_status_on_connect_then_read_only_for_anonymous(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        async with client(world).websocket(f"/ws/networks/{world.network.id}") as ws:
            first = await receive(ws)
            assert first == {"type": "status", "status": RunnerStatus().to_json()}
            reply = await prompt(ws, "let me in")
            assert reply["type"] == "error"
            assert "read-only" in reply["message"]
            assert world.panic.status(world.network.id).state == "idle"


async def test_token_holder_starts_a_run_and_sees_it_live(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        async with client(world).websocket(f"/ws/networks/{world.network.id}?token={token}") as ws:
            await receive(ws)
            # The run's first events may come before or after the reply: keep them all.
            await ws.send(json.dumps({"type": "start_run", "prompt": "a red balloon"}))
            seen: list[Message] = await receive_until(ws, is_reply)
            reply = seen.pop()
            assert reply["type"] == "run_started"
            assert reply["genesis"]["input"] == "a red balloon"
            while not (completed := [m for m in seen if m["type"] == "invocation"
                                     and m["invocation"]["state"] == "completed"]) or not (
                waiting := [m for m in seen if m["type"] == "status"
                            and m["status"]["state"] == "waiting"]
            ):  # fmt: skip
                seen.append(await receive(ws))
            states = [m["invocation"]["state"] for m in seen if m["type"] == "invocation"]
            assert states.index("invoking") < states.index("completed")
            assert "invoking" in [m["status"]["state"] for m in seen if m["type"] == "status"]
            done = completed[0]["invocation"]
            assert done["sequence_number"] == 0
            assert done["output"]
            assert waiting[0]["status"]["next_invocation_at"]


async def test_second_prompt_in_lockout_gets_locked_out(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        async with client(world).websocket(f"/ws/networks/{world.network.id}?token={token}") as ws:
            await receive(ws)
            assert (await prompt(ws, "first"))["type"] == "run_started"
            reply = await prompt(ws, "second")
            assert reply["type"] == "locked_out"
            assert isinstance(reply["retry_after"], int)
            assert 1 <= reply["retry_after"] <= 30
            assert reply["genesis"]["input"] == "first"


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (b"\x00\x01", "binary"),
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "dance"}', "unknown message type"),
        ('{"prompt": "no type"}', "unknown message type"),
        ('{"type": "start_run"}', '"prompt" string'),
        ('{"type": "start_run", "prompt": 7}', '"prompt" string'),
        ("x" * 9000, "longer than"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_up(
    world: World, frame: str | bytes, words: str
) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        async with client(world).websocket(f"/ws/networks/{world.network.id}?token={token}") as ws:
            await receive(ws)
            await ws.send(frame)
            reply = (await receive_until(ws, is_reply))[-1]
            assert reply["type"] == "error"
            assert words in reply["message"]
            assert (await prompt(ws, "still here"))["type"] == "run_started"


async def test_invalid_prompts_get_the_engines_message(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        async with client(world).websocket(f"/ws/networks/{world.network.id}?token={token}") as ws:
            await receive(ws)
            assert "empty" in (await prompt(ws, "   "))["message"]
            assert "2,000" in (await prompt(ws, "y" * 2001))["message"]
            assert world.panic.status(world.network.id).state == "idle"


@pytest.mark.parametrize(("who", "allowed"), [("owner", True), ("admin", True), ("other", False)])
async def test_session_prompt_rights(world: World, who: str, allowed: bool) -> None:
    with trio.fail_after(TIMEOUT):
        c = await signed_in(world, getattr(world, who))
        async with c.websocket(f"/ws/networks/{world.network.id}") as ws:
            await receive(ws)
            reply = await prompt(ws, f"from {who}")
            assert (reply["type"] == "run_started") is allowed


async def test_cross_site_handshake_does_not_carry_session_rights(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = await signed_in(world, world.owner)
        async with c.websocket(
            f"/ws/networks/{world.network.id}", headers={"Origin": "http://evil.example"}
        ) as ws:
            await receive(ws)
            assert (await prompt(ws, "csrf via ws"))["type"] == "error"


async def test_token_expiry_is_checked_at_each_prompt(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        async with client(world).websocket(f"/ws/networks/{world.network.id}?token={token}") as ws:
            await receive(ws)
            world.clock.now += 3601
            reply = await prompt(ws, "too late")
            assert reply["type"] == "error"
            assert "expired" in reply["message"]


async def test_unknown_network_is_refused_with_404(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        async with client(world).websocket("/ws/networks/999") as ws:
            with pytest.raises(WebsocketResponseError) as refused:
                await ws.receive()
        assert refused.value.response.status_code == 404


async def test_going_away_closes_sockets_with_1001(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        state = world.app.extensions["panic_web"]
        async with client(world).websocket(f"/ws/networks/{world.network.id}") as ws:
            await receive(ws)
            assert state.sockets.open == 1
            state.going_away.set()
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ws.receive()
            assert closed.value.args[0] == 1001
        with trio.move_on_after(TIMEOUT):
            await state.sockets.wait_idle()
        assert state.sockets.open == 0


async def test_each_event_is_encoded_once_for_many_sockets(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        encoder: EventEncoder = world.app.extensions["panic_web"].network_encoder
        path = f"/ws/networks/{world.network.id}"
        counts: list[int] = []
        async with (
            client(world).websocket(path) as a,
            client(world).websocket(path) as b,
            client(world).websocket(path) as c,
        ):
            for ws in (a, b, c):
                await receive(ws)
            before = encoder.encoded
            await world.panic.start_run(world.network.id, "many viewers")
            for ws in (a, b, c):
                seen = await receive_until(
                    ws, lambda m: m["type"] == "status" and m["status"]["state"] == "waiting"
                )
                counts.append(len(seen))
        assert min(counts) >= 3
        # Encoding per socket would cost sum(counts); once per event costs a third.
        assert encoder.encoded - before < sum(counts) / 2


def test_encoder_reuses_text_for_the_same_event() -> None:
    calls: list[Event] = []

    def encode(event: Event) -> str:
        calls.append(event)
        return f"#{len(calls)}"

    encoder = EventEncoder(encode, size=2)
    one, two = Event("status", None, RunnerStatus()), Event("status", None, RunnerStatus())
    assert [encoder(one), encoder(one), encoder(two), encoder(one)] == ["#1", "#1", "#2", "#1"]
    assert calls == [one, two]


async def test_a_stalled_viewer_never_slows_the_run(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, backoff="inf:0")
    with trio.fail_after(60):
        async with open_panic(settings) as panic:
            owner = await panic.create_user("fast@example.org", "correct horse battery")
            network = await panic.create_network(owner.id, "Fast", models=["dummy-t2t"])
            app = create_app(panic, settings, secret_key=SECRET)
            async with app.test_app():
                path = f"/ws/networks/{network.id}"
                async with app.test_client().websocket(path) as stalled:
                    await receive(stalled)  # and never read again
                    async with panic.watch(network.id) as events:
                        await panic.start_run(network.id, "go")
                        async for event in events:
                            inv = event.invocation
                            if inv is not None and inv.sequence_number >= 150:
                                break
                    assert await panic.stop_run(network.id)


async def test_a_failed_run_is_reported_with_its_reason(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        network = await world.panic.create_network(world.owner.id, "Real", models=["gpt-5-chat"])
        token = world.tokens.issue(network)
        async with client(world).websocket(f"/ws/networks/{network.id}?token={token}") as ws:
            await receive(ws)
            assert (await prompt(ws, "needs a real model"))["type"] == "run_started"
            seen = await receive_until(
                ws, lambda m: m["type"] == "status" and m["status"]["state"] == "failed"
            )
            assert seen[-1]["status"]["error"] is None  # the visitor is not told why
            failed = await receive_until(ws, lambda m: m["type"] == "invocation")
            assert failed[-1]["invocation"]["state"] == "failed"
            assert "error" not in failed[-1]["invocation"]["metadata"]
            assert world.panic.status(network.id).error is not None
            assert "OpenAI" in world.panic.status(network.id).error  # type: ignore[operator]
            owner = await signed_in(world, world.owner)
            async with owner.websocket(f"/ws/networks/{network.id}") as panel:
                assert "OpenAI" in (await receive(panel))["status"]["error"]
            assert (await prompt(ws, "again at once"))["type"] == "run_started"  # no lockout


class StuckSocket(LiveSocket):
    """A socket whose client stopped reading: every send waits forever."""

    def __init__(self) -> None:  # no Quart context: only what push_events uses
        self.state = cast(Any, SimpleNamespace(network_encoder=lambda event: f"frame {event}"))
        self.network = cast(Any, SimpleNamespace(id=1))
        self._encode = self.state.network_encoder
        self.sent: list[str] = []

    async def stuck_send(self, text: str) -> None:
        self.sent.append(text)
        await trio.sleep_forever()


async def test_a_viewer_that_stops_reading_is_dropped_after_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Broadcast[Any]()
    stuck = StuckSocket()
    session = Session(stuck.stuck_send)
    with trio.fail_after(SLOW_CLIENT_SECONDS * 3), hub.subscribe() as events:
        async with trio.open_nursery() as nursery:

            async def push() -> None:
                with session.guard:
                    await stuck.push_events(events, session)

            nursery.start_soon(push)
            await trio.sleep(5)  # an idle socket waits as long as it likes
            hub.publish("one")
            hub.publish("two")
            began = trio.current_time()
        assert trio.current_time() - began == SLOW_CLIENT_SECONDS  # then it is dropped
        assert session.dropped
    assert stuck.sent == ["frame one"]


async def test_the_public_never_hears_why_a_run_stopped_the_owner_does(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        net = world.network.id
        owner = await signed_in(world, world.owner)
        async with (
            client(world).websocket(f"/ws/networks/{net}") as public,
            owner.websocket(f"/ws/networks/{net}") as private,
        ):
            await receive(public)
            await receive(private)
            await world.panic.start_run(net, "stop me")
            await world.panic.stop_run(net)

            def ended(message: Message) -> bool:
                invocation = message.get("invocation") or {}
                return invocation.get("state") == "failed"

            seen_public = await receive_until(public, ended)
            seen_private = await receive_until(private, ended)
        assert seen_private[-1]["invocation"]["metadata"]["error"] == "cancelled: stopped"
        assert seen_private[-1]["invocation"]["metadata"]["cancelled"] is True
        text = json.dumps(seen_public)
        assert "cancel" not in text
        assert '"error": null' in text or '"error"' not in text
        page = await (await client(world).get(f"/networks/{net}/info")).get_data(as_text=True)
        assert "cancelled" not in page
        panel = await (await owner.get(f"/networks/{net}")).get_data(as_text=True)
        assert "cancelled: stopped" in panel


async def test_a_start_run_frame_with_an_unknown_field_is_refused_naming_it(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        token = world.tokens.issue(world.network)
        async with client(world).websocket(f"/ws/networks/{world.network.id}?token={token}") as ws:
            await receive(ws)
            await ws.send(json.dumps({"type": "start_run", "prompt": "hi", "network_id": 9}))
            reply = (await receive_until(ws, is_reply))[-1]
        assert reply["type"] == "error"
        assert "'network_id'" in reply["message"]
        assert world.panic.status(world.network.id).state == "idle"


async def test_protocol_2_sends_one_frame_per_change_with_its_status(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        net = world.network.id
        owner = await signed_in(world, world.owner)
        async with (
            owner.websocket(f"/ws/networks/{net}?v=2") as combined,
            owner.websocket(f"/ws/networks/{net}") as plain,
        ):
            assert (await receive(combined))["type"] == "status"  # on connect, as before
            await receive(plain)
            await combined.send(json.dumps({"type": "start_run", "prompt": "one frame a change"}))

            def settled(m: Message) -> bool:
                return bool(m["type"] == "invocation" and m["invocation"]["state"] == "completed")

            two = await receive_until(combined, settled)
            if not any(is_reply(m) for m in two):
                two += await receive_until(combined, is_reply)
            one = await receive_until(plain, settled)
        assert [m["type"] for m in two if is_reply(m)] == ["run_started"]
        changes = [m for m in two if m["type"] in ("status", "invocation")]
        invocations = [m for m in changes if m["type"] == "invocation"]
        assert all("status" in m for m in invocations)
        expanded: list[Message] = []
        for m in changes:  # what the page's helper makes of them
            if m["type"] == "invocation":
                expanded.append({"type": "status", "status": m["status"]})
                m = {k: v for k, v in m.items() if k != "status"}
            expanded.append(m)
        assert expanded == [m for m in one if m["type"] in ("status", "invocation")]
        assert len(changes) < len(expanded)  # fewer frames, the same story
        assert invocations[-1]["status"] == world.panic.status(net).to_json()
