"""Fan-out with the server, the viewers and a bare broadcast each in its own process.

The app: ``panic-trio serve`` (SQLite, ``PANIC_DUMMY_DELAY=0.05``,
``PANIC_BACKOFF=inf:0.2``, one ``dummy-t2t`` network, lockout 0) in its own
process; 500 or 1,000 viewers on ``/ws/networks/<id>`` in another. A
viewer's latency for a step is its ``completed`` invocation frame's arrival
(wall clock) minus the row's ``updated_at``. The limit, in the same run: a
bare trio-websocket server in its own process (a bounded queue and a sender
task per connection, lossy, as the app has) sending the same number of
frames per step, of the app's median frame size, at the app's pace, to the
same viewers' code; its ``completed`` frame carries the time it was made.

Also: frames and bytes per step per viewer, and the serve process's memory
per idle viewer (RSS with the viewers connected, minus without, over their
number). ``--profile`` runs the serve process under pyinstrument;
``--probe DIR`` records, per round, its GC pauses, loop lag and long task
steps beside each step's first and last arrival (``FANOUT_UNSETTLED=1``
with it: the serve process without ``settle_heap``, as before that change).

    .venv/bin/python scripts/benchmarks/fanout.py [--viewers 500 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "benchmark secret key, long enough"
BUFFER = 64  # the app's per-socket event buffer (events.broadcast.DEFAULT_BUFFER)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# The viewers' process -------------------------------------------------------


async def viewers(url: str, count: int, seconds: float) -> None:
    """``count`` clients; prints "ready" once all are connected, then results after ``seconds``."""
    latencies: list[float] = []
    frames = 0
    size = 0
    sizes: list[int] = []
    completed = 0
    connected = 0
    steps: dict[str, list[float]] = {}  # a step's stamp: first and last arrival, count
    ready = trio.Event()
    handshakes = trio.Semaphore(50)  # a listen backlog of 100 drops a thousand SYNs at once

    async def client() -> None:
        await handshakes.acquire()
        waiting = True
        try:
            async with open_websocket_url(url, message_queue_size=64, connect_timeout=120) as ws:
                handshakes.release()
                waiting = False
                await watch(ws)
        except ConnectionClosed:
            pass
        finally:
            if waiting:
                handshakes.release()

    async def watch(ws: WebSocketConnection) -> None:
        nonlocal frames, size, completed, connected
        connected += 1
        if connected == count:
            ready.set()
        while True:
            text = await ws.get_message()
            arrived = time.time()
            if not ready.is_set():
                continue
            frames += 1
            size += len(text)
            if len(sizes) < 20_000:
                sizes.append(len(text))
            message = json.loads(text)
            invocation = message.get("invocation")
            if message["type"] == "invocation" and invocation["state"] == "completed":
                completed += 1
                stamp = datetime.fromisoformat(invocation["updated_at"]).timestamp()
                latencies.append(arrived - stamp)
                spread = steps.setdefault(invocation["updated_at"], [arrived, arrived, 0])
                spread[0] = min(spread[0], arrived)
                spread[1] = max(spread[1], arrived)
                spread[2] += 1

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(client)
        with trio.fail_after(120):
            await ready.wait()
        print("ready", flush=True)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel(reason="measured")
    result = {
        "latencies": latencies,
        "frames": frames,
        "bytes": size,
        "completed": completed,
        "median_frame": statistics.median(sizes) if sizes else 0,
        "steps": steps,
    }
    print(json.dumps(result), flush=True)


# The bare server's process --------------------------------------------------


async def bare(port: int, count: int, per_step: int, frame_size: int, step: float) -> None:
    """Once ``count`` clients are connected, ``per_step`` frames every ``step`` seconds."""
    queues: list[trio.MemorySendChannel[str]] = []
    all_in = trio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        send, receive = trio.open_memory_channel[str](BUFFER)
        queues.append(send)
        if len(queues) == count:
            all_in.set()
        with contextlib.suppress(ConnectionClosed):
            async for text in receive:
                await ws.send_message(text)

    def frame(completed: bool) -> str:
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        state = "completed" if completed else "invoking"
        text = json.dumps(
            {"type": "invocation", "invocation": {"state": state, "updated_at": stamp, "p": ""}}
        )
        pad = max(0, frame_size - len(text))
        return text.replace('"p": ""', '"p": "' + "x" * pad + '"')

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve_websocket, handler, "127.0.0.1", port, ssl_context=None))
        await all_in.wait()
        began = trio.current_time()
        n = 0
        while True:
            for i in range(per_step):
                text = frame(i == per_step - 1)
                for queue in queues:
                    with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError):
                        queue.send_nowait(text)
            n += 1
            await trio.sleep_until(began + n * step)


# The serve process, probed (--probe) -----------------------------------------


def probed_serve(out: Path) -> int:
    """``panic-trio serve`` with its GC pauses, loop lag and long task steps recorded in ``out``.

    Wall-clock times, so they line up with the rows' ``updated_at`` and the
    viewers' arrivals.
    """
    import gc

    from panic_trio.cli import main as cli

    pauses: list[tuple[float, float, int, int]] = []  # began, ms, generation, collected
    lags: list[tuple[float, float]] = []  # woke, ms late (a 1 ms sleep)
    long_steps: list[tuple[float, float, str]] = []  # began, ms, task (steps over 2 ms)
    began = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[:] = [time.time(), time.perf_counter()]
        else:
            ms = (time.perf_counter() - began[1]) * 1000
            pauses.append((began[0], ms, info["generation"], info["collected"]))

    class Steps(trio.abc.Instrument):
        started = 0.0

        def before_task_step(self, task: trio.lowlevel.Task) -> None:
            self.started = time.perf_counter()

        def after_task_step(self, task: trio.lowlevel.Task) -> None:
            ms = (time.perf_counter() - self.started) * 1000
            if ms > 2:
                long_steps.append((time.time() - ms / 1000, ms, task.name))

    original = trio.run

    def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def probed() -> Any:
            async with trio.open_nursery() as nursery:

                async def lag() -> None:
                    while True:
                        before = trio.current_time()
                        await trio.sleep(0.001)
                        late = trio.current_time() - before - 0.001
                        lags.append((time.time(), late * 1000))

                nursery.start_soon(lag)
                result = await fn(*args)
                nursery.cancel_scope.cancel()
            return result

        return original(probed, instruments=[Steps()], **kwargs)

    if os.environ.get("FANOUT_UNSETTLED"):  # as before the heap was settled
        from panic_trio.cli import serve

        serve.settle_heap = lambda: None
    gc.callbacks.append(on_gc)
    trio.run = run  # type: ignore[assignment]
    try:
        return cli(["serve"])
    finally:
        heap = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
        out.write_text(
            json.dumps({"gc": pauses, "lags": lags, "long_steps": long_steps, "heap": heap})
        )


# The orchestra --------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seed(folder: Path) -> tuple[dict[str, str], int, str]:
    from panic_trio import Settings, open_panic

    env = {
        "PANIC_DATABASE_URL": f"sqlite:///{folder / 'panic.db'}",
        "PANIC_DATA_DIR": str(folder / "data"),
        "PANIC_SECRET_KEY": SECRET,
        "PANIC_DUMMY_DELAY": "0.05",
        "PANIC_BACKOFF": "inf:0.2",
        "PANIC_LOG_LEVEL": "WARNING",
        "PANIC_MAX_SOCKETS_PER_CLIENT": "10000",
        "PANIC_MAX_REQUESTS_PER_CLIENT": "10000",
    }
    settings = Settings.from_env(env)
    async with open_panic(settings, runs=False) as panic:
        owner = await panic.create_user("fanout@example.org", "benchmark password")
        net = await panic.create_network(
            owner.id, "fanout", models=["dummy-t2t"], lockout_seconds=0
        )
        key = await panic.create_api_key(owner.id, "benchmark")
    return env, net.id, key


async def read_line(process: trio.Process) -> str:
    assert process.stdout is not None
    data = b""
    while not data.endswith(b"\n"):
        chunk = await process.stdout.receive_some(1 << 20)
        if not chunk:
            raise RuntimeError(f"process ended early: {data[-500:]!r}")
        data += chunk
    return data.decode()


async def viewers_process(url: str, count: int, seconds: float) -> trio.Process:
    return await trio.lowlevel.open_process(
        [sys.executable, __file__, "viewers", url, str(count), str(seconds)],
        stdout=subprocess.PIPE,
    )


async def read_results(process: trio.Process) -> dict[str, Any]:
    text = ""
    while True:
        text += await read_line(process)
        with contextlib.suppress(ValueError):
            result: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
            return result


async def app_round(
    count: int,
    seconds: float,
    profile: Path | None,
    query: str = "?v=2",
    probe: Path | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env, network, key = await seed(folder)
        port = free_port()
        env |= {"PANIC_HOST": "127.0.0.1", "PANIC_PORT": str(port)}
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PANIC_")} | env
        command = [sys.executable, "-m", "panic_trio", "serve"]
        if profile is not None:
            command[1:1] = ["-m", "pyinstrument", "-r", "text", "-o", str(profile)]
        if probe is not None:
            command = [sys.executable, __file__, "serve-probed", str(probe)]
        server = await trio.lowlevel.open_process(command, env=full_env, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as http:
                with trio.fail_after(60):
                    while True:
                        with contextlib.suppress(httpx.TransportError):
                            if (await http.get("/healthz")).status_code == 200:
                                break
                        await trio.sleep(0.1)
                await trio.sleep(1)
                idle = rss_kib(server.pid)
                watching = await viewers_process(
                    f"ws://127.0.0.1:{port}/ws/networks/{network}{query}", count, seconds
                )
                assert (await read_line(watching)).strip() == "ready"
                await trio.sleep(1)
                with_viewers = rss_kib(server.pid)
                started = await http.post(f"/api/networks/{network}/runs", json={"prompt": "go"})
                assert started.status_code == 201, started.text
                result = await read_results(watching)
                await http.delete(f"/api/networks/{network}/runs/current")
                await watching.wait()
        finally:
            server.terminate()
            with trio.move_on_after(60):
                await server.wait()
            server.kill()
    result["kib_per_idle_viewer"] = (with_viewers - idle) / count
    if probe is not None:
        add_steps(probe, result["steps"])
    return result


def add_steps(probe: Path, steps: dict[str, list[float]]) -> None:
    """The viewers' arrivals per step, beside the serve process's probe."""
    probe.write_text(json.dumps(json.loads(probe.read_text()) | {"steps": steps}))


async def bare_round(
    count: int, seconds: float, per_step: int, size: int, step: float
) -> dict[str, Any]:
    port = free_port()
    server = await trio.lowlevel.open_process(
        [
            sys.executable,
            __file__,
            "bare",
            str(port),
            str(count),
            str(per_step),
            str(size),
            str(step),
        ]
    )
    try:
        await trio.sleep(1.5)
        watching = await viewers_process(f"ws://127.0.0.1:{port}/", count, seconds)
        assert (await read_line(watching)).strip() == "ready"
        result = await read_results(watching)
        await watching.wait()
    finally:
        server.kill()
        await server.wait()
    return result


def probe_summary(path: Path) -> dict[str, Any]:
    """While the run stepped: full collections (count, longest), all GC time, loop lag p99."""
    probe = json.loads(path.read_text())
    stamps = sorted(datetime.fromisoformat(k).timestamp() for k in probe["steps"])
    first, last = stamps[0], stamps[-1]
    pauses = [p for p in probe["gc"] if first <= p[0] <= last]
    full = [p[1] for p in pauses if p[2] == 2]
    lags = [lag[1] for lag in probe["lags"] if first <= lag[0] <= last]
    return {
        "full_gcs": len(full),
        "longest_full_gc_ms": round(max(full, default=0), 1),
        "gc_ms_per_s": round(sum(p[1] for p in pauses) / max(last - first, 1e-9), 1),
        "loop_lag_p99_ms": round(percentile(lags, 0.99), 1) if lags else None,
    }


def summary(result: dict[str, Any], count: int, seconds: float) -> dict[str, Any]:
    steps = result["completed"] / count
    return {
        "p50_ms": round(percentile(result["latencies"], 0.5) * 1000, 1),
        "p99_ms": round(percentile(result["latencies"], 0.99) * 1000, 1),
        "steps": round(steps, 1),
        "frames_per_step": round(result["frames"] / count / max(steps, 1), 2),
        "bytes_per_step": round(result["bytes"] / count / max(steps, 1)),
        "median_frame": result["median_frame"],
    }


async def measure(
    counts: list[int], rounds: int, seconds: float, profile: Path | None, probe: Path | None
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for count in counts:
        ratios: list[tuple[float, float]] = []
        runs = []
        for number in range(rounds):
            probed = None if probe is None else probe / f"probe-{count}-{number + 1}.json"
            app = await app_round(count, seconds, profile if number == 0 else None, probe=probed)
            shown = summary(app, count, seconds)
            shown["kib_per_idle_viewer"] = round(app["kib_per_idle_viewer"], 1)
            if probed is not None:
                shown |= probe_summary(probed)
            step = seconds / max(app["completed"] / count, 1)
            per_step = max(1, round(app["frames"] / max(app["completed"], 1)))
            plain = summary(
                await bare_round(count, seconds, per_step, int(app["median_frame"]), step),
                count,
                seconds,
            )
            ratio = (shown["p50_ms"] / plain["p50_ms"], shown["p99_ms"] / plain["p99_ms"])
            ratios.append(ratio)
            runs.append(
                {
                    "app": shown,
                    "bare": plain,
                    "p50_ratio": round(ratio[0], 2),
                    "p99_ratio": round(ratio[1], 2),
                }
            )
            print(f"{count} viewers, round {number + 1}: {json.dumps(runs[-1])}", file=sys.stderr)
        results[str(count)] = {
            "rounds": runs,
            "median_p50_ratio": round(statistics.median(r[0] for r in ratios), 2),
            "median_p99_ratio": round(statistics.median(r[1] for r in ratios), 2),
        }
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "viewers":
        trio.run(viewers, sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "bare":
        port, count, per_step, size = (int(v) for v in sys.argv[2:6])
        trio.run(bare, port, count, per_step, size, float(sys.argv[6]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "serve-probed":
        sys.exit(probed_serve(Path(sys.argv[2])))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--viewers", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="one round of 5 s")
    parser.add_argument(
        "--profile", type=Path, help="pyinstrument text report of the first round's server"
    )
    parser.add_argument(
        "--probe",
        type=Path,
        help="a folder: the serve process's GC pauses, loop lag and long task steps, per round",
    )
    args = parser.parse_args()
    rounds, seconds = (1, 5.0) if args.quick else (args.rounds, args.seconds)
    results = trio.run(measure, args.viewers, rounds, seconds, args.profile, args.probe)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
