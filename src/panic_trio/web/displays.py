"""TV displays: ``/i/<installation>/<watcher>`` and its live socket; viewer counts.

``<installation>`` is the installation's public id (``<id>-<creation stamp>``),
never its bare id, so an old kiosk link can only ever show that installation.

A display page is anonymous and full screen. Its socket
``/ws/displays/<installation>/<watcher>`` applies the watcher rules
(:mod:`panic_trio.watchers`) on the server and sends the browser only what
to draw:

- ``screen``: the whole screen (on connect, after lost events, and when an
  invocation of an unknown run arrives), so a viewer joining mid-run, or a
  kiosk reconnecting after a restart, is up to date at once;
- ``reset``: a new genesis: clear every slot and show it in slot 0;
- ``place``: put a tile in a slot (a grid fills and wraps; a single screen
  gets its stride's invocations);
- ``reload``: the installation or its watchers changed (through the pages
  or the embedding API), or the operator asked this screen to reload
  (``panic.installations.ask_screens``, the phone remote): load the page
  again, so a kiosk picks up a new grid size or stride without anyone
  touching it;
- ``idle``: the network's runner became idle (or busy again); ``screen``,
  ``reset`` and ``place`` frames carry ``idle`` too. An idle screen shows
  its attract state: the network's name and "scan to prompt" with the QR
  (``/i/<installation>/<watcher>/qr.json``, refreshed by the page);
- ``identify``: the operator asked the screens to say who they are
  (``panic.installations.identify``): show ``name`` for ``seconds``;
- ``sound``: the operator asked the screen to try its audio again (a
  browser that still wants a tap keeps its "tap to enable sound" cue).

Archive rewrites (``archived`` events) are not sent: a screen never
re-renders or restarts audio because a URL moved. Text tiles carry Markdown
already rendered and sanitised here. Every open display socket is counted
(``panic.installations.viewers``, summed over every process), so the
installation page and the remote can show live viewer numbers.
"""

from __future__ import annotations

from typing import Any, Final

import trio
from quart import Blueprint, Response, jsonify, render_template
from quart.typing import ResponseReturnValue

from panic_trio.domain import Event, Invocation
from panic_trio.errors import NotFound
from panic_trio.installations import Installation, Viewers
from panic_trio.installations.part import ALL_SCREENS, IDENTIFY_SECONDS
from panic_trio.installations.watchers import Watcher, screen, screen_sequences, slot_for
from panic_trio.security.tokens import identity_row_id
from panic_trio.web.auth import current_user, may_manage
from panic_trio.web.encoding import dumps
from panic_trio.web.networks import page_data
from panic_trio.web.pages import not_found
from panic_trio.web.render import markdown, media_src, output_type
from panic_trio.web.signs import qr_data_uri, scan_url
from panic_trio.web.sockets import Session, open_socket
from panic_trio.web.state import WebState, web_state

IDLE_STATES: Final = frozenset({"idle", "failed"})  # no run going: screens invite a prompt

bp = Blueprint("displays", __name__)


def viewers() -> Viewers:
    """The viewer counts of every process (the installations part keeps them)."""
    return web_state().panic.installations.viewers


def tile(invocation: Invocation, base_url: str) -> dict[str, Any]:
    """What the browser needs to draw one invocation (no untrusted markup).

    A failed or stopped step is an ``ended`` tile with no words: a public
    screen never shows an error (it may name a provider or a missing token).
    """
    kind = output_type(invocation)
    data: dict[str, Any] = {
        "id": invocation.id,
        "run_number": invocation.run_number,
        "sequence": invocation.sequence_number,
        "state": invocation.state,
        "kind": kind,
        "input": invocation.input[:500],
    }
    if invocation.metadata.get("hidden") is True:
        data["state"] = "hidden"  # an operator hid it: a neutral tile, nothing of it
        data["input"] = ""
    elif invocation.state == "failed":
        data["state"] = "ended"  # a neutral tile: why it failed is for owner pages only
    elif invocation.output and kind in ("image", "audio"):
        data["src"] = media_src(invocation.output, base_url)
    elif invocation.output:
        data["html"] = str(markdown(invocation.output))
    return data


async def owned(installation_id: int) -> Installation | None:
    """The installation if the signed-in user owns its network (else ``None``: a 404)."""
    user = await current_user()
    if user is None:
        return None
    panic = web_state().panic
    try:
        installation = await panic.installations.get(installation_id)
        network = await panic.get_network(installation.network_id)
    except NotFound:
        return None
    return installation if network.owner_id == user.id else None


async def _watched(public_id: str, name: str) -> tuple[Installation, Watcher] | None:
    """The installation and watcher a display link names, if that very installation exists.

    The link carries the installation's creation identity, not its id alone:
    a kiosk left on a deleted installation's link never shows a newer one.
    """
    installation_id = identity_row_id(public_id)
    if installation_id is None or not 1 <= installation_id < 2**31:
        return None
    try:
        installation = await web_state().panic.installations.get(installation_id)
    except NotFound:
        return None
    watcher = installation.watcher(name)
    if watcher is None or installation.public_id != public_id:
        return None
    return installation, watcher


@bp.get("/i/<public_id>/<name>")
async def display(public_id: str, name: str) -> ResponseReturnValue:
    """A TV screen: anonymous, full screen, live."""
    found = await _watched(public_id, name)
    if found is None:
        return await not_found()
    installation, watcher = found
    network = await web_state().panic.get_network(installation.network_id)
    data: dict[str, Any] = {"installation": installation.public_id, "watcher": watcher.to_json()}
    # A grid in front of a signed-in kiosk (the network's owner or an admin)
    # has the terminal in its top strip: type on the keyboard by the TV.
    kiosk = watcher.type == "grid" and may_manage(await current_user(), network)
    if kiosk:
        data.update(await page_data(network, keep=0, lockout_seconds=network.lockout_seconds))
    return await render_template(
        "display.html",
        installation=installation,
        watcher=watcher,
        network=network,
        kiosk=kiosk,
        status=web_state().panic.status(network.id),
        data=data,
    )


@bp.get("/i/<public_id>/<name>/qr.json")
async def display_qr(public_id: str, name: str) -> ResponseReturnValue:
    """The "scan to prompt" QR an idle screen shows (a fresh one-hour link, or the sign)."""
    found = await _watched(public_id, name)
    if found is None:
        return await not_found()
    network = await web_state().panic.get_network(found[0].network_id)
    url = scan_url(network)
    response = jsonify({"url": url, "image": await qr_data_uri(url)})
    response.headers["Cache-Control"] = "no-store"
    return response


class DisplaySocket:
    """One screen: turns the network's events into draw frames for its watcher."""

    def __init__(self, state: WebState, installation: Installation, watcher: Watcher) -> None:
        self.state = state
        self.installation = installation
        self.watcher = watcher
        self.run_number: int | None = None
        self.idle: bool | None = None  # as last told to the screen
        self._base_url = state.settings.base_url

    async def push(
        self, session: Session, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Send the screen, then changes, until the installation changes."""
        panic = self.state.panic
        with viewers().track(self.installation.id, self.watcher.name):
            async with (
                panic.watch(self.installation.network_id) as events,
                trio.open_nursery() as nursery,
            ):
                await session.send(dumps(await self.screen_frame()))
                task_status.started()
                nursery.start_soon(self._reload_on_change, session)
                nursery.start_soon(self._answer_requests, session)
                dropped = 0
                async for event in events:
                    frame = await self.frame_for(event)
                    if events.dropped != dropped:  # we lost some: send the whole screen
                        dropped = events.dropped
                        frame = await self.screen_frame()
                    if frame is not None:
                        await session.send(dumps(frame))
                nursery.cancel_scope.cancel(reason="the network's events ended")

    async def screen_frame(self) -> dict[str, Any]:
        """The whole screen: the current (or latest) run through this watcher's rules."""
        panic = self.state.panic
        network_id = self.installation.network_id
        genesis = panic.status(network_id).genesis
        run_number = genesis.run_number if genesis is not None else None
        if run_number is None:
            run_number = await panic.latest_run_number(network_id)
        run = [] if run_number is None else await self._shown_rows(network_id, run_number)
        run = [panic.moderation.concealed(row) for row in run]
        self.run_number = run_number
        shown = screen(self.watcher, run)
        self.idle = panic.status(network_id).state in IDLE_STATES
        return {
            "type": "screen",
            "idle": self.idle,
            "prompt": run[0].input if run else None,
            "tiles": [
                {"slot": slot, "tile": tile(inv, self._base_url)}
                for slot, inv in sorted(shown.items())
            ],
        }

    async def _shown_rows(self, network_id: int, run_number: int) -> list[Invocation]:
        """The few rows of the run this screen can show (two indexed reads, any run length)."""
        panic = self.state.panic
        last = await panic.last_sequence(network_id, run_number)
        if last is None:
            return []
        return await panic.run_rows(network_id, run_number, screen_sequences(self.watcher, last))

    async def frame_for(self, event: Event) -> dict[str, Any] | None:
        """The frame one engine event means for this screen (``None``: nothing)."""
        invocation = event.invocation
        if event.kind == "hidden" and invocation is not None:
            # An operator hid (or showed again) an output: draw the screen anew.
            return None if invocation.run_number != self.run_number else await self.screen_frame()
        idle = event.status.state in IDLE_STATES
        if event.kind != "invocation" or invocation is None:
            # Status changes, and archive rewrites, change no tile. Going idle is
            # said here; going busy comes with the tiles of the new run.
            if not idle or self.idle is not False:  # not going idle, or already told
                return None
            self.idle = True
            return {"type": "idle", "idle": True}
        told, self.idle = self.idle, idle
        invocation = self.state.panic.moderation.concealed(invocation)
        if invocation.sequence_number == 0:
            self.run_number = invocation.run_number
            return {
                "type": "reset",
                "idle": idle,
                "prompt": invocation.input,
                "tile": tile(invocation, self._base_url),
            }
        if invocation.run_number != self.run_number:
            return await self.screen_frame()  # a run we did not see start: catch up
        slot = slot_for(self.watcher, invocation)
        if slot is None:
            return {"type": "idle", "idle": True} if idle and told is False else None
        return {
            "type": "place",
            "idle": idle,
            "slot": slot,
            "tile": tile(invocation, self._base_url),
        }

    async def _answer_requests(self, session: Session) -> None:
        """Do what the operator asks of the screens (all of them, or this one).

        ``identify`` shows this screen's name; ``sound`` has it try its audio
        again; ``reload`` has it load the page again (and ends this socket).
        """
        installations = self.state.panic.installations
        name = f"{self.installation.name} · {self.watcher.name}"
        frames = {
            "identify": dumps({"type": "identify", "name": name, "seconds": IDENTIFY_SECONDS}),
            "sound": dumps({"type": "sound"}),
            "reload": dumps({"type": "reload"}),
        }
        while True:
            asked = await installations.screen_requests(self.installation.id)
            mine = [r.request for r in asked if r.watcher in (ALL_SCREENS, self.watcher.name)]
            for request in dict.fromkeys(mine):  # each once, in the order asked
                await session.send(frames[request])
                if request == "reload":
                    session.end("the operator reloaded the screen")
                    return

    async def _reload_on_change(self, session: Session) -> None:
        await self.state.panic.installations.changed(self.installation.id)
        await session.send(dumps({"type": "reload"}))
        session.end("installation changed: the screen reloads")


@bp.websocket("/ws/displays/<public_id>/<name>")
async def display_socket(public_id: str, name: str) -> Response | None:
    """The live feed of one screen (read-only, anonymous)."""
    found = await _watched(public_id, name)
    if found is None:
        return Response("no such display", 404)
    socket = DisplaySocket(web_state(), *found)
    await open_socket(socket.push)
    return None


@bp.websocket("/ws/installations/<id:installation_id>/viewers")
async def viewers_socket(installation_id: int) -> Response | None:
    """Live viewer counts for the installation page (its owner only)."""
    installation = await owned(installation_id)
    if installation is None:
        return Response("no such installation", 404)
    registry = viewers()

    async def push(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        sent = None
        async for _ in registry.changes():
            counts = registry.counts(installation)
            if counts != sent:  # another installation's change, or a count said again
                await session.send(dumps({"type": "viewers", "counts": counts}))
                sent = counts

    await open_socket(push)
    return None
