"""A flood of sockets from one address, with the open-file limit at 1024 (finding 5).

The probe: 1,000 anonymous ``/ws/networks/1`` sockets from one client, with
``RLIMIT_NOFILE`` at a common 1024, made the server run out of descriptors
and the active run failed for good ("Could not write dummy media: [Errno 24]
Too many open files"). Here a real ``panic-trio serve`` runs with that limit
(set in its subprocess) and a run of image and text dummies, while one
address opens 1,000 sockets and holds them: sockets over the per-address
cap are refused, the run keeps going and the server keeps answering.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from panic_trio import Settings, open_panic
from tests.e2e.conftest import free_port
from tests.reliability.test_crash_restart import SECRET, wait_ready

ROOT = Path(__file__).resolve().parents[2]
SOCKETS = 1000
OPEN_AT_ONCE = 100
FILE_LIMIT = 1024
HOLD_SECONDS = 6.0


def limit_open_files() -> None:
    """In the server's process, before it starts: at most 1024 open files."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


async def upgrade(stream: trio.SocketStream, path: str) -> int:
    """Send a WebSocket handshake; the HTTP status of the answer (101: open)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await stream.send_all(request.encode())
    head = b""
    while b"\r\n" not in head:
        chunk = await stream.receive_some(4096)
        if not chunk:
            return 0
        head += chunk
    return int(head.split(b" ", 2)[1])


async def seed(settings: Settings) -> tuple[int, str]:
    async with open_panic(settings) as panic:
        owner = await panic.create_user("flood@example.org", "correct horse battery")
        net = await panic.create_network(
            owner.id, "flooded", models=["dummy-t2i", "dummy-i2t"], lockout_seconds=0
        )
        return net.id, await panic.create_api_key(owner.id, "flood test")


@pytest.mark.slow
async def test_a_thousand_sockets_from_one_address_neither_end_runs_nor_the_server(
    tmp_path: Path, settings: Settings
) -> None:
    network, key = await seed(settings)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANIC_")}
    env.update(
        PANIC_DATABASE_URL=settings.database_url, PANIC_DATA_DIR=str(settings.data_dir),
        PANIC_SECRET_KEY=SECRET, PANIC_HOST="127.0.0.1", PANIC_PORT=str(port),
        PANIC_BACKOFF="inf:0.05", PANIC_DUMMY_DELAY="0.01", PANIC_LOG_LEVEL="WARNING",
    )  # fmt: skip
    log_path = tmp_path / "serve.log"
    log = await trio.to_thread.run_sync(log_path.open, "wb")
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "panic_trio", "serve"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, preexec_fn=limit_open_files,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    accepted, refused, open_now, most_open, steps = 0, 0, 0, 0, []
    try:
        with trio.fail_after(120):
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10
            ) as http:
                await wait_ready(http)
                started = await http.post(f"/api/networks/{network}/runs", json={"prompt": "x"})
                assert started.status_code == 201, started.text
                run = started.json()["genesis"]["run_number"]
                flood_over = trio.Event()
                handshakes = trio.Semaphore(OPEN_AT_ONCE)

                async def hold_one() -> None:
                    nonlocal accepted, refused, open_now, most_open
                    await handshakes.acquire()  # a bounded number of handshakes at a time
                    try:
                        stream = await trio.open_tcp_stream("127.0.0.1", port)
                    except OSError:
                        refused += 1
                        handshakes.release()
                        return
                    async with stream:
                        status = await upgrade(stream, f"/ws/networks/{network}")
                        handshakes.release()
                        if status != 101:
                            refused += 1
                            return
                        accepted += 1
                        open_now += 1
                        most_open = max(most_open, open_now)
                        try:
                            with trio.move_on_after(HOLD_SECONDS * 3):
                                while not flood_over.is_set() and await stream.receive_some():
                                    pass  # frames, read and dropped
                        finally:
                            open_now -= 1

                async with trio.open_nursery() as flood:
                    for _ in range(SOCKETS):
                        flood.start_soon(hold_one)
                    with trio.move_on_after(HOLD_SECONDS * 2):
                        while accepted + refused < SOCKETS:
                            await trio.sleep(0.1)
                    # Held: the run goes on, and the server answers.
                    for _ in range(int(HOLD_SECONDS / 0.5)):
                        assert (await http.get("/healthz")).status_code == 200
                        status = (await http.get(f"/api/networks/{network}")).json()["status"]
                        assert status["state"] in ("invoking", "waiting"), status
                        body = (await http.get(f"/api/networks/{network}/runs/{run}")).json()
                        steps.append(sum(r["state"] == "completed" for r in body["invocations"]))
                        await trio.sleep(0.5)
                    flood_over.set()
                    flood.cancel_scope.cancel()
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
        log.close()
    print(f"{accepted} sockets accepted ({most_open} at most at once), {refused} refused;")
    print(f"completed steps while held: {steps}")
    assert accepted + refused == SOCKETS
    assert 0 < most_open <= 200  # the default PANIC_MAX_SOCKETS_PER_CLIENT
    assert refused >= SOCKETS - 200 - (accepted - most_open)
    assert steps[-1] > steps[0]  # the run kept going while the flood was held
    failed = [line for line in log_path.read_text().splitlines() if "Errno 24" in line]
    assert failed == [], failed[:3]
