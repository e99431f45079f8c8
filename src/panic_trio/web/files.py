"""Files sent from disk (static files, media) that never leak their handle.

quart-trio's ``TrioFileBody`` opens the file, then seeks, inside
``__aenter__``: a browser that leaves (a page navigated away while its
scripts load) cancels the request between the two, ``__aexit__`` never runs
and the open file is only closed by the garbage collector, with a
``ResourceWarning``. Here a failed ``__aenter__`` closes what it opened.
"""

from __future__ import annotations

import trio
from quart_trio.wrappers.response import TrioFileBody, TrioResponse


class ClosingFileBody(TrioFileBody):
    """``TrioFileBody`` that closes its file when opening is cancelled half-way."""

    async def __aenter__(self) -> ClosingFileBody:
        file = await trio.open_file(self.file_path, mode="rb")
        try:
            await file.seek(self.begin)
        except BaseException:
            with trio.CancelScope(shield=True):
                await file.aclose()
            raise
        self.file = file
        return self


class PanicResponse(TrioResponse):
    """The app's responses: the same as quart-trio's, with :class:`ClosingFileBody`."""

    file_body_class = ClosingFileBody
