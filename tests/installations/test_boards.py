"""Vestaboard dispatch from the engine, against a fake board server on loopback.

Exact virtual times (MockClock, inline store): the fake runs in the same Trio
loop, so its answers and the engine's timers share one clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trio.testing
from quart import Response

from panic_trio import Panic, Settings, open_panic
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Network
from panic_trio.installations.boards import BOARD_FLOOR, INITIAL_PROMPT_DELAY
from panic_trio.platforms.dummy import DummyPlatform
from tests.engine.scripted import ScriptedPlatform
from tests.fakes.server import Recorded
from tests.fakes.vestaboard import FakeVestaboard

KEYS = {"panic_1": "key-one", "panic_2": "key-two", "panic_3": "key-three"}
GUARD = 600.0  # virtual seconds (MockClock)


@dataclass(frozen=True)
class Message:
    at: float
    board: str
    text: str


class Boards(FakeVestaboard):
    """A fake with one key per board; ``shown`` records what each board showed, when."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[Message] = []

    def check_auth(self, recorded: Recorded) -> Response | None:
        board = next((b for b, k in KEYS.items() if recorded.headers.get(
            "x-vestaboard-read-write-key") == k), None)  # fmt: skip
        if board is None:
            return super().check_auth(recorded)
        self.shown.append(Message(trio.current_time(), board, recorded.json()["text"]))
        return None

    def texts(self, board: str) -> list[str]:
        return [m.text for m in self.shown if m.board == board]


@pytest.fixture
async def boards(nursery: trio.Nursery) -> AsyncIterator[Boards]:
    fake = Boards()
    await fake.start(nursery)
    yield fake
    fake.stop()


@pytest.fixture
def scripted(tmp_path: Path) -> ScriptedPlatform:
    dummy = DummyPlatform(
        media_dir=tmp_path / "media",
        base_url="http://panic.test",
        seam=ThreadSeam("dummy-media", 1, inline=True),
    )
    return ScriptedPlatform(inner=dummy)


@pytest.fixture
async def clocked(
    autojump_clock: trio.testing.MockClock,
    tmp_path: Path,
    boards: Boards,
    scripted: ScriptedPlatform,
) -> AsyncIterator[Panic]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'boards.db'}",
        data_dir=tmp_path / "data",
        secret_key="test secret key, long enough",
        vestaboard_base_url=boards.url,
    )
    async with open_panic(settings, platforms={"dummy": scripted}, inline=True) as panic:
        yield panic


async def network_with_boards(
    panic: Panic, models: list[str], *watchers: dict[str, object], tokens: bool = True
) -> Network:
    owner = await panic.create_user("boards@example.org", "correct horse battery")
    if tokens:
        for board, key in KEYS.items():
            await panic.set_platform_token(owner.id, f"vestaboard_{board}", key)
    network = await panic.create_network(owner.id, "boards", models=models, lockout_seconds=30)
    grid = {"type": "grid", "name": "wall", "rows": 2, "columns": 2}
    await panic.installations.create(network.id, "first", [grid, *watchers[:1]])
    await panic.installations.create(network.id, "second", list(watchers[1:]))
    return network


def board(name: str, stride: int = 1, offset: int = 0, **extra: object) -> dict[str, object]:
    return {"type": "vestaboard", "name": name.replace("_", "-"), "stride": stride,
            "offset": offset, "vestaboard_name": name, **extra}  # fmt: skip


def invoked_at(scripted: ScriptedPlatform, start: float) -> list[float]:
    return [round(r.started_at - start, 6) for r in scripted.calls]


async def test_every_matching_board_gets_the_text_and_the_prompt_goes_once(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(
            clocked, ["dummy-t2t"], board("panic_1"), board("panic_2", 2, 1)
        )
        genesis = await clocked.start_run(network.id, "a red balloon")
        await trio.sleep(4 * BOARD_FLOOR + 1)
        await clocked.stop_run(network.id)
        run = await clocked.list_run(network.id, genesis.run_number)
    outputs = {r.sequence_number: r.output for r in run}
    assert boards.texts("panic_1") == ["a red balloon", *(outputs[s] for s in range(1, 5))]
    assert boards.texts("panic_2") == [outputs[1], outputs[3]]
    assert boards.texts("panic_1").count("a red balloon") == 1  # the original sent it twice
    assert [r.metadata.get("vestaboard") for r in run[:4]] == [
        {"panic_1": "sent"},
        {"panic_1": "sent", "panic_2": "sent"},
        {"panic_1": "sent"},
        {"panic_1": "sent", "panic_2": "sent"},
    ]


async def test_image_and_audio_urls_are_never_sent(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(
            clocked, ["dummy-t2i", "dummy-i2a", "dummy-a2t"], board("panic_1")
        )
        genesis = await clocked.start_run(network.id, "a red balloon")
        await trio.sleep(6 * BOARD_FLOOR)
        await clocked.stop_run(network.id)
        run = await clocked.list_run(network.id, genesis.run_number)
    texts = {r.sequence_number: r.output for r in run if r.model == "dummy-a2t" and r.output}
    assert len(texts) >= 2
    assert boards.texts("panic_1") == ["a red balloon", *texts.values()]
    assert not any("://" in t for t in boards.texts("panic_1"))


async def test_the_floor_after_a_push_and_the_initial_prompt_delay_are_exact(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(
            clocked, ["dummy-t2t"], board("panic_1", 2, 1, initial_prompt=True)
        )
        start = trio.current_time()
        await clocked.start_run(network.id, "hold it")
        await trio.sleep(5)
        holding = clocked.status(network.id)
        assert holding.state == "waiting"
        assert holding.next_invocation_at is not None
        await trio.sleep(35)
        await clocked.stop_run(network.id)
    # Genesis after 10 s; pushes at seq 0 (prompt), 1, 3 → 8 s floors; otherwise 1 s.
    assert INITIAL_PROMPT_DELAY == 10.0
    assert invoked_at(scripted, start) == [10.0, 18.0, 26.0, 27.0, 35.0, 36.0]
    assert [round(m.at - start, 6) for m in boards.shown][:3] == [0.0, 18.0, 27.0]


async def test_a_replacing_run_also_waits_for_the_initial_prompt(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(
            clocked, ["dummy-t2t"], board("panic_1", initial_prompt=True)
        )
        await clocked.start_run(network.id, "first")
        await trio.sleep(30)
        start = trio.current_time()
        await clocked.start_run(network.id, "second")
        await trio.sleep(INITIAL_PROMPT_DELAY + 0.5)
        await clocked.stop_run(network.id)
    second = [r for r in scripted.calls if r.call.input == "second"]
    assert [round(r.started_at - start, 6) for r in second] == [INITIAL_PROMPT_DELAY]
    assert boards.texts("panic_1").count("second") == 1


async def test_an_unavailable_or_hanging_board_never_stops_or_delays_the_run(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(
            clocked, ["dummy-t2t"], board("panic_1"), board("panic_2")
        )
        boards.fail("POST", "/", status=503, times=1)  # the first send (panic_1's prompt)
        boards.fail("POST", "/", status=None, delay=3600, times=1)  # panic_2's prompt hangs
        start = trio.current_time()
        genesis = await clocked.start_run(network.id, "stubborn")
        await trio.sleep(3 * BOARD_FLOOR + 1)
        assert clocked.status(network.id).state in ("waiting", "invoking")
        await clocked.stop_run(network.id)
        run = await clocked.list_run(network.id, genesis.run_number)
    assert invoked_at(scripted, start) == [0.0, 8.0, 16.0, 24.0]
    results = run[0].metadata["vestaboard"]
    assert set(results) == {"panic_1", "panic_2"}
    outcomes = sorted(("too quickly (503)" in r, "did not answer within 10 s" in r)
                      for r in results.values())  # fmt: skip
    assert outcomes == [(False, True), (True, False)]  # which board got which fault varies
    assert run[1].metadata["vestaboard"] == {"panic_1": "sent", "panic_2": "sent"}


async def test_a_missing_board_token_is_recorded_and_the_run_goes_on(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(clocked, ["dummy-t2t"], board("panic_1"), tokens=False)
        genesis = await clocked.start_run(network.id, "no key")
        await trio.sleep(BOARD_FLOOR + 1)
        await clocked.stop_run(network.id)
        run = await clocked.list_run(network.id, genesis.run_number)
    assert boards.shown == []
    assert run[0].metadata["vestaboard"]["panic_1"].startswith("error: No read-write key")
    assert len(scripted.calls) == 2


async def test_stopping_the_run_cancels_pending_board_sends(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(clocked, ["dummy-t2t"], board("panic_1"))
        boards.fail("POST", "/", status=None, delay=3600, times=1)
        genesis = await clocked.start_run(network.id, "hang")
        await trio.sleep(1)
        before = trio.current_time()
        assert await clocked.stop_run(network.id)
        assert trio.current_time() == before
        await trio.sleep(60)
        run = await clocked.list_run(network.id, genesis.run_number)
    assert "vestaboard" not in run[0].metadata  # cancelled, not recorded as an error
    assert run[-1].metadata["cancelled"] is True


async def test_a_board_added_or_removed_mid_run_applies_at_the_next_step(
    clocked: Panic,
    boards: Boards,
    scripted: ScriptedPlatform,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(GUARD):
        network = await network_with_boards(clocked, ["dummy-t2t"])
        [first, _] = await clocked.installations.find(network_id=network.id)
        genesis = await clocked.start_run(network.id, "quiet at first")
        await trio.sleep(3.5)  # steps at 0, 1, 2, 3: no boards yet
        assert boards.shown == []
        await clocked.installations.add_watcher(first.id, board("panic_1"))
        await trio.sleep(2 * BOARD_FLOOR)
        sent = boards.texts("panic_1")
        await clocked.installations.remove_watcher(first.id, "panic-1")
        await trio.sleep(3 * BOARD_FLOOR)
        await clocked.stop_run(network.id)
        run = await clocked.list_run(network.id, genesis.run_number)
    outputs = [r.output for r in run if r.output]
    assert sent, "the new board was never used"
    assert all(text in outputs[4:] for text in sent)
    assert boards.texts("panic_1") == sent  # nothing after it was removed
