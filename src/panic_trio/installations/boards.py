"""Vestaboard dispatch: each run step's text goes to every matching board.

The original sent to the first matching board only, sent the genesis prompt
twice and blocked its runner on every board call. Here, for each invocation,
*every* matching vestaboard watcher of the network's installations gets the
text (one message per board), the genesis prompt is sent once, image and
audio URLs never are, and each send is a task in the run's own nursery,
bounded by a timeout: the run goes on while boards answer, and stopping the
run cancels the sends still pending. A failed send is logged and recorded in
the invocation's ``metadata.vestaboard`` (``{"panic_1": "sent" | "error: …"}``);
it never fails the run.

Timing (both in Trio time, exact under ``MockClock``): after a step that
pushed anything, the next invocation waits at least :data:`BOARD_FLOOR`
seconds; when a board shows the initial prompt, the genesis waits
:data:`INITIAL_PROMPT_DELAY` seconds before invoking, on every start.

The engine calls this through its ``RunHooks`` protocol (``engine/hooks.py``)
and never imports it: :class:`Boards` is handed to ``open_engine``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Final

import trio

from panic_trio.domain import Invocation, Network
from panic_trio.engine import StepHooks, TokenLookup
from panic_trio.errors import PanicError
from panic_trio.installations.watchers import Watcher, check_watcher, output_text, prompt_text
from panic_trio.models import find_model
from panic_trio.models.platform_records import board_token
from panic_trio.platforms.registry import Platforms
from panic_trio.store import installations as queries
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)

BOARD_FLOOR: Final = 8.0
INITIAL_PROMPT_DELAY: Final = 10.0
SEND_TIMEOUT: Final = 10.0
SENT: Final = "sent"

SendText = Callable[[str, str | None, str], Awaitable[str]]


def texts_by_board(
    watchers: list[Watcher], pick: Callable[[Watcher], str | None]
) -> dict[str, str]:
    """One text per board: the first matching watcher of each board decides."""
    texts: dict[str, str] = {}
    for watcher in watchers:
        text = pick(watcher)
        if text is not None and watcher.vestaboard_name is not None:
            texts.setdefault(watcher.vestaboard_name, text)
    return texts


@dataclass(slots=True)
class Boards:
    """The engine's Vestaboard dispatcher, shared by every runner (its ``RunHooks``).

    ``send`` is :meth:`VestaboardClient.send_text`; ``tokens`` looks up the
    network owner's decrypted board tokens.
    """

    store: Store
    send: SendText
    tokens: TokenLookup
    timeout: float = SEND_TIMEOUT
    _watchers: dict[int, list[Watcher]] = field(default_factory=dict)

    async def watchers(self, network_id: int) -> list[Watcher]:
        """The network's vestaboard watchers (read once, then kept until :meth:`forget`).

        Every step asks, so the answer is cached rather than read per step;
        installation edits call :meth:`forget`, so they apply at the next step.
        """
        cached = self._watchers.get(network_id)
        if cached is None:
            stored = await self.store.read(queries.vestaboard_watchers, network_id)
            cached = [check_watcher(w) for w in stored]
            self._watchers[network_id] = cached
        return cached

    def forget(self) -> None:
        """Drop the cached watchers (an installation changed)."""
        self._watchers.clear()

    def for_run(self, nursery: trio.Nursery, network: Network) -> StepHooks:
        """One run's hooks: sends start in ``nursery``, the run's own."""
        return RunBoards(self, nursery, network)

    def start(
        self, nursery: trio.Nursery, network: Network, invocation: Invocation, texts: dict[str, str]
    ) -> None:
        """Start one send per board in ``nursery`` (the run's: a stop cancels them)."""
        for board, text in texts.items():
            nursery.start_soon(self._send_one, network, invocation, board, text)

    async def _send_one(
        self,
        network: Network,
        invocation: Invocation,
        board: str,
        text: str,
    ) -> None:
        try:
            token = await self.tokens(network, board_token(board))
            with trio.fail_after(self.timeout):
                await self.send(text, token, board)
            result = SENT
            logger.info("network %s: sent invocation %s to %s", network.id, invocation.id, board)
        except trio.TooSlowError:
            result = f"error: Vestaboard {board} did not answer within {self.timeout:g} s"
        except PanicError as exc:
            result = f"error: {exc}"
        except Exception as exc:  # a bug in a send must not end the run
            logger.exception("network %s: unexpected error sending to %s", network.id, board)
            result = f"error: {exc!r}"
        if result != SENT:
            logger.warning(
                "network %s: invocation %s to %s failed: %s",
                network.id,
                invocation.id,
                board,
                result,
            )
        await self._record(invocation.id, {board: result})

    async def _record(self, invocation_id: int, results: dict[str, str]) -> None:
        try:
            await self.store.write(
                queries.record_board_results, invocation_id, results, self.store.now()
            )
        except PanicError:
            logger.exception("could not record Vestaboard results of %s", invocation_id)


class RunBoards:
    """One run's view of the dispatcher: the runner's three step hooks."""

    def __init__(self, boards: Boards, nursery: trio.Nursery, network: Network) -> None:
        self._boards = boards
        self._nursery = nursery
        self._network = network
        self._floor = 0.0
        self._texts: dict[str, str] = {}

    async def announce(self, genesis: Invocation) -> float | None:
        """Send a new run's prompt; the hold before invoking the genesis, or ``None``."""
        watchers = await self._boards.watchers(self._network.id)
        texts = texts_by_board(watchers, lambda w: prompt_text(w, genesis))
        if texts:
            self._floor = BOARD_FLOOR
            self._boards.start(self._nursery, self._network, genesis, texts)
        if any(w.initial_prompt for w in watchers):
            return INITIAL_PROMPT_DELAY
        return None

    async def prepare(self, invocation: Invocation, output: str) -> float:
        """Decide what ``invocation``'s output sends; the delay floor that implies."""
        self._texts = {}
        if invocation.sequence_number > 0:
            model = find_model(invocation.model)
            kind = "unknown" if model is None else model.output_type
            done = _with_output(invocation, output)
            watchers = await self._boards.watchers(self._network.id)
            self._texts = texts_by_board(watchers, lambda w: output_text(w, done, kind))
        floor, self._floor = (BOARD_FLOOR if self._texts else self._floor), 0.0
        return floor

    def dispatch(self, done: Invocation) -> None:
        """Start the sends :meth:`prepare` decided on (returns at once)."""
        texts, self._texts = self._texts, {}
        if texts:
            self._boards.start(self._nursery, self._network, done, texts)


def _with_output(invocation: Invocation, output: str) -> Invocation:
    return replace(invocation, output=output, state="completed")


def vestaboard_dispatcher(store: Store, platforms: Platforms, tokens: TokenLookup) -> Boards | None:
    """The engine's Vestaboard dispatcher (``None`` without a client)."""
    client = platforms.vestaboard
    return None if client is None else Boards(store, client.send_text, tokens)
