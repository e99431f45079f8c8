"""What screens and operators see works across processes: reloads, requests, viewer counts."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection

from panic_trio import Settings, open_panic
from panic_trio.installations import Installation
from panic_trio.installations.viewers import FORGET_SECONDS
from tests.e2e.conftest import open_ws
from tests.nodes.conftest import PASSWORD, SECRET, Cluster
from tests.nodes.test_failover import start_run

pytestmark = pytest.mark.postgres

WALL = {"type": "grid", "name": "wall", "rows": 2, "columns": 2}
SPOT = {"type": "single", "name": "spot", "stride": 1, "offset": 0}
TIMEOUT = 15.0  # a message crosses processes in well under a second, on two busy cores too


async def installation(cluster: Cluster, *watchers: dict[str, Any]) -> Installation:
    settings = Settings(
        database_url=cluster.database_url, data_dir=cluster.folder / "data", secret_key=SECRET
    )
    async with open_panic(settings, runs=False) as panic:
        return await panic.installations.create(cluster.network_id, "Gallery", watchers)


class Operator:
    """The network's owner, signed in with a browser session (valid on every node)."""

    def __init__(self, http: httpx.AsyncClient, cluster: Cluster) -> None:
        self.http = http
        self.cluster = cluster
        self.csrf = ""

    async def sign_in(self, node: str) -> None:
        url = self.cluster.nodes[node].url
        form = (await self.http.get(f"{url}/sign-in")).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert found
        self.csrf = found.group(1)
        signed = await self.http.post(
            f"{url}/sign-in",
            data={"email": "nodes@example.org", "password": PASSWORD, "csrf_token": self.csrf},
        )
        assert signed.status_code == 303, signed.text
        form = (await self.http.get(f"{url}/installations")).text  # a new session: a new token
        found = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert found
        self.csrf = found.group(1)

    async def post(self, node: str, path: str, **data: str) -> httpx.Response:
        return await self.http.post(
            f"{self.cluster.nodes[node].url}{path}",
            data={**data, "csrf_token": self.csrf},
            headers={"Accept": "application/json"},
        )

    def cookie(self) -> list[tuple[bytes, bytes]]:
        jar = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        return [(b"Cookie", jar.encode())]


@asynccontextmanager
async def operator(cluster: Cluster, node: str) -> AsyncIterator[Operator]:
    async with httpx.AsyncClient(timeout=30) as http:
        signed = Operator(http, cluster)
        await signed.sign_in(node)
        yield signed


def ws_url(cluster: Cluster, node: str, path: str) -> str:
    return cluster.nodes[node].url.replace("http", "ws") + path


async def receive(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(TIMEOUT):
        message: dict[str, Any] = json.loads(await ws.get_message())
        return message


async def next_request(ws: WebSocketConnection) -> dict[str, Any]:
    """The next frame that is not a drawing (a run may be going on meanwhile)."""
    with trio.fail_after(TIMEOUT):  # drawings keep coming: one deadline for the lot
        while True:
            frame = await receive(ws)
            if frame["type"] not in ("screen", "reset", "place", "idle"):
                return frame


async def test_a_screen_on_one_process_reloads_when_another_edits_or_deletes(
    cluster: Cluster,
) -> None:
    for name in ("a", "b"):
        await cluster.start(name)
    made = await installation(cluster, WALL)
    display = ws_url(cluster, "a", f"/ws/displays/{made.public_id}/wall")
    async with operator(cluster, "b") as owner:
        async with open_ws(display) as tv:
            assert (await receive(tv))["type"] == "screen"
            edited = trio.current_time()
            added = await owner.post(
                "b",
                f"/installations/{made.id}/watchers/new",
                **{k: str(v) for k, v in SPOT.items()},
            )
            assert added.status_code == 303, added.text
            assert await receive(tv) == {"type": "reload"}
            print(f"edit posted to b: a reloads {trio.current_time() - edited:.3f} s later")
        async with open_ws(display) as tv:  # the screen loads again, and its network goes
            assert (await receive(tv))["type"] == "screen"
            deleted = await owner.post("b", f"/networks/{cluster.network_id}/delete", confirm="yes")
            assert deleted.status_code == 303, deleted.text
            assert await receive(tv) == {"type": "reload"}


async def test_requests_asked_on_one_process_reach_the_screens_on_another(
    cluster: Cluster,
) -> None:
    for name in ("a", "b"):
        await cluster.start(name)
    made = await installation(cluster, WALL, SPOT)
    async with (
        operator(cluster, "b") as owner,
        open_ws(ws_url(cluster, "a", f"/ws/displays/{made.public_id}/wall")) as wall,
        open_ws(ws_url(cluster, "a", f"/ws/displays/{made.public_id}/spot")) as spot,
    ):
        assert (await receive(wall))["type"] == (await receive(spot))["type"] == "screen"
        await start_run(cluster, "b")  # screens draw meanwhile: requests still come through

        async def ask(request: str, watcher: str = "") -> None:
            path = f"/installations/{made.id}/screens"
            asked = await owner.post("b", path, request=request, watcher=watcher)
            assert asked.status_code == 200, asked.text

        posted = trio.current_time()
        await ask("identify", "spot")  # only the spot
        assert await next_request(spot) == {
            "type": "identify", "name": "Gallery · spot", "seconds": 30.0,
        }  # fmt: skip
        print(f"asked of b: the spot on a identifies {trio.current_time() - posted:.3f} s later")
        await ask("sound")  # every screen: the wall's next request is this one
        assert await next_request(wall) == {"type": "sound"}
        assert await next_request(spot) == {"type": "sound"}
        await ask("reload")
        assert await next_request(wall) == {"type": "reload"}
        assert await next_request(spot) == {"type": "reload"}


async def test_viewer_counts_on_one_process_count_the_screens_of_another(
    cluster: Cluster,
) -> None:
    for name in ("a", "b"):
        await cluster.start(name)
    made = await installation(cluster, WALL, SPOT)
    display = ws_url(cluster, "a", f"/ws/displays/{made.public_id}/wall")

    async def counts_become(ws: WebSocketConnection, expected: dict[str, int]) -> None:
        with trio.fail_after(TIMEOUT):
            while (await receive(ws))["counts"] != expected:
                pass

    async with operator(cluster, "b") as owner:
        counts = ws_url(cluster, "b", f"/ws/installations/{made.id}/viewers")
        async with open_ws(counts, owner.cookie()) as page:
            assert await receive(page) == {"type": "viewers", "counts": {"wall": 0, "spot": 0}}
            async with open_ws(display) as tv:
                await receive(tv)
                opened = trio.current_time()
                await counts_become(page, {"wall": 1, "spot": 0})
                print(f"opened on a: counted on b {trio.current_time() - opened:.3f} s later")
            await counts_become(page, {"wall": 0, "spot": 0})  # closed: said at once

            async with open_ws(display) as tv:
                await receive(tv)
                await counts_become(page, {"wall": 1, "spot": 0})
                shown = await owner.http.get(f"{cluster.nodes['b'].url}/installations/{made.id}")
                assert "1 viewer<" in shown.text  # the page itself, not only its socket
                cluster.signal("a", signal.SIGKILL)
                killed = trio.current_time()
                await cluster.nodes["a"].process.wait()
                await counts_become(page, {"wall": 0, "spot": 0})  # a is silent: forgotten
                gone = trio.current_time() - killed
    print(f"a killed: its viewer forgotten after {gone:.1f} s (at most {FORGET_SECONDS:g} s)")
    assert gone < FORGET_SECONDS + 3  # the next look after the last announcement, on busy cores
