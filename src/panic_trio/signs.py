"""How a network's "scan to prompt" QR reaches visitors: on a screen, or printed.

A screen shows a terminal link valid for an hour, refreshed every five
minutes, so a photo of it soon stops working. A printed sign carries a
lasting link instead, which mints such a terminal link each time it is
scanned: no screen is needed, but a photo of the sign works from anywhere
until its owner rotates or revokes it. ``Panic`` composes one
:class:`PrintedSigns` as ``panic.signs``; the web signs and reads the links.
"""

from __future__ import annotations

from panic_trio.domain import QR_MODES, Network
from panic_trio.errors import InvalidInput
from panic_trio.store import networks as network_queries
from panic_trio.store.store import Store


class PrintedSigns:
    """The owner's choice between a code on a screen and a printed sign."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def choose(self, network_id: int, mode: str) -> Network:
        """Show the QR as ``"screen"`` or ``"printed"``.

        Leaving ``"printed"`` revokes the printed sign for good.

        Raises:
            InvalidInput: an unknown mode (nothing changes).
            NotFound: no such network.
        """
        if mode not in QR_MODES:
            raise InvalidInput(f"must be one of {', '.join(QR_MODES)}", field="qr_mode")
        return await self._store.write(network_queries.set_qr_mode, network_id, mode, rotate=False)

    async def rotate(self, network_id: int) -> Network:
        """A new printed link: the old sign stops working (print the new one).

        Raises:
            InvalidInput: the network shows its QR on screens (no sign to rotate).
            NotFound: no such network.
        """
        network = await self._store.get_network(network_id)
        if network.qr_mode != "printed":
            raise InvalidInput("this network has no printed sign to rotate", field="qr_mode")
        return await self._store.write(
            network_queries.set_qr_mode, network_id, "printed", rotate=True
        )
