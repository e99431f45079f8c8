"""Web benchmark: a crowd of prompts during a lockout.

200 concurrent clients posting prompts to one network in lockout: request
latency p99 against the same clients fetching ``/healthz``, and the runs
started per lockout window (exactly one). The server and its clients share
this process and its cores, so both sides of the ratio pay the same client
cost. (Fan-out is measured with the server, the viewers and a bare
broadcast each in its own process: ``fanout.py``.) Run with scripts/bench.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from hypercorn.trio import serve

from panic_trio import Panic, Settings, open_panic
from panic_trio.app import hypercorn_config
from panic_trio.web import create_app
from panic_trio.web.state import EXTENSION

SECRET = "benchmark secret key, long enough"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def settings_in(folder: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        data_dir=folder / "data",
        secret_key=SECRET,
        # Every simulated browser is on loopback: one address, so no per-address caps.
        max_sockets_per_client=100_000,
        max_requests_per_client=100_000,
        **overrides,
    )


async def serve_app(
    nursery: trio.Nursery, panic: Panic, settings: Settings, **options: Any
) -> tuple[str, trio.Event]:
    """The app under Hypercorn on 127.0.0.1; set the event to stop it."""
    app = create_app(panic, settings, secret_key=SECRET, **options)
    config = hypercorn_config(settings)
    config.bind = ["127.0.0.1:0"]
    config.errorlog = None
    config.graceful_timeout = 1.0
    config.backlog = 2048
    stop = trio.Event()
    urls: list[str] = await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
    return urls[0], stop


async def prompt_crowd(folder: Path, count: int, seconds: float) -> dict[str, float]:
    """``count`` clients prompting one network with a 2 s lockout, then fetching /healthz."""
    lockout = 2
    settings = settings_in(folder, backoff="inf:0.05", dummy_delay=0.01)
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        url, stop_serving = await serve_app(
            nursery, panic, settings, prompt_limit=(10**9, 1.0)
        )  # one address for every client here: lift the per-client limit
        owner = await panic.create_user("crowd@example.org", "benchmark password")
        net = await panic.create_network(
            owner.id, "crowd", models=["dummy-t2t"], lockout_seconds=lockout
        )
        issuer = create_app(panic, settings, secret_key=SECRET).extensions[EXTENSION].tokens
        token = issuer.issue(net.id)
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

            async def crowd(
                path: str, body: dict[str, str] | None
            ) -> tuple[list[float], dict[int, int]]:
                latencies: list[float] = []
                statuses: dict[int, int] = {}

                async def client() -> None:
                    deadline = trio.current_time() + seconds
                    while trio.current_time() < deadline:
                        t0 = trio.current_time()
                        if body is None:
                            answer = await http.get(path)
                        else:
                            answer = await http.post(path, params={"token": token}, json=body)
                        latencies.append(trio.current_time() - t0)
                        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

                async with trio.open_nursery() as clients:
                    for _ in range(count):
                        clients.start_soon(client)
                return latencies, statuses

            began = trio.current_time()
            prompts, statuses = await crowd(f"/api/networks/{net.id}/runs", {"prompt": "hi"})
            took = trio.current_time() - began
            health, _ = await crowd("/healthz", None)
        await panic.stop_run(net.id)
        runs = sum(1 for r in await panic.recent_invocations(100_000) if r.sequence_number == 0)
        stop_serving.set()
        nursery.cancel_scope.cancel(reason="measured")
    return {
        "requests": len(prompts),
        "statuses": statuses,  # type: ignore[dict-item]
        "runs_started": runs,
        "lockout_windows": took / lockout,
        "prompt_p99_ms": percentile(prompts, 0.99) * 1000,
        "healthz_p99_ms": percentile(health, 0.99) * 1000,
        "prompt_p99_ratio_to_healthz": percentile(prompts, 0.99) / percentile(health, 0.99),
    }


def run(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["prompts_200"] = trio.run(prompt_crowd, Path(folder), 200, 4.0 if quick else 10.0)
    print(f"prompts_200: {json.dumps(results['prompts_200'])}", file=sys.stderr)
    windows = results["prompts_200"]["lockout_windows"]
    results["prompts_200"]["one_run_per_window"] = (
        math.floor(windows) <= results["prompts_200"]["runs_started"] <= math.ceil(windows)
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter stages")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
