"""SQLite runs in one process: a second ``serve`` or ``run`` is refused, naming the first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import httpx
import trio

from tests.e2e.conftest import live_settings


def _env(settings_url: str, data_dir: Path, node: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PANIC_")},
        "PANIC_DATABASE_URL": settings_url,
        "PANIC_DATA_DIR": str(data_dir),
        "PANIC_SECRET_KEY": "a-cli-test-secret-key-long-enough",
        "PANIC_NODE_NAME": node,
    }


async def test_a_second_process_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    settings = live_settings(tmp_path)
    first_env = _env(settings.database_url, settings.data_dir, "first-node")
    second_env = _env(settings.database_url, settings.data_dir, "second-node")
    cli = [sys.executable, "-m", "panic_trio"]
    serve = [*cli, "serve", "--demo", "--port", str(settings.port)]
    run = partial(
        trio.run_process, serve, env=first_env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(run)
            assert process.stdout is not None
            printed = b""
            while b"admin:" not in printed:
                chunk = await process.stdout.receive_some()
                assert chunk, printed
                printed += chunk

            other_port = str(settings.port + 1)
            for command in ([*cli, "serve", "--port", other_port], [*cli, "run", "1", "hello"]):
                second = await trio.run_process(
                    command, env=second_env, capture_stdout=True, capture_stderr=True, check=False
                )
                assert second.returncode == 1
                lines = second.stderr.decode().strip().splitlines()
                assert len(lines) == 1, lines
                assert lines[0].startswith("panic-trio: error: ")
                assert "already run by another process (first-node, pid" in lines[0]

            # Editing the database while it runs is still fine: it starts no run.
            add = await trio.run_process(
                [*cli, "user", "add", "late@example.org", "--password-stdin"],
                env=second_env, stdin=b"correct horse battery\n", capture_stdout=True,
                capture_stderr=True, check=False,
            )  # fmt: skip
            assert add.returncode == 0, add.stderr
            async with httpx.AsyncClient() as http:
                health = await http.get(f"http://127.0.0.1:{settings.port}/healthz")
                assert health.json() == {"status": "ok"}
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 0
