"""Real ``serve`` processes on one fresh PostgreSQL database, and the fake provider they call.

Tests here need PT_TEST_POSTGRES_URL (scripts/test starts a cluster). Each
node is ``python -m tests.nodes.node`` on its own port with its own
``PANIC_NODE_NAME``; its stderr goes to a file the test can read.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trio

from panic_trio import Settings, open_panic
from panic_trio.domain import Invocation
from panic_trio.store import leases
from panic_trio.store.store import Store, open_store
from tests.e2e.conftest import free_port
from tests.fakes.calls import CallLog

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-nodes-test-secret-key-long-enough"
PASSWORD = "correct horse battery"
LEASE = 5.0  # PANIC_LEASE_SECONDS for every node here (shorter starves on two busy cores)
CALL_SECONDS = 0.2  # how long the fake provider takes per call

pytestmark = pytest.mark.postgres


@dataclass
class Node:
    """One serve process."""

    name: str
    url: str
    process: trio.Process
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    """The database, the fake provider and the nodes started so far."""

    database_url: str
    calls: CallLog
    folder: Path
    store: Store
    network_id: int = 0
    api_key: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url, data_dir=self.folder / "data", secret_key=SECRET
        )

    async def start(self, name: str) -> Node:
        """Start a node and wait until it answers (migrations, recovery done)."""
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PANIC_")},
            "PANIC_DATABASE_URL": self.database_url,
            "PANIC_DATA_DIR": str(self.folder / "data"),
            "PANIC_SECRET_KEY": SECRET,
            "PANIC_NODE_NAME": name,
            "PANIC_PORT": str(port),
            "PANIC_LEASE_SECONDS": str(LEASE),
            "PANIC_BACKOFF": "inf:0",
            "PANIC_SHUTDOWN_TIMEOUT": "5",
            **self.extra_env,
        }
        log = self.folder / f"{name}.log"
        with log.open("ab") as stderr:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "tests.nodes.node", self.calls.url],
                cwd=ROOT, env=env, stderr=stderr, stdout=stderr,
            )  # fmt: skip
        node = Node(name, f"http://127.0.0.1:{port}", process, log)
        self.nodes[name] = node
        with trio.fail_after(60):
            async with httpx.AsyncClient() as http:
                while True:
                    if process.poll() == -signal.SIGKILL:
                        return node  # killed while starting (it had taken a network already)
                    assert process.poll() is None, node.stderr()
                    try:
                        if (await http.get(f"{node.url}/healthz")).status_code == 200:
                            return node
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.1)

    def signal(self, name: str, signum: int) -> None:
        self.nodes[name].process.send_signal(signum)

    async def owner(self) -> str | None:
        """The node whose lease on the network is live, from the database."""
        found = await self.store.read(leases.holder, self.network_id)
        return None if found is None else found.owner

    async def rows(self) -> list[Invocation]:
        """The network's latest run, by sequence number."""
        [last] = await self.store.recent_invocations(1, self.network_id)
        return await self.store.list_run(self.network_id, last.run_number)

    async def network_of_rows(self) -> dict[int, int]:
        recent = await self.store.recent_invocations(100_000)
        return {row.id: row.network_id for row in recent}

    def api(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.nodes[name].url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    calls = CallLog(CALL_SECONDS)
    async with trio.open_nursery() as nursery:
        await calls.start(nursery)
        async with (
            open_store(postgres_url) as store,
            open_panic(
                Settings(database_url=postgres_url, data_dir=tmp_path / "data", secret_key=SECRET),
                runs=False,
            ) as panic,
        ):
            found = Cluster(postgres_url, calls, tmp_path, store)
            owner = await panic.create_user("nodes@example.org", PASSWORD)
            network = await panic.create_network(
                owner.id, "nodes", models=["dummy-t2t"], lockout_seconds=60
            )
            found.network_id = network.id
            found.api_key = await panic.create_api_key(owner.id, "nodes")
            try:
                yield found
            finally:
                for node in found.nodes.values():
                    if node.process.poll() is None:
                        node.process.send_signal(signal.SIGKILL)
                        await node.process.wait()
                calls.stop()
