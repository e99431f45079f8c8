"""How a network's QR is handed out (panic.signs), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import trio

from panic_trio.errors import InvalidInput, NotFound
from panic_trio.signs import PrintedSigns
from panic_trio.store.store import open_store


async def test_choosing_rotating_and_withdrawing_a_printed_sign(database_url: str) -> None:
    with trio.fail_after(30):
        async with open_store(database_url) as store:
            owner = await store.create_user("signs@example.org", "hash", False)
            made = await store.create_network(owner.id, "loop", "", ["dummy-t2t"], 30, {})
            signs = PrintedSigns(store)
            assert (made.qr_mode, made.sign_generation) == ("screen", 0)
            with pytest.raises(InvalidInput):
                await signs.rotate(made.id)  # nothing printed: nothing to rotate
            with pytest.raises(InvalidInput):
                await signs.choose(made.id, "billboard")
            assert (await store.get_network(made.id)).qr_mode == "screen"
            printed = await signs.choose(made.id, "printed")
            assert (printed.qr_mode, printed.sign_generation) == ("printed", 0)
            assert (await signs.choose(made.id, "printed")).sign_generation == 0  # unchanged
            assert (await signs.rotate(made.id)).sign_generation == 1
            withdrawn = await signs.choose(made.id, "screen")
            assert (withdrawn.qr_mode, withdrawn.sign_generation) == ("screen", 2)
            again = await signs.choose(made.id, "printed")
            assert again.sign_generation == 2  # never the withdrawn sign's generation
            with pytest.raises(NotFound):
                await signs.choose(made.id + 1000, "printed")
