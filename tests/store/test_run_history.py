"""Run history on SQLite and PostgreSQL: endings, counts, cost, keyset pages, shares."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy
import trio

from panic_trio.domain import utc_now
from panic_trio.runs import RunMethods, summary_of
from panic_trio.store import invocations, runs, schema
from panic_trio.store.store import Store, open_store

MODELS = ["dummy-t2t", "dummy-t2i", "dummy-i2t"]


async def network(store: Store, email: str = "h@example.org") -> int:
    user = await store.create_user(email, "hash", False)
    return (await store.create_network(user.id, "n", "", MODELS, 30)).id


async def run(store: Store, net: int, prompt: str, steps: int, **costs: Any) -> int:
    """A run with ``steps`` completed steps and a ``ready`` next one; returns its number."""
    genesis = await store.create_genesis(net, "dummy-t2t", prompt)
    current = genesis
    for step in range(steps):
        metadata = {"cost": {"amount": costs["amount"], "currency": "USD"}} if costs else {}
        if costs.get("unknown_at") == step:
            metadata = {"cost": {"amount": None, "currency": "USD", "basis": "no price"}}
        if current.state == "ready":
            current = await store.set_invoking(current.id)
        _, current = await store.complete_and_prepare_next(current.id, f"out {step}", metadata)
    return genesis.run_number


async def summaries(store: Store, net: int, before: int | None = None, limit: int = 20) -> Any:
    return [summary_of(r) for r in await store.read(runs.history, net, before, limit)]


async def test_three_runs_stopped_failed_running_show_their_ending_and_counts(
    database_url: str,
) -> None:
    with trio.fail_after(30):
        async with open_store(database_url) as store:
            net = await network(store)
            stopped = await run(store, net, "first", 3)
            last = (await store.list_run(net, stopped))[-1]
            await store.fail(last.id, {"cancelled": True, "error": "cancelled: stopped"})
            failed = await run(store, net, "second", 2)
            last = (await store.list_run(net, failed))[-1]
            await store.set_invoking(last.id)
            await store.fail(last.id, {"error": "OpenAI said no (HTTP 400)"})
            running = await run(store, net, "third", 4)

            page = await summaries(store, net)
            assert [(s.run_number, s.prompt, s.steps, s.ending, s.reason) for s in page] == [
                (running, "third", 4, "running", None),
                (failed, "second", 2, "failed", "OpenAI said no (HTTP 400)"),
                (stopped, "first", 3, "stopped", None),
            ]
            assert page[0].ended_at is None
            assert page[1].ended_at is not None
            assert page[1].ended_at >= page[1].started_at
            assert [s.last_sequence_number for s in page] == [4, 2, 3]


async def test_a_replaced_run_and_an_interrupted_one_say_so(database_url: str) -> None:
    with trio.fail_after(30):
        async with open_store(database_url) as store:
            net = await network(store)
            replaced = await run(store, net, "old", 1)
            last = (await store.list_run(net, replaced))[-1]
            await store.fail(
                last.id, {"cancelled": True, "error": "cancelled: replaced by a new run"}
            )
            interrupted = await run(store, net, "cut", 1)
            last = (await store.list_run(net, interrupted))[-1]
            await store.fail(last.id, {"error": "interrupted"})
            page = await summaries(store, net)
            assert [(s.ending, s.reason) for s in page] == [
                ("interrupted", None),
                ("replaced", None),
            ]


async def test_cost_is_the_sum_only_when_every_step_is_priced(database_url: str) -> None:
    with trio.fail_after(30):
        async with open_store(database_url) as store:
            net = await network(store)
            priced = await run(store, net, "priced", 4, amount=0.25)
            unpriced = await run(store, net, "one unknown", 3, amount=0.5, unknown_at=1)
            free_of_metadata = await run(store, net, "no cost recorded", 2)
            by_run = {s.run_number: s.cost_usd for s in await summaries(store, net)}
            assert by_run == {priced: 1.0, unpriced: None, free_of_metadata: None}


async def test_pages_are_stable_while_new_runs_arrive(database_url: str) -> None:
    with trio.fail_after(60):
        async with open_store(database_url) as store:
            net = await network(store)
            other = await network(store, "other@example.org")
            numbers = []
            for i in range(7):
                numbers.append(await run(store, net, f"run {i}", 1))
                await run(store, other, f"elsewhere {i}", 1)  # never listed
            first = await summaries(store, net, limit=3)
            assert [s.run_number for s in first] == numbers[::-1][:3]
            # Two runs start between reading page one and page two.
            await run(store, net, "new a", 1)
            await run(store, net, "new b", 0)
            second = await summaries(store, net, before=first[-1].run_number, limit=3)
            third = await summaries(store, net, before=second[-1].run_number, limit=3)
            assert [s.run_number for s in second] == numbers[::-1][3:6]
            assert [s.run_number for s in third] == numbers[:1]
            assert await summaries(store, net, before=third[-1].run_number) == []


async def test_a_share_has_one_nonce_and_goes_with_its_network(database_url: str) -> None:
    with trio.fail_after(30):
        async with open_store(database_url) as store:
            net = await network(store)
            number = await run(store, net, "shared", 1)
            now = utc_now()
            await store.write(runs.put_share, net, number, "first-nonce", now)
            await store.write(runs.put_share, net, number, "second-nonce", now)
            assert await store.read(runs.share_nonce, net, number) == "second-nonce"
            assert await store.read(runs.share_nonce, net + 1, number) is None
            assert await store.write(runs.delete_share, net, number) is True
            assert await store.write(runs.delete_share, net, number) is False
            await store.write(runs.put_share, net, number, "third-nonce", now)
            await store.delete_network(net)
            with store.engine.connect() as conn:
                left = conn.execute(sqlalchemy.text("SELECT count(*) FROM run_shares")).scalar()
            assert left == 0


@contextmanager
def database_time(store: Store) -> Iterator[list[float]]:
    """Seconds spent inside the database driver, statement by statement."""
    spent: list[float] = []
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, *_: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, *_: Any) -> None:
        spent.append(time.perf_counter() - started.pop(id(cursor)))

    sqlalchemy.event.listen(store.engine, "before_cursor_execute", before)
    sqlalchemy.event.listen(store.engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        sqlalchemy.event.remove(store.engine, "before_cursor_execute", before)
        sqlalchemy.event.remove(store.engine, "after_cursor_execute", after)


def _fill(conn: sqlalchemy.Connection, net: int, runs_count: int, steps: int) -> None:
    """``runs_count`` stopped runs of ``steps`` invocations, as the engine leaves them.

    The genesis is the engine's own insert (its id is the run number); the
    other rows go in one executemany per run, or 100,000 rows would take
    minutes of single-row writes.
    """
    now = utc_now()
    priced = {"cost": {"amount": 0.001, "currency": "USD"}, "latency_ms": 3}
    for r in range(runs_count):
        genesis = invocations.insert_genesis(conn, net, "dummy-t2t", f"prompt {r}", now)
        conn.execute(
            sqlalchemy.update(schema.invocations)
            .where(schema.invocations.c.id == genesis.id)
            .values(state="completed", output="output 0", metadata=priced)
        )
        rows = [
            {
                "network_id": net,
                "run_number": genesis.run_number,
                "sequence_number": step,
                "model": MODELS[step % len(MODELS)],
                "input": f"output {step - 1}",
                "output": None if step == steps - 1 else f"output {step}",
                "state": "failed" if step == steps - 1 else "completed",
                "metadata": {"cancelled": True, "error": "cancelled: stopped"}
                if step == steps - 1
                else priced,
                "inserted_at": now,
                "updated_at": now,
            }
            for step in range(1, steps)
        ]
        conn.execute(sqlalchemy.insert(schema.invocations), rows)


class History(RunMethods):
    """The embedding API's run history over a bare store."""

    def __init__(self, store: Store) -> None:
        self.store = store


async def test_ended_runs_are_kept_and_a_running_one_is_always_read_live(
    database_url: str,
) -> None:
    with trio.fail_after(30):
        async with open_store(database_url) as store:
            net = await network(store)
            ended = await run(store, net, "ended", 2, amount=0.5)
            last = (await store.list_run(net, ended))[-1]
            await store.fail(last.id, {"cancelled": True, "error": "cancelled: stopped"})
            running = await run(store, net, "running", 1, amount=0.5)
            history = History(store)
            cold = await history.run_history(net)
            with store.engine.connect() as conn:
                kept = conn.execute(sqlalchemy.select(schema.run_totals.c.run_number)).scalars()
                assert list(kept) == [ended]
            assert await history.run_history(net) == cold  # the kept totals say the same
            current = (await store.list_run(net, running))[-1]
            current = await store.set_invoking(current.id)
            await store.complete_and_prepare_next(current.id, "more", {"cost": {"amount": 0.5}})
            grown = await history.run_history(net)
            assert [(s.steps, s.cost_usd) for s in grown] == [(2, 1.0), (2, 1.0)]
            assert grown[0].ending == "running"


@pytest.mark.parametrize(("runs_count", "steps"), [(1000, 100), (20, 5000)])
async def test_first_page_of_100000_invocations_takes_under_50_ms_of_database_time(
    database_url: str, runs_count: int, steps: int
) -> None:
    with trio.fail_after(600):
        async with open_store(database_url) as store:
            net = await network(store)
            for chunk in range(0, runs_count, 50):
                await store.write(_fill, net, min(50, runs_count - chunk), steps)
            if store.engine.dialect.name == "postgresql":
                with store.engine.connect() as conn:
                    conn.execute(sqlalchemy.text("ANALYZE"))
            history = History(store)
            with database_time(store) as spent:
                cold = await history.run_history(net)  # aggregates the page's runs, keeps them
            first = sum(spent)
            timings = []
            for _ in range(5):
                with database_time(store) as spent:
                    page = await history.run_history(net)
                timings.append(sum(spent))
            print(
                f"\n{store.engine.dialect.name} {runs_count} runs x {steps} steps: first page "
                f"{first * 1000:.1f} ms of database time the first time, then "
                f"{min(timings) * 1000:.1f}-{max(timings) * 1000:.1f} ms"
            )
            assert page == cold
            assert len(page) == 20
            assert (page[0].steps, page[0].ending) == (steps - 1, "stopped")
            assert page[0].cost_usd == pytest.approx(0.001 * (steps - 1))
            assert max(timings) < 0.050
            if steps <= 100:  # short runs: even the first listing is cheap
                assert first < 0.050
