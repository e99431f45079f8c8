"""A child process for restart tests: runs a network and reports each step.

Usage: python -m tests.engine.restart_child DATABASE_URL DATA_DIR
Prints ``network <id>`` once, then ``completed <seq> <id>`` per completed step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from panic_trio import Settings, open_panic


async def main(database_url: str, data_dir: str) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=Path(data_dir),
        secret_key="restart test secret key",
        backoff="inf:0",
        dummy_delay=0.2,
    )
    async with open_panic(settings) as panic:
        user = await panic.create_user("restart@example.org", "correct horse battery")
        net = await panic.create_network(user.id, "restart", models=["dummy-t2t", "dummy-t2t"])
        print(f"network {net.id}", flush=True)
        async with panic.watch(net.id) as events:
            await panic.start_run(net.id, "survive the crash")
            async for event in events:
                inv = event.invocation
                if event.kind == "invocation" and inv is not None and inv.state == "completed":
                    print(f"completed {inv.sequence_number} {inv.id}", flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
