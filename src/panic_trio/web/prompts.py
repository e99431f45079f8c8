"""Starting a run from a visitor's prompt: the one path the API, the socket and the form share."""

from __future__ import annotations

from panic_trio.domain import Invocation
from panic_trio.errors import RateLimited
from panic_trio.web.prompters import Prompter
from panic_trio.web.state import web_state


async def start_from_prompt(
    network_id: int, prompt: str, *, who: Prompter, replace: bool = False
) -> Invocation:
    """Charge the prompter's allowance (every key at once), then start the run; returns the genesis.

    The prompt goes to the network's prompt log with ``who``'s source.

    Raises:
        RateLimited: the client sent too many prompts lately (nothing started).
        Everything :meth:`Panic.start_run` raises (locked out, a spending cap,
        an invalid prompt or network, shutting down).
    """
    state = web_state()
    wait = state.prompt_limiter.hit_all(who.limit_keys)
    if wait > 0:
        raise RateLimited(wait)
    return await state.panic.start_run(network_id, prompt, replace=replace, source=who.source)
