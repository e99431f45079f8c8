"""The phone remote: every network of yours on one page, made for one hand.

``/remote`` lists each of your networks with its live status, run age and
last prompt, a big Start (a prompt) and a big Stop, and every screen of its
installations with how many browsers show it. The page holds no state of its
own: it listens on the sockets the control panel and the installation page
already use (``/ws/networks/<id>``, ``/ws/installations/<id>/viewers``) and
stops through the JSON API, so what it shows is what every other page shows.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, render_template
from quart.typing import ResponseReturnValue

from panic_trio.domain import Network, utc_now
from panic_trio.installations import Installation
from panic_trio.web.auth import login_required, signed_in_user
from panic_trio.web.displays import viewers
from panic_trio.web.state import web_state

bp = Blueprint("remote", __name__)


def _network_data(network: Network, installations: list[Installation]) -> dict[str, Any]:
    """What the page's script starts from for one network (the owner's view)."""
    return {
        "id": network.id,
        "status": web_state().panic.status(network.id).to_json(),
        "installations": [i.id for i in installations],
    }


@bp.get("/remote")
@bp.get("/remote/")
@login_required
async def show() -> ResponseReturnValue:
    """Your networks, their runs and their screens, for a phone."""
    user = await signed_in_user()
    panic = web_state().panic
    networks = await panic.list_networks(user.id)
    mine = await panic.installations.find(owner_id=user.id)
    by_network = {n.id: [i for i in mine if i.network_id == n.id] for n in networks}
    registry = viewers()
    return await render_template(
        "remote.html",
        networks=networks,
        statuses={n.id: panic.status(n.id) for n in networks},
        installations=by_network,
        counts={i.id: registry.counts(i) for i in mine},
        data={
            "networks": [_network_data(n, by_network[n.id]) for n in networks],
            "server_time": utc_now().isoformat(),
        },
    )
