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
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import trio

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent / "peers"  # the other processes' programs
SECRET = "benchmark secret key, long enough"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


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
        [sys.executable, str(PEERS / "viewers.py"), url, str(count), str(seconds)],
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
            command = [sys.executable, str(PEERS / "probed_serve.py"), str(probe)]
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
            str(PEERS / "bare.py"),
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
