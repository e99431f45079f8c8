"""The one socket shape: greeting before replies, one slow-client rule, ending."""

from __future__ import annotations

import trio
import trio.testing

from panic_trio.web.sockets import SLOW_CLIENT_SECONDS, Session


class Client:
    """Both ends of a socket in memory: what the server sent, what the client sends."""

    def __init__(self, *, stalls: bool = False) -> None:
        self.sent: list[str] = []
        self.stalls = stalls
        self.frames_in, self.frames_out = trio.open_memory_channel[str | bytes](10)

    async def send(self, text: str) -> None:
        self.sent.append(text)
        if self.stalls:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()

    async def receive(self) -> str | bytes:
        return await self.frames_out.receive()


async def test_the_greeting_goes_before_any_reply(autojump_clock: trio.testing.MockClock) -> None:
    client = Client()
    session = Session(client.send, client.receive)
    client.frames_in.send_nowait("hello")  # the client speaks at once

    async def push(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        await trio.sleep(1)  # subscribing and reading the status take a while
        await session.send("greeting")
        task_status.started()
        await trio.sleep(1)
        session.end("done")

    async def answer(frame: str | bytes) -> str:
        await trio.lowlevel.checkpoint()
        return f"reply to {frame!r}"

    with trio.fail_after(60):
        await session.run(push, answer)
    assert client.sent == ["greeting", "reply to 'hello'"]
    assert not session.dropped


async def test_a_client_that_takes_no_frame_is_dropped_after_exactly_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = Client(stalls=True)
    session = Session(client.send, client.receive)
    began = trio.current_time()

    async def push(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(30)  # an idle socket may wait as long as it likes
        await session.send("one")
        await session.send("two")

    with trio.fail_after(60):
        await session.run(push)
    assert trio.current_time() - began == 30 + SLOW_CLIENT_SECONDS
    assert session.dropped
    assert client.sent == ["one"]


async def test_the_reader_and_the_pusher_share_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = Client(stalls=True)
    session = Session(client.send, client.receive)
    client.frames_in.send_nowait("a prompt")

    async def push(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep_forever()

    async def answer(frame: str | bytes) -> str:
        await trio.lowlevel.checkpoint()
        return "a reply the client never takes"

    began = trio.current_time()
    with trio.fail_after(60):
        await session.run(push, answer)
    assert trio.current_time() - began == SLOW_CLIENT_SECONDS
    assert session.dropped


async def test_ending_the_session_ends_both_tasks_and_is_not_a_drop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = Client()
    session = Session(client.send, client.receive)

    async def push(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(3)
        session.end("the network was deleted")
        await trio.sleep_forever()

    with trio.fail_after(60):
        await session.run(push)
    assert trio.current_time() == 3
    assert not session.dropped
