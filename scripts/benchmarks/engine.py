"""Engine benchmarks: throughput, memory and loop lag (start and stop: start_stop.py).

Every figure is reported next to a limit measured in the same run on the same
machine, so the ratio means something on any hardware. Run with scripts/bench.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
from sqlalchemy import insert, select, update

from panic_trio import Panic, Settings, open_panic
from panic_trio.domain import Network
from panic_trio.platforms.base import Call, Result
from panic_trio.store.database import create_db_engine, upgrade
from panic_trio.store.schema import invocations, networks, users


@dataclasses.dataclass
class Probe:
    """A dummy text model that notes when each call begins."""

    name: str = "dummy"
    display_name: str = "Dummy"
    requires_token: bool = False
    delay: float = 0.0
    began: trio.Event = dataclasses.field(default_factory=trio.Event)
    calls: int = 0

    async def invoke(self, call: Call) -> Result:
        self.calls += 1
        self.began.set()
        await trio.sleep(self.delay)
        return Result("DUMMY_TEXT: " + call.input[::-1])


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def settings_in(folder: Path, **overrides: Any) -> Settings:
    base = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        data_dir=folder / "data",
        secret_key="benchmark secret key",
        backoff="inf:3600",
    )
    return dataclasses.replace(base, **overrides)


async def networks_of(panic: Panic, count: int, delay_models: list[str]) -> list[Network]:
    user = await panic.create_user(f"bench{time.monotonic_ns()}@example.org", "benchmark pw")
    return [
        await panic.create_network(user.id, f"n{i}", models=delay_models, lockout_seconds=0)
        for i in range(count)
    ]


async def bench_throughput(folder: Path, count: int, seconds: float) -> float:
    async with open_panic(
        settings_in(folder, backoff="inf:0"), platforms={"dummy": Probe()}
    ) as panic:
        nets = await networks_of(panic, count, ["dummy-t2t"])
        with panic.events.feed.subscribe(buffer=0) as _:
            for net in nets:
                await panic.start_run(net.id, "throughput " * 15)
            t0 = trio.current_time()
            await trio.sleep(seconds)
            await panic.stop_all()
            elapsed = trio.current_time() - t0
        completed = 0
        for net in nets:
            rows = await panic.store.recent_invocations(100_000, net.id)
            completed += sum(1 for r in rows if r.state == "completed")
    return completed / elapsed


def raw_rate(folder: Path, n: int) -> float:
    """The limit for throughput: the same rows written by SQLAlchemy Core directly, in one
    thread with no event loop, one transaction per step (complete, read the cycle, insert next)."""
    engine = create_db_engine(f"sqlite:///{folder / 'raw.db'}")
    upgrade(engine)
    from panic_trio.domain import utc_now

    with engine.begin() as conn:
        uid = conn.execute(
            insert(users)
            .values(email="r@x.org", password_hash="h", admin=False, created_at=utc_now())
            .returning(users.c.id)
        ).scalar_one()
        nid = conn.execute(
            insert(networks)
            .values(
                owner_id=uid,
                name="n",
                description="",
                models=["dummy-t2t"],
                lockout_seconds=0,
                created_at=utc_now(),
                updated_at=utc_now(),
            )
            .returning(networks.c.id)
        ).scalar_one()
        inv = conn.execute(
            insert(invocations)
            .values(
                network_id=nid,
                run_number=1,
                sequence_number=0,
                model="dummy-t2t",
                input="throughput " * 15,
                state="ready",
                metadata={},
                inserted_at=utc_now(),
                updated_at=utc_now(),
            )
            .returning(invocations.c.id)
        ).scalar_one()
    t0 = time.perf_counter()
    for seq in range(1, n + 1):
        with engine.begin() as conn:  # the engine's one write per step when there is no backoff
            conn.execute(
                update(invocations)
                .where(invocations.c.id == inv)
                .values(
                    state="completed",
                    output="DUMMY_TEXT: x" * 10,
                    metadata={"latency_ms": 0},
                    updated_at=utc_now(),
                )
                .returning(invocations)
            ).one()
            conn.execute(select(networks.c.models).where(networks.c.id == nid)).scalar_one()
            inv = (
                conn.execute(
                    insert(invocations)
                    .values(
                        network_id=nid,
                        run_number=1,
                        sequence_number=seq,
                        model="dummy-t2t",
                        input="DUMMY_TEXT: x" * 10,
                        state="invoking",
                        metadata={},
                        inserted_at=utc_now(),
                        updated_at=utc_now(),
                    )
                    .returning(invocations)
                )
                .one()
                .id
            )
    rate = n / (time.perf_counter() - t0)
    engine.dispose()
    return rate


async def sample_lags(seconds: float) -> list[float]:
    """How late a 1 ms sleep wakes, in ms, sampled for ``seconds``; sorted."""
    lags: list[float] = []
    with trio.move_on_after(seconds):
        while True:
            t0 = time.perf_counter()
            await trio.sleep(0.001)
            lags.append((time.perf_counter() - t0 - 0.001) * 1000)
    return sorted(lags)


async def bare_tasks_kib(count: int) -> float:
    """The limit for memory: a bare Trio task per network, waiting on its own channel."""
    gc.collect()
    before = rss_kib()
    async with trio.open_nursery() as nursery:
        channels = [trio.open_memory_channel[object](1) for _ in range(count)]
        for _, receive in channels:
            nursery.start_soon(receive.receive)
        await trio.sleep(0.1)
        gc.collect()
        after = rss_kib()
        nursery.cancel_scope.cancel(reason="measured")
    return (after - before) / count


async def bench_many(folder: Path, count: int, seconds: float) -> dict[str, float]:
    """Many networks alive at once with PANIC_DUMMY_DELAY=0.05, each stepping every ~5 s.

    That is ~400 writes/s for 1000 networks, inside one SQLite writer's
    capacity (see throughput_1); a faster pace queues writes without bound.
    """
    async with open_panic(settings_in(folder, backoff="inf:5", dummy_delay=0.05)) as panic:
        nets = await networks_of(panic, count, ["dummy-t2t"])
        idle = await sample_lags(2.0)
        bare_kib = await bare_tasks_kib(count)
        gc.collect()
        before = rss_kib()
        starts: list[float] = []
        for net in nets:
            t0 = trio.current_time()
            await panic.start_run(net.id, "many")
            starts.append((trio.current_time() - t0) * 1000)
        lags = await sample_lags(seconds)
        gc.collect()
        after = rss_kib()
        active = sum(1 for net in nets if panic.status(net.id).active)
        await panic.stop_all()
    return {
        "networks_active": active,
        "start_run_ms_median": statistics.median(starts),
        "start_run_ms_max": max(starts),
        "rss_per_network_kib": (after - before) / count,
        "bare_task_kib": bare_kib,
        "loop_lag_p50_ms": lags[len(lags) // 2],
        "loop_lag_p99_ms": lags[int(len(lags) * 0.99)],
        "idle_loop_lag_p99_ms": idle[int(len(idle) * 0.99)],
    }


def run(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def stage(name: str, fn: Callable[[Path], Any]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            results[name] = fn(Path(folder))
        print(f"{name}: {json.dumps(results[name], indent=None)}", file=sys.stderr)

    # Memory first: later stages would leave freed-but-held arenas in the RSS.
    stage("many_1000", lambda f: trio.run(bench_many, f, 1000, 5.0 if quick else 10.0))
    seconds = 2.0 if quick else 5.0
    stage("throughput_1", lambda f: trio.run(bench_throughput, f, 1, seconds))
    stage("throughput_100", lambda f: trio.run(bench_throughput, f, 100, seconds))
    stage("raw_sqlalchemy", lambda f: raw_rate(f, 1000 if quick else 3000))
    raw = results["raw_sqlalchemy"]
    results["throughput_ratio_1"] = results["throughput_1"] / raw
    results["throughput_ratio_100"] = results["throughput_100"] / raw
    many = results["many_1000"]
    many["rss_ratio_to_bare_task"] = many["rss_per_network_kib"] / many["bare_task_kib"]
    many["loop_lag_p99_ratio_to_idle"] = many["loop_lag_p99_ms"] / many["idle_loop_lag_p99_ms"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
