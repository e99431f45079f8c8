"""Start and stop latency against one raw database write, with where the time goes.

The limit (issue 14): one row inserted by SQLAlchemy Core through a worker
thread (``trio.to_thread.run_sync`` with a ``CapacityLimiter``), SQLite in
WAL mode with ``synchronous=NORMAL``, median of 10. Against it, in the same
run: a prompt until the model's first call begins, and a stop with a call in
flight until ``stop_run`` returns (the row marked failed). On a shared
machine the load moves from one moment to the next, so each round takes one
raw write, one start and one stop, and the ratios use the raw write's median
over every round (the median of the first 10 is reported beside it). ``--breakdown``
also times the store's calls on those paths (wall time of each ``await``,
and the part spent inside the worker thread) to show where the rest goes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trio
from sqlalchemy import Engine, insert

from panic_trio import Settings, open_panic
from panic_trio.domain import utc_now
from panic_trio.platforms.base import Call, Result
from panic_trio.store.database import create_db_engine, upgrade
from panic_trio.store.schema import invocations, networks, users
from panic_trio.store.store import Store

LIMIT_SAMPLES = 10


@dataclasses.dataclass
class Probe:
    """A text model that notes when its call begins and then waits (a call in flight)."""

    name: str = "dummy"
    display_name: str = "Dummy"
    requires_token: bool = False
    began: trio.Event = dataclasses.field(default_factory=trio.Event)
    began_at: float = 0.0

    async def invoke(self, call: Call) -> Result:
        self.began_at = time.perf_counter()
        self.began.set()
        await trio.sleep(3600)
        return Result("never")


def _raw_setup(engine: Engine) -> int:
    now = utc_now()
    with engine.begin() as conn:
        uid = conn.execute(
            insert(users)
            .values(email="r@x.org", password_hash="h", admin=False, created_at=now)
            .returning(users.c.id)
        ).scalar_one()
        return int(
            conn.execute(
                insert(networks)
                .values(
                    owner_id=uid,
                    name="n",
                    description="",
                    models=["dummy-t2t"],
                    lockout_seconds=0,
                    created_at=now,
                    updated_at=now,
                )
                .returning(networks.c.id)
            ).scalar_one()
        )


def _raw_insert(engine: Engine, network_id: int, run_number: int) -> None:
    now = utc_now()
    with engine.begin() as conn:
        conn.execute(
            insert(invocations).values(
                network_id=network_id,
                run_number=run_number,
                sequence_number=0,
                model="dummy-t2t",
                input="how fast",
                state="invoking",
                metadata={},
                inserted_at=now,
                updated_at=now,
            )
        )


class RawWrite:
    """The limit: one Core insert through a worker thread with a CapacityLimiter."""

    def __init__(self, folder: Path) -> None:
        self.engine = create_db_engine(f"sqlite:///{folder / 'raw.db'}")  # WAL, NORMAL
        upgrade(self.engine)
        self.network_id = _raw_setup(self.engine)
        self.limiter = trio.CapacityLimiter(1)
        self.runs = 0

    async def sample_ms(self) -> float:
        self.runs += 1
        t0 = time.perf_counter()
        await trio.to_thread.run_sync(
            _raw_insert, self.engine, self.network_id, self.runs, limiter=self.limiter
        )
        return (time.perf_counter() - t0) * 1000


class Timings:
    """Wall time of the store's awaited calls and of their transactions in the thread."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.on = False
        self.entered = self.left = 0.0  # the last transaction's (calls here are sequential)

    @contextmanager
    def installed(self) -> Iterator[None]:
        saved = {name: getattr(Store, name) for name in ("write", "read", "_transaction")}
        timings = self

        async def write(store: Store, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await saved["write"](store, fn, *args, **kw)
            finally:
                timings.add(f"await write {fn.__name__}", t0)
                timings.add(f"  hop into thread {fn.__name__}", t0, timings.entered)
                timings.add(f"  hop back {fn.__name__}", timings.left)

        async def read(store: Store, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await saved["read"](store, fn, *args, **kw)
            finally:
                timings.add(f"await read {fn.__name__}", t0)

        def transaction(store: Store, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
            t0 = timings.entered = time.perf_counter()
            try:
                return saved["_transaction"](store, fn, *args, **kw)
            finally:
                timings.add(f"  in thread {fn.__name__}", t0)
                timings.left = time.perf_counter()

        for name, fn in (("write", write), ("read", read), ("_transaction", transaction)):
            setattr(Store, name, fn)
        try:
            yield
        finally:
            for name, fn in saved.items():
                setattr(Store, name, fn)

    def add(self, name: str, t0: float, t1: float | None = None) -> None:
        if self.on:
            end = time.perf_counter() if t1 is None else t1
            self.samples[name].append((end - t0) * 1000)

    def medians(self) -> dict[str, float]:
        return {k: round(statistics.median(v), 3) for k, v in sorted(self.samples.items())}


async def start_stop(folder: Path, n: int, timings: Timings | None) -> dict[str, float]:
    """Each round: one raw write, one start, one stop (so all three meet the same load)."""
    probe = Probe()
    raw = RawWrite(folder)
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        data_dir=folder / "data",
        secret_key="benchmark secret key",
        backoff="inf:3600",
    )
    async with open_panic(settings, platforms={"dummy": probe}) as panic:
        user = await panic.create_user("bench@example.org", "benchmark pw")
        net = await panic.create_network(user.id, "n", models=["dummy-t2t"], lockout_seconds=0)
        raw_ms, start_ms, stop_ms = [], [], []
        for i in range(n + 5):
            warm = i >= 5  # warm-up: first runner, first statements compiled
            written = await raw.sample_ms()
            probe.began = trio.Event()
            if timings is not None:
                timings.on = warm
            t0 = time.perf_counter()
            await panic.start_run(net.id, "how fast")
            await probe.began.wait()
            started = (probe.began_at - t0) * 1000
            t1 = time.perf_counter()
            assert await panic.stop_run(net.id)
            stopped = (time.perf_counter() - t1) * 1000
            if warm:
                raw_ms.append(written)
                start_ms.append(started)
                stop_ms.append(stopped)
    raw.engine.dispose()
    return {
        "raw_10": statistics.median(raw_ms[:LIMIT_SAMPLES]),
        "raw": statistics.median(raw_ms),
        "start": statistics.median(start_ms),
        "stop": statistics.median(stop_ms),
    }


def run(n: int, breakdown: bool) -> dict[str, Any]:
    timings = Timings() if breakdown else None
    with tempfile.TemporaryDirectory() as folder:
        if timings is None:
            measured = trio.run(start_stop, Path(folder), n, None)
        else:
            with timings.installed():
                measured = trio.run(start_stop, Path(folder), n, timings)
    limit = measured["raw"]
    result: dict[str, Any] = {
        "raw_insert_ms_median_of_first_10": round(measured["raw_10"], 3),
        "raw_insert_ms_median": round(limit, 3),
        "start_to_call_ms_median": round(measured["start"], 3),
        "start_ratio": round(measured["start"] / limit, 2),
        "stop_in_flight_ms_median": round(measured["stop"], 3),
        "stop_ratio": round(measured["stop"] / limit, 2),
    }
    if timings is not None:
        result["breakdown_ms_median"] = timings.medians()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 samples instead of 200")
    parser.add_argument("--breakdown", action="store_true", help="time the store's calls too")
    args = parser.parse_args()
    result = run(50 if args.quick else 200, args.breakdown)
    print(json.dumps(result, indent=2))
    print(f"start_stop: {json.dumps(result)}", file=sys.stderr)


if __name__ == "__main__":
    main()
