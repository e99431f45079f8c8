"""The shipped nginx configuration in front of two real processes: what visitors and screens see.

Visitors sign in, scan, prompt and watch through nginx; consecutive requests
land on different processes (no sticky sessions); the proxy passes the
visitor's address on. Then one process is killed, or drained with SIGTERM as
docs/operations.md says: pages and new sockets keep being served by the
other, the run goes on there, and a screen cut off reconnects and catches up.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed

from panic_trio.store import moderation
from tests.e2e.conftest import free_port, open_ws
from tests.nodes.conftest import PASSWORD, Cluster
from tests.nodes.proxy import Nginx, start_nginx
from tests.nodes.test_failover import assert_run_sound, until

pytestmark = pytest.mark.postgres

VISITOR = "127.0.0.2"  # the visitors' address; nginx reaches the processes from 127.0.0.1
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, "no form with a CSRF token on the page"
    return found[1]


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def visitor(base_url: str) -> httpx.AsyncClient:
    """A browser-like client: cookies kept, redirects not followed, from its own address."""
    transport = httpx.AsyncHTTPTransport(local_address=VISITOR)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)


@pytest.fixture
async def nginx(cluster: Cluster) -> AsyncIterator[Nginx]:
    """Processes a and b, each told the proxy's address, behind the shipped nginx config."""
    port = free_port()
    cluster.extra_env["PANIC_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    cluster.extra_env["PANIC_PROXY_HOPS"] = "1"
    cluster.extra_env["PANIC_LEASE_SECONDS"] = "5"
    upstreams = [port_of((await cluster.start(name)).url) for name in ("a", "b")]
    proxy = await start_nginx(cluster.folder / "nginx", port, upstreams)
    try:
        yield proxy
    finally:
        proxy.process.terminate()
        with trio.move_on_after(10):
            await proxy.process.wait()
        if proxy.process.poll() is None:
            proxy.process.kill()
            await proxy.process.wait()


@dataclass
class Viewer:
    """A screen on the network's socket through the proxy, reconnecting like live.js does."""

    url: str
    statuses: list[dict[str, Any]] = field(default_factory=list)
    completed: list[dict[str, Any]] = field(default_factory=list)
    closed: list[int | None] = field(default_factory=list)  # close codes of connections cut off
    connected: trio.Event = field(default_factory=trio.Event)

    async def run(self) -> None:
        while True:
            try:
                async with open_ws(self.url) as ws:
                    while True:
                        message = json.loads(await ws.get_message())
                        if message["type"] == "status":
                            self.statuses.append(message["status"])
                            self.connected.set()
                        invocation = message.get("invocation")
                        if invocation is not None and invocation["state"] == "completed":
                            self.completed.append(invocation)
            except* ConnectionClosed as cut:
                for exc in cut.exceptions:
                    assert isinstance(exc, ConnectionClosed)
                    self.closed.append(None if exc.reason is None else exc.reason.code)
            await trio.sleep(0.2)

    def by(self, node: str) -> list[int]:
        """Sequence numbers of the steps seen that ``node`` made."""
        return [i["sequence_number"] for i in self.completed if i["output"].endswith(f"by {node}")]


async def sign_in(http: httpx.AsyncClient) -> None:
    form = await http.get("/sign-in")
    fields = {"email": "nodes@example.org", "password": PASSWORD, "csrf_token": csrf(form.text)}
    answer = await http.post("/sign-in", data=fields)
    assert answer.status_code == 303, answer.text


async def pages_served(nginx: Nginx, path: str, times: int) -> None:
    """``times`` anonymous GETs through the proxy, every one answered 200."""
    async with visitor(nginx.url) as http:
        for _ in range(times):
            response = await http.get(path)
            assert response.status_code == 200, (response.status_code, nginx.errors()[-2000:])


async def sockets_served(nginx: Nginx, path: str, times: int) -> None:
    """``times`` new WebSockets through the proxy, each greeted with the status."""
    for _ in range(times):
        with trio.fail_after(10):
            async with open_ws(nginx.url.replace("http", "ws") + path) as ws:
                assert json.loads(await ws.get_message())["type"] == "status"


async def no_server_errors(nginx: Nginx) -> list[tuple[str, str, int, str]]:
    """Every request nginx answered, after checking none got a 5xx."""
    served = await nginx.served()
    assert [row for row in served if row[2] >= 500] == [], nginx.errors()[-2000:]
    return served


async def test_visitors_prompt_and_watch_through_nginx_and_a_killed_process_is_passed_over(
    cluster: Cluster, nginx: Nginx
) -> None:
    net = cluster.network_id
    socket_path = f"/ws/networks/{net}"
    viewers = [Viewer(nginx.url.replace("http", "ws") + socket_path) for _ in range(2)]
    async with trio.open_nursery() as screens:
        for viewer in viewers:  # back to back: round robin puts them on different processes
            screens.start_soon(viewer.run)
            with trio.fail_after(10):
                await viewer.connected.wait()

        # The owner signs in and takes the QR link; every page after is signed in,
        # whichever process answers it.
        async with visitor(nginx.url) as owner:
            await sign_in(owner)
            for _ in range(4):
                panel = await owner.get(f"/networks/{net}")
                assert panel.status_code == 200, panel.status_code
                assert "Sign out" in panel.text
            scan = (await owner.get(f"/networks/{net}/info/qr.json")).json()["url"]
        assert scan.startswith(f"{nginx.url}/networks/{net}/terminal?token="), scan

        # A visitor scans it and prompts with the terminal's form (CSRF and all).
        async with visitor(nginx.url) as phone:
            terminal = await phone.get(scan.removeprefix(nginx.url))
            assert terminal.status_code == 200
            form = {"prompt": "go", "csrf_token": csrf(terminal.text)}
            sent = await phone.post(scan.removeprefix(nginx.url), data=form)
            assert sent.status_code == 303, sent.text
            assert "Started: go" in (await phone.get(sent.headers["location"])).text

        served = await no_server_errors(nginx)
        signed_in = [row[3] for row in served if row[1] == f"/networks/{net}"]
        assert len(set(signed_in)) == 2, served  # the session held on both processes
        form_pages = [row[3] for row in served if row[1].startswith(f"/networks/{net}/terminal")]
        assert len(form_pages) == 3, served
        assert len(set(form_pages)) == 2, served  # the form's CSRF token held on the other process
        [logged] = await cluster.store.read(moderation.prompts_of, net, None, 10)
        assert logged["client"] == VISITOR  # the visitor's address, from X-Forwarded-For
        assert logged["source"] == "token"  # the QR code's terminal link

        # Both screens see the run, whichever process runs it.
        owner_name = await cluster.owner()
        assert owner_name in ("a", "b")
        survivor = "b" if owner_name == "a" else "a"
        await until(lambda: _each_saw(viewers, owner_name, 2))

        # The owner dies. Pages and new sockets are served by the other process...
        cluster.signal(owner_name, signal.SIGKILL)
        await cluster.nodes[owner_name].process.wait()
        await pages_served(nginx, f"/networks/{net}/info", 6)
        await sockets_served(nginx, socket_path, 3)
        # ... the run goes on there, and the screen that was cut off reconnects and catches up.
        await until(lambda: _each_saw(viewers, survivor, 2), timeout=30)
        screens.cancel_scope.cancel()

    [cut] = [v for v in viewers if v.closed]  # one screen was on the killed process
    assert len(cut.statuses) >= 2  # greeted again on reconnecting
    caught_up = cut.statuses[-1]["current"]
    assert caught_up is not None
    assert caught_up["sequence_number"] >= max(cut.by(owner_name))
    for viewer in viewers:
        assert min(viewer.by(survivor)) > max(viewer.by(owner_name))
    await stop_through(nginx, cluster)
    await assert_run_sound(cluster)
    await no_server_errors(nginx)


async def stop_through(nginx: Nginx, cluster: Cluster) -> None:
    """Stop the run through the proxy, wherever it runs."""
    headers = {"Authorization": f"Bearer {cluster.api_key}"}
    async with visitor(nginx.url) as api:
        path = f"/api/networks/{cluster.network_id}/runs/current"
        stopped = await api.delete(path, headers=headers)
        assert stopped.json() == {"stopped": True}


async def _each_saw(viewers: list[Viewer], node: str, count: int) -> bool:
    return all(len(v.by(node)) >= count for v in viewers)


async def test_draining_a_process_behind_nginx_moves_its_run_and_drops_no_request(
    cluster: Cluster, nginx: Nginx
) -> None:
    net = cluster.network_id
    socket_path = f"/ws/networks/{net}"
    viewers = [Viewer(nginx.url.replace("http", "ws") + socket_path) for _ in range(2)]
    answers: list[tuple[float, str, int]] = []
    headers = {"Authorization": f"Bearer {cluster.api_key}"}

    async def keep_asking() -> None:
        async with visitor(nginx.url) as http:
            while True:
                for path in (f"/networks/{net}/info", f"/api/networks/{net}/runs/current"):
                    status = (await http.get(path, headers=headers)).status_code
                    answers.append((trio.current_time(), path, status))
                await trio.sleep(0.02)

    async with trio.open_nursery() as background:
        for viewer in viewers:
            background.start_soon(viewer.run)
            with trio.fail_after(10):
                await viewer.connected.wait()
        async with visitor(nginx.url) as api:
            started = await api.post(
                f"/api/networks/{net}/runs", json={"prompt": "go"}, headers=headers
            )
            assert started.status_code == 201, started.text
        owner_name = await cluster.owner()
        assert owner_name in ("a", "b")
        survivor = "b" if owner_name == "a" else "a"
        await until(lambda: _each_saw(viewers, owner_name, 2))
        background.start_soon(keep_asking)

        drained_at = trio.current_time()
        cluster.signal(owner_name, signal.SIGTERM)  # the drain, as docs/operations.md says
        with trio.fail_after(15):
            assert await cluster.nodes[owner_name].process.wait() == 0
        await until(lambda: _each_saw(viewers, survivor, 2), timeout=15)
        moved = trio.current_time() - drained_at
        await sockets_served(nginx, socket_path, 3)
        asked = len(answers)
        await until(_later(answers, asked + 10))
        background.cancel_scope.cancel()

    print(f"drained: two steps made elsewhere were on both screens {moved:.2f} s after SIGTERM")
    # Every request answered by a process; only while the run is between processes does
    # "the current run" say there is none (404), and for well under the lease.
    gaps = [at for at, path, status in answers if status != 200]
    assert {(path, status) for _, path, status in answers if status != 200} <= {
        (f"/api/networks/{net}/runs/current", 404)
    }, answers
    print(f"{len(answers)} requests; {len(gaps)} 'no current run' over {_span(gaps):.2f} s")
    assert _span(gaps) < 3.0
    [cut] = [v for v in viewers if v.closed]
    assert cut.closed == [1001]  # told "going away", not dropped
    await stop_through(nginx, cluster)
    await assert_run_sound(cluster)
    await no_server_errors(nginx)


def _span(times: list[float]) -> float:
    return max(times) - min(times) if times else 0.0


def _later(answers: list[Any], count: int) -> Any:
    async def enough() -> bool:
        return len(answers) >= count

    return enough
