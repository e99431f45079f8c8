"""``app.serve`` on a real socket: start-up, shutdown order, signals, demo, media."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import warnings
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from panic_trio import app
from panic_trio.errors import ConfigError
from panic_trio.panic import open_panic
from panic_trio.settings import Settings
from tests.e2e.conftest import PASSWORD, live_settings, open_ws

TIMEOUT = 20.0


async def seed(settings: Settings) -> tuple[int, str]:
    """An owner with an API key and a dummy network; returns (network id, key)."""
    async with open_panic(settings) as panic:
        owner = await panic.create_user("owner@example.org", PASSWORD)
        network = await panic.create_network(owner.id, "Loop", models=["dummy-t2i", "dummy-i2t"])
        return network.id, await panic.create_api_key(owner.id, "e2e")


async def drain(ws: WebSocketConnection) -> None:
    """Read until the connection closes."""
    while True:
        await ws.get_message()


async def test_serve_reports_its_urls_and_stops_on_the_trigger(settings: Settings) -> None:
    with trio.fail_after(TIMEOUT):
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(app.serve, settings, shutdown_trigger=stop.wait))
            assert urls == [f"http://127.0.0.1:{settings.port}"]
            async with httpx.AsyncClient(base_url=urls[0]) as http:
                response = await http.get("/healthz")
                assert response.json() == {"status": "ok"}
                assert (await http.get("/")).status_code == 200
            stop.set()
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as http:
                await http.get(f"{urls[0]}/healthz")


async def test_shutdown_says_1001_to_websockets_at_once(settings: Settings) -> None:
    network_id, _ = await seed(settings)
    with trio.fail_after(TIMEOUT):
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(app.serve, settings, shutdown_trigger=stop.wait))
            ws_url = urls[0].replace("http", "ws") + f"/ws/networks/{network_id}"
            async with open_ws(ws_url) as ws:
                assert '"type":"status"' in await ws.get_message()
                stop.set()
                began = trio.current_time()
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                took = trio.current_time() - began
            assert closed.value.reason is not None
            assert closed.value.reason.code == 1001
            assert took < 1.0  # not Hypercorn's 3 s graceful drop (1006)


async def test_sigterm_shuts_down_gracefully_and_runs_resume_unfailed(
    settings: Settings,
) -> None:
    network_id, key = await seed(settings)
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(app.serve, settings)
            async with httpx.AsyncClient(base_url=urls[0]) as http:
                response = await http.post(
                    f"/api/networks/{network_id}/runs",
                    json={"prompt": "survive a restart"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert response.status_code == 201
                run_number = response.json()["genesis"]["run_number"]
            ws_url = urls[0].replace("http", "ws") + f"/ws/networks/{network_id}"
            async with open_ws(ws_url) as ws:
                while '"state":"waiting"' not in await ws.get_message():
                    pass  # the genesis completed; the run waits for its next step
                os.kill(os.getpid(), signal.SIGTERM)
                with pytest.raises(ConnectionClosed) as closed:
                    await drain(ws)
            assert closed.value.reason is not None
            assert closed.value.reason.code == 1001
    quiet = dataclasses.replace(settings, resume_runs=True)
    async with open_panic(quiet) as panic:
        run = await panic.list_run(network_id, run_number)
    assert [i.state for i in run] == ["completed", "ready"]
    assert all("cancelled" not in i.metadata for i in run)


async def test_dummy_and_archived_media_are_served(settings: Settings) -> None:
    network_id, key = await seed(settings)
    with trio.fail_after(TIMEOUT):
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(app.serve, settings, shutdown_trigger=stop.wait))
            ws_url = urls[0].replace("http", "ws") + f"/ws/networks/{network_id}"
            async with (
                open_ws(ws_url) as ws,
                httpx.AsyncClient(base_url=urls[0]) as http,
            ):
                await ws.get_message()
                started = await http.post(
                    f"/api/networks/{network_id}/runs",
                    json={"prompt": "a picture"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert started.status_code == 201
                output = ""
                while not output:
                    message = json.loads(await ws.get_message())
                    if message["type"] == "invocation":
                        output = message["invocation"]["output"] or ""
                assert output.startswith(f"{urls[0]}/dummy/")
                image = await http.get(output)
                assert image.status_code == 200
                assert image.content.startswith(b"\x89PNG")
                assert "immutable" in image.headers["Cache-Control"]
                archived = ""
                while not archived:  # the archiver converts it and rewrites the URL
                    message = json.loads(await ws.get_message())
                    if (
                        message["type"] == "archived"
                        and message["invocation"]["sequence_number"] == 0
                    ):
                        archived = message["invocation"]["output"]
                assert archived.startswith(f"{urls[0]}/archive/")
                webp = await http.get(archived)
                assert webp.status_code == 200
                assert webp.content[8:12] == b"WEBP"
            stop.set()


async def test_demo_seeds_an_empty_database_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = live_settings(tmp_path)
    with trio.fail_after(TIMEOUT):
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(
                partial(app.serve, settings, demo=True, shutdown_trigger=stop.wait)
            )
            printed = capsys.readouterr().out
            password = re.search(r"password:\s+(\S+)", printed)
            assert password, printed
            for path in ("/sign-in", "/networks/1", "/networks/1/terminal?token=", "/admin"):
                assert urls[0] + path in printed
            async with httpx.AsyncClient(base_url=urls[0]) as http:
                form = (await http.get("/sign-in")).text
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
                assert csrf
                signed = await http.post(
                    "/sign-in",
                    data={
                        "email": app.DEMO_EMAIL,
                        "password": password.group(1),
                        "csrf_token": csrf.group(1),
                    },
                )
                assert signed.status_code == 303
                panel = await http.get("/networks/1")
                assert "Dummy Text-to-Image" in panel.text
                assert "Dummy Image-to-Text" in panel.text
            stop.set()
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(app.serve, settings, demo=True, shutdown_trigger=stop.wait))
            assert "password" not in capsys.readouterr().out
            stop.set()


async def test_a_port_in_use_is_a_config_error(settings: Settings) -> None:
    with trio.fail_after(TIMEOUT), socket.socket() as blocker:
        blocker.bind((settings.host, settings.port))
        blocker.listen()
        with pytest.RaisesGroup(ConfigError, flatten_subgroups=True) as raised:
            await app.serve(settings, shutdown_trigger=trio.sleep_forever)
        assert "Address already in use" in repr(raised.value)
        with warnings.catch_warnings():
            # Hypercorn does not close the socket it failed to bind, and the
            # traceback keeps it alive: let it go quietly.
            warnings.simplefilter("ignore", ResourceWarning)
            del raised
            gc.collect()


async def test_the_cli_serves_the_demo_and_stops_on_sigint(tmp_path: Path) -> None:
    settings = live_settings(tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PANIC_")},
        "PANIC_DATABASE_URL": settings.database_url,
        "PANIC_DATA_DIR": str(settings.data_dir),
        "PANIC_SECRET_KEY": "a-cli-test-secret-key-long-enough",
    }
    command = [sys.executable, "-m", "panic_trio", "serve", "--demo", "--port", str(settings.port)]
    run = partial(
        trio.run_process, command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(run)
            assert process.stdout is not None
            printed = b""
            while b"admin:" not in printed:
                chunk = await process.stdout.receive_some()
                assert chunk, printed
                printed += chunk
            base = f"http://127.0.0.1:{settings.port}"
            assert f"{base}/sign-in".encode() in printed
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{base}/healthz")).json() == {"status": "ok"}
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 0


async def test_serve_exports_metrics_and_backs_up_while_serving(settings: Settings) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    token = "metrics-token-0123456789abcdef"
    settings = dataclasses.replace(
        settings, metrics_token=token, backup_every=0.3, backup_keep=2, backoff="inf:0.05"
    )
    network_id, key = await seed(settings)
    with trio.fail_after(TIMEOUT):
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(app.serve, settings, shutdown_trigger=stop.wait))
            async with httpx.AsyncClient(base_url=urls[0]) as http:
                assert (await http.get("/metrics")).status_code == 401
                started = await http.post(
                    f"/api/networks/{network_id}/runs",
                    json={"prompt": "a red balloon"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert started.status_code == 201
                completed = 0.0
                while completed < 3:
                    await trio.sleep(0.05)
                    scraped = await http.get(
                        "/metrics", headers={"Authorization": f"Bearer {token}"}
                    )
                    assert scraped.status_code == 200
                    completed = sum(
                        sample.value
                        for family in text_string_to_metric_families(scraped.text)
                        for sample in family.samples
                        if sample.name == "panic_invocations_total"
                        and sample.labels["state"] == "completed"
                    )
                written = 0.0
                while written < 2:  # and the backups, counted on /metrics
                    await trio.sleep(0.05)
                    scraped = await http.get(
                        "/metrics", headers={"Authorization": f"Bearer {token}"}
                    )
                    written = sum(
                        sample.value
                        for family in text_string_to_metric_families(scraped.text)
                        for sample in family.samples
                        if sample.name == "panic_backups_total"
                        and sample.labels["outcome"] == "written"
                    )
                assert "panic_backup_last_success_timestamp_seconds" in scraped.text
            folder = trio.Path(settings.backups_folder)
            assert len(list(await folder.glob("panic-*.db"))) == 2  # PANIC_BACKUP_KEEP
            stop.set()


async def test_sigint_with_50_sockets_open_stops_runs_at_once_and_exits_within_2_s(
    tmp_path: Path,
) -> None:
    settings = live_settings(tmp_path, backoff="inf:0", dummy_delay=0.1)
    network_id, key = await seed(settings)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PANIC_")},
        "PANIC_DATABASE_URL": settings.database_url,
        "PANIC_DATA_DIR": str(settings.data_dir),
        "PANIC_SECRET_KEY": "a-cli-test-secret-key-long-enough",
        "PANIC_BACKOFF": "inf:0",
        "PANIC_DUMMY_DELAY": "0.1",
    }
    command = [sys.executable, "-m", "panic_trio", "serve", "--port", str(settings.port)]
    run = partial(
        trio.run_process, command, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    base = f"http://127.0.0.1:{settings.port}"
    closed: list[int | None] = []

    async def viewer(task_status: trio.TaskStatus[None]) -> None:
        async with open_ws(base.replace("http", "ws") + f"/ws/networks/{network_id}") as ws:
            await ws.get_message()
            task_status.started()
            try:
                await drain(ws)
            except ConnectionClosed as exc:
                closed.append(exc.reason.code if exc.reason else None)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(run)
            async with httpx.AsyncClient(base_url=base) as http:
                while True:
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await trio.sleep(0.1)
                started = await http.post(
                    f"/api/networks/{network_id}/runs",
                    json={"prompt": "keep stepping"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert started.status_code == 201
                run_number = started.json()["genesis"]["run_number"]
            async with trio.open_nursery() as viewers, httpx.AsyncClient(base_url=base) as idle:
                for _ in range(50):
                    await viewers.start(viewer)
                # a browser also keeps idle HTTP connections open (keep-alive)
                assert (await idle.get("/healthz")).status_code == 200
                await trio.sleep(1.0)  # the run steps every 0.1 s meanwhile
                process.send_signal(signal.SIGINT)
                signalled = trio.current_time()
                signalled_at = datetime.now(UTC)
                assert await process.wait() == 0
                took = trio.current_time() - signalled
    async with open_panic(settings, runs=False) as panic:  # read, don't resume the run
        rows = await panic.list_run(network_id, run_number)
    assert took < 2.0, f"exit took {took:.2f} s"
    assert closed == [1001] * 50
    assert len(rows) >= 5
    assert rows[-1].state == "ready"  # released for resume, not failed
    assert all(r.state == "completed" for r in rows[:-1])
    # at most the step in flight (0.1 s) finishes; no step starts after the signal
    late = [r for r in rows if (r.inserted_at - signalled_at).total_seconds() > 0.3]
    assert late == []
    print(f"exit {took:.2f} s after SIGINT with 50 sockets; {len(rows)} rows")


async def test_serve_loads_the_secret_key_once_for_the_web_and_the_cipher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated into the data folder on first use, read by one call, handed to both."""
    from panic_trio.security import tokens

    loads: list[Path] = []
    load = tokens.load_secret_key

    def counting(configured: str | None, data_dir: Path) -> str:
        loads.append(data_dir)
        return load(configured, data_dir)

    monkeypatch.setattr(tokens, "load_secret_key", counting)
    monkeypatch.setattr(app, "load_secret_key", counting, raising=False)  # a second import
    settings = live_settings(tmp_path, secret_key=None)
    with trio.fail_after(TIMEOUT):
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(app.serve, settings, shutdown_trigger=stop.wait))
            async with httpx.AsyncClient(base_url=urls[0]) as http:
                assert (await http.get("/sign-in")).status_code == 200
            stop.set()
    assert loads == [settings.data_dir]
    assert (settings.data_dir / tokens.SECRET_KEY_FILE).exists()
