"""Several processes on one PostgreSQL: what crossing processes costs, and what it gains.

Real ``python -m panic_trio serve`` processes on a fresh database of the
PostgreSQL at PT_BENCH_POSTGRES_URL (or PT_TEST_POSTGRES_URL); skipped
without one. Figures, each against its same-process limit in the same run:

- event delivery (write of a completed step → a viewer's WebSocket), p50 and
  p99, viewer on the owning process against a viewer on another process;
- prompt → 201 (the genesis written, its call starting), median, sent to the
  owner against sent to another process (forwarded over NOTIFY);
- steps per second of 200 networks with instant dummy models on 1, 2 and 3
  processes (prompts spread over the processes, so each runs about a third),
  with the networks per process, the leases lost (``lease not renewed`` in
  the processes' logs) and the networks that changed owner;
- failover: SIGKILL the owner ten times, time until another process writes
  the run's next row, median and max, against the lease time.
Run with scripts/bench; the processes and this client share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
import trio
from trio_websocket import open_websocket_url

from panic_trio import Settings, open_panic

SECRET = "benchmark secret key, long enough"
PASSWORD = "correct horse battery"
KEYS = 60


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def fresh_database(server: str) -> str:
    name = f"panic_bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + "/" + name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Cluster:
    def __init__(self, url: str, folder: Path, **env: str) -> None:
        self.url = url
        self.folder = folder
        self.env = env
        self.nodes: dict[str, tuple[trio.Process, str]] = {}
        self.keys: list[str] = []
        self.logs: list[Path] = []
        self._turn = 0

    async def seed(self, networks: int, models: list[str]) -> list[int]:
        settings = Settings(database_url=self.url, data_dir=self.folder / "data", secret_key=SECRET)
        async with open_panic(settings, runs=False) as panic:
            owner = await panic.create_user(f"{uuid.uuid4().hex[:6]}@bench.org", PASSWORD)
            self.keys.append(await panic.create_api_key(owner.id, "bench"))
            # The API takes 5 prompts per 15 s per caller and process: admins share the load.
            for _ in range(KEYS - 1):
                admin = await panic.create_user(
                    f"{uuid.uuid4().hex[:6]}@bench.org", PASSWORD, admin=True
                )
                self.keys.append(await panic.create_api_key(admin.id, "bench"))
            ids = []
            for i in range(networks):
                net = await panic.create_network(
                    owner.id, f"n{i}", models=models, lockout_seconds=1
                )
                ids.append(net.id)
            return ids

    async def start(self, name: str) -> str:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PANIC_")},
            "PANIC_DATABASE_URL": self.url,
            "PANIC_DATA_DIR": str(self.folder / "data"),
            "PANIC_SECRET_KEY": SECRET,
            "PANIC_NODE_NAME": name,
            "PANIC_PORT": str(port),
            "PANIC_LOG_LEVEL": "WARNING",
            "PANIC_MAX_REQUESTS_PER_CLIENT": "100000",
            "PANIC_MAX_SOCKETS_PER_CLIENT": "100000",
            **self.env,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / f"{name}.log"
        with log.open("ab") as stderr:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "panic_trio", "serve"], env=env, stderr=stderr,
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        self.nodes[name] = (process, base)
        self.logs.append(log)
        async with httpx.AsyncClient() as http:
            with trio.fail_after(120):
                while True:
                    try:
                        if (await http.get(f"{base}/healthz")).status_code == 200:
                            return base
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.1)

    async def stop(self) -> None:
        for process, _ in self.nodes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                await process.wait()

    def count_in_logs(self, text: str) -> int:
        """How many lines of the processes' logs say ``text``."""
        return sum(log.read_text(errors="replace").count(text) for log in self.logs)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        engine = sqlalchemy.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(sqlalchemy.text(sql), params or {}).all()
        finally:
            engine.dispose()

    def headers(self) -> dict[str, str]:
        """The next caller's credentials, in turn."""
        self._turn += 1
        return {"Authorization": f"Bearer {self.keys[self._turn % len(self.keys)]}"}


async def prompt(
    http: httpx.AsyncClient, base: str, network: int, headers: dict[str, str], replace: bool = False
) -> httpx.Response:
    suffix = "?replace=true" if replace else ""
    return await http.post(
        f"{base}/api/networks/{network}/runs{suffix}", json={"prompt": "bench"}, headers=headers
    )


async def events_and_prompts(server: str, folder: Path, seconds: float) -> None:
    cluster = Cluster(fresh_database(server), folder / "ev", PANIC_BACKOFF="inf:0.02")
    try:
        [net] = await cluster.seed(1, ["dummy-t2t"])
        a = await cluster.start("a")
        b = await cluster.start("b")
        latencies: dict[str, list[float]] = {"owner": [], "other": []}

        async def view(label: str, base: str, task_status: trio.TaskStatus[None]) -> None:
            url = base.replace("http", "ws") + f"/ws/networks/{net}"
            async with open_websocket_url(url) as ws:
                await ws.get_message()
                task_status.started()
                while True:
                    message = json.loads(await ws.get_message())
                    invocation = message.get("invocation")
                    if message["type"] == "invocation" and invocation["state"] == "completed":
                        written = datetime.fromisoformat(invocation["updated_at"])
                        latencies[label].append(
                            (datetime.now(UTC) - written).total_seconds() * 1000
                        )

        async with httpx.AsyncClient(timeout=30) as http, trio.open_nursery() as nursery:
            await nursery.start(view, "owner", b)
            await nursery.start(view, "other", a)
            assert (await prompt(http, b, net, cluster.headers())).status_code == 201
            await trio.sleep(seconds)
            nursery.cancel_scope.cancel()
        for label, values in latencies.items():
            print(
                f"event delivery, viewer on the {label} process: {len(values)} events, "
                f"p50 {percentile(values, 0.5):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"
            )
        timings: dict[str, list[float]] = {"owner": [], "other": []}
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(20):
                for label, base in (("owner", b), ("other", a)):
                    began = trio.current_time()
                    response = await prompt(http, base, net, cluster.headers(), replace=True)
                    assert response.status_code == 201, response.text
                    timings[label].append((trio.current_time() - began) * 1000)
        for label, values in timings.items():
            print(
                f"prompt → 201 sent to the {label} process: "
                f"median {statistics.median(values):.1f} ms, max {max(values):.1f} ms"
            )
    finally:
        await cluster.stop()


async def throughput(server: str, folder: Path, processes: int, seconds: float) -> None:
    cluster = Cluster(fresh_database(server), folder / f"tp{processes}", PANIC_BACKOFF="inf:0")
    try:
        nets = await cluster.seed(200, ["dummy-t2t"])
        bases = [await cluster.start(f"p{i}") for i in range(processes)]
        async with httpx.AsyncClient(timeout=60) as http:
            for i, net in enumerate(nets):
                response = await prompt(http, bases[i % processes], net, cluster.headers())
                assert response.status_code == 201, response.text
        await trio.sleep(2)  # warm up
        count = "SELECT count(*) FROM invocations WHERE state = 'completed'"
        before = (await trio.to_thread.run_sync(cluster.query, count))[0][0]
        began = trio.current_time()
        await trio.sleep(seconds)
        after = (await trio.to_thread.run_sync(cluster.query, count))[0][0]
        rate = (after - before) / (trio.current_time() - began)
        owners = await trio.to_thread.run_sync(
            cluster.query, "SELECT owner, count(*) FROM runner_leases GROUP BY owner ORDER BY owner"
        )
        dupes = await trio.to_thread.run_sync(
            cluster.query,
            "SELECT count(*) FROM (SELECT network_id, run_number, sequence_number FROM invocations"
            " GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
        )
        moved = await trio.to_thread.run_sync(
            cluster.query, "SELECT count(*) FROM runner_leases WHERE epoch > 1"
        )
        print(
            f"200 networks on {processes} process(es): {rate:.0f} steps/s; networks per process "
            f"{dict((o, c) for o, c in owners)}; duplicated steps {dupes[0][0]}; leases lost "
            f"{cluster.count_in_logs('lease not renewed')}; networks that changed owner "
            f"{moved[0][0]}; slow renewal rounds {cluster.count_in_logs('lease renewal slow')}"
        )
    finally:
        await cluster.stop()


async def failover(server: str, folder: Path, kills: int, lease: float) -> None:
    cluster = Cluster(
        fresh_database(server),
        folder / "fo",
        PANIC_BACKOFF="inf:0",
        PANIC_DUMMY_DELAY="0.2",
        PANIC_LEASE_SECONDS=str(lease),
    )
    try:
        [net] = await cluster.seed(1, ["dummy-t2t"])
        names = iter(f"k{i}" for i in range(100))
        for _ in range(3):
            await cluster.start(next(names))
        async with httpx.AsyncClient(timeout=30) as http:
            first = next(iter(cluster.nodes.values()))[1]
            assert (await prompt(http, first, net, cluster.headers())).status_code == 201
        times = []
        for _ in range(kills):
            await trio.sleep(1.0)
            [(owner,)] = await trio.to_thread.run_sync(
                cluster.query, "SELECT owner FROM runner_leases WHERE network_id = :n", {"n": net}
            )
            process = cluster.nodes[owner][0]
            killed = datetime.now(UTC)
            began = trio.current_time()
            process.send_signal(signal.SIGKILL)
            await process.wait()
            while True:
                rows = await trio.to_thread.run_sync(
                    cluster.query,
                    "SELECT count(*) FROM invocations WHERE network_id = :n AND "
                    "state = 'completed' AND updated_at > :t",
                    {"n": net, "t": killed},
                )
                if rows[0][0] > 0:
                    break
                await trio.sleep(0.05)
            times.append(trio.current_time() - began - 0.2)  # less the step's own 0.2 s call
            await cluster.start(next(names))
        print(
            f"failover over {kills} kills (lease {lease:g} s): "
            f"median {statistics.median(times):.2f} s, max {max(times):.2f} s"
        )
    finally:
        await cluster.stop()


async def main(quick: bool) -> None:
    server = os.environ.get("PT_BENCH_POSTGRES_URL") or os.environ.get("PT_TEST_POSTGRES_URL")
    if not server:
        print("nodes: skipped (set PT_BENCH_POSTGRES_URL to a PostgreSQL server)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        await events_and_prompts(server, folder, 3.0 if quick else 8.0)
        for processes in (1, 2, 3):
            await throughput(server, folder, processes, 3.0 if quick else 8.0)
        await failover(server, folder, 10, 3.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    trio.run(main, parser.parse_args().quick)
