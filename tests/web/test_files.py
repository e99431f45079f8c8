"""Files sent from disk: a request cancelled while its file opens leaks nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from panic_trio.web.files import ClosingFileBody


async def test_a_cancel_between_open_and_seek_closes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "editor.js"
    path.write_bytes(b"export const x = 1;\n" * 100)
    opened: list[Any] = []
    real_open = trio.open_file

    with trio.CancelScope() as scope:

        async def open_then_leave(*args: Any, **kwargs: Any) -> Any:
            file = await real_open(*args, **kwargs)
            opened.append(file)
            scope.cancel(reason="the browser went to another page")
            return file

        monkeypatch.setattr(trio, "open_file", open_then_leave)
        body = ClosingFileBody(path)
        await body.__aenter__()  # the seek is where the cancel lands
        pytest.fail("the cancel did not land")
    assert scope.cancelled_caught
    assert len(opened) == 1
    assert opened[0].closed  # not left to the garbage collector


async def test_a_whole_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc" * 5000)
    async with ClosingFileBody(path) as body:
        read = b"".join([chunk async for chunk in body])
    assert read == b"abc" * 5000
