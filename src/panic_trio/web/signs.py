"""What a "scan to prompt" QR carries, and the lasting link of a printed sign.

On screens (the default) the QR is a terminal link valid for an hour; as a
printed sign it is ``/s/<code>``, which lasts until the owner rotates or
revokes it and, each time it is scanned, mints a fresh one-hour terminal
link and sends the visitor there. See :mod:`panic_trio.signs` for the
trade-off the owner chooses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import segno
from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Network
from panic_trio.errors import NotFound
from panic_trio.web.pages import not_found
from panic_trio.web.state import web_state

QR_DARK: Final = "#d8b4fe"
QR_LIGHT: Final = "#18181b"
PRINT_DARK: Final = "#000000"
PRINT_LIGHT: Final = "#ffffff"

bp = Blueprint("signs", __name__)

QR_DRAWING: Final = ThreadSeam("qr-codes", 2)
"""Drawing a code takes about 50 ms of CPU: never on the event loop, and at
most two at once, so a screen (or anyone with its link) asking in a loop
cannot stall the sockets."""


def public_base() -> str:
    """This server's public address, for links that leave the page (QR codes)."""
    return (web_state().settings.public_url or request.host_url).rstrip("/")


def terminal_url(network: Network) -> str:
    """A fresh signed terminal URL (valid for an hour)."""
    token = web_state().tokens.issue(network)
    return f"{public_base()}/networks/{network.id}/terminal?token={token}"


def sign_url(network: Network) -> str:
    """The lasting link of the network's printed sign (as it is now)."""
    return f"{public_base()}/s/{web_state().tokens.sign_code(network)}"


def scan_url(network: Network) -> str:
    """What the network's QR encodes now: its printed sign, or a fresh terminal link."""
    return sign_url(network) if network.qr_mode == "printed" else terminal_url(network)


async def qr_data_uri(url: str, *, printable: bool = False) -> str:
    """The QR code of ``url`` as an SVG data URI (high error correction), drawn
    in a worker thread. Purple on near-black for screens; black on white to print.
    """
    return await QR_DRAWING.run(_drawn, url, printable)


@lru_cache(maxsize=64)  # a printed sign's link stays the same: drawn once
def _drawn(url: str, printable: bool) -> str:
    code = segno.make(url, error="h")
    dark, light = (PRINT_DARK, PRINT_LIGHT) if printable else (QR_DARK, QR_LIGHT)
    return str(code.svg_data_uri(dark=dark, light=light, scale=10, border=2))


@bp.get("/s/<code>")
async def scanned(code: str) -> ResponseReturnValue:
    """A printed sign was scanned: mint a terminal link and go there (or say it is gone)."""
    state = web_state()
    network_id = state.tokens.sign_network_id(code)
    if network_id is None or not 1 <= network_id < 2**31:
        return await not_found()
    try:
        network = await state.panic.get_network(network_id)
    except NotFound:
        return await not_found()
    if not state.tokens.sign_works(code, network):
        return redirect(url_for("terminal.expired", network_id=network.id, sign="1"))
    response = redirect(terminal_url(network), 303)
    response.headers["Cache-Control"] = "no-store"  # every scan mints its own
    return response
