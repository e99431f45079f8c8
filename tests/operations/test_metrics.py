"""Metrics: parsed with prometheus_client's own parser; counters move by exactly the steps run."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

from panic_trio import Panic, open_panic
from panic_trio.domain import Event, Invocation, InvocationState, RunnerStatus, utc_now
from panic_trio.operations import Metrics
from tests.operations.conftest import GUARD, ops_settings, until
from tests.runs import completed_at_least, start_and_wait

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: Metrics) -> Samples:
    """Every sample, as Prometheus would read the exposition."""
    found: Samples = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def counted(samples: Samples, state: str) -> float:
    return value(
        samples, "panic_invocations_total", model="dummy-t2t", platform="dummy", state=state
    )


async def test_counters_move_by_exactly_the_steps_run(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    settings = ops_settings(tmp_path, backoff="inf:10")
    async with open_panic(settings, inline=True) as panic, trio.open_nursery() as nursery:
        metrics = Metrics(panic)
        await nursery.start(metrics.run)
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        net = await panic.create_network(owner.id, "words", models=["dummy-t2t"])
        genesis, _ = await start_and_wait(panic, net.id, "hello", completed_at_least(2))
        await trio.testing.wait_all_tasks_blocked()
        before = scrape(metrics)
        async with panic.watch(net.id) as events:
            async for event in events:
                row = event.invocation
                if row is not None and row.state == "completed" and row.sequence_number == 4:
                    break
        await trio.testing.wait_all_tasks_blocked()
        after = scrape(metrics)
        rows = await panic.list_run(net.id, genesis.run_number)
        assert await panic.stop_run(net.id)
        await trio.testing.wait_all_tasks_blocked()
        stopped = scrape(metrics)
        nursery.cancel_scope.cancel()

    assert counted(before, "completed") == 3  # steps 0, 1, 2
    assert counted(after, "completed") - counted(before, "completed") == 2
    assert counted(after, "completed") == sum(r.state == "completed" for r in rows) == 5
    assert counted(after, "invoking") == 5  # the next row waits, ready, for its backoff
    assert counted(after, "failed") == 0
    histogram = {"model": "dummy-t2t", "platform": "dummy"}
    assert value(after, "panic_provider_call_seconds_count", **histogram) == 5
    assert value(after, "panic_active_runs") == 1
    # A stop fails the waiting row (cancelled): counted as failed, but not an error.
    assert counted(stopped, "failed") == 1
    assert not [key for key in stopped if key[0] == "panic_errors_total"]
    assert value(stopped, "panic_active_runs") == 0
    assert value(stopped, "panic_metrics_events_dropped_total") == 0


def row(
    row_id: int, state: InvocationState, metadata: Mapping[str, Any], model: str = "gpt-5-chat"
) -> Event:
    now = utc_now()
    invocation = Invocation(row_id, 3, 1, row_id, model, "x", "y", state, metadata, now, now)
    return Event("invocation", invocation, RunnerStatus())


async def test_spend_errors_retries_and_latency_come_from_the_rows_metadata(panic: Panic) -> None:
    metrics = Metrics(panic)
    cost = {"amount": 0.02, "currency": "USD", "basis": "40 input + 12 output tokens"}
    events = [
        row(1, "completed", {"latency_ms": 1500, "attempts": 3, "cost": cost}),
        row(1, "completed", {"latency_ms": 1500, "attempts": 3, "cost": cost}),  # again: once
        row(2, "completed", {"latency_ms": 200, "attempts": 1, "cost": cost}),
        row(3, "completed", {"latency_ms": 100, "cost": {"amount": None, "currency": "USD"}}),
        row(4, "failed", {"error": "OpenAI rejected the request (401)", "error_kind": "auth"}),
        row(5, "failed", {"error": "cap", "cap": {"scope": "network-day", "limit": 0.05}}),
        row(6, "failed", {"error": "cancelled: stopped", "cancelled": True}),
        row(7, "failed", {"error": "interrupted"}),
        Event("archived", None, RunnerStatus()),
    ]
    for event in events:
        metrics.observe(event)
    samples = scrape(metrics)
    openai = {"model": "gpt-5-chat", "platform": "openai"}
    spend = value(samples, "panic_spend_usd_total", network="3", **openai)
    assert spend == pytest.approx(0.04, abs=1e-12)
    assert value(samples, "panic_provider_retries_total", **openai) == 2
    assert value(samples, "panic_provider_call_seconds_count", **openai) == 3
    assert value(samples, "panic_provider_call_seconds_bucket", le="0.25", **openai) == 2
    assert value(samples, "panic_provider_call_seconds_bucket", le="1.0", **openai) == 2
    assert value(samples, "panic_provider_call_seconds_bucket", le="2.5", **openai) == 3
    errors = {k[1]: v for k, v in samples.items() if k[0] == "panic_errors_total"}
    assert errors == {
        frozenset({("kind", "auth"), ("platform", "openai")}): 1,
        frozenset({("kind", "cap"), ("platform", "openai")}): 1,
        frozenset({("kind", "other"), ("platform", "openai")}): 1,
    }
    assert value(samples, "panic_invocations_total", state="completed", **openai) == 3
    assert value(samples, "panic_invocations_total", state="failed", **openai) == 4


async def test_archive_failures_and_queue_depth_are_read_at_scrape_time(
    panic: Panic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("panic_trio.archive.archiver.RETRY_DELAYS_SECONDS", ())
    metrics = Metrics(panic)
    assert panic.archive is not None
    owner = await panic.create_user("owner@example.org", "correct horse battery")
    net = await panic.create_network(owner.id, "pictures", models=["dummy-t2i", "dummy-i2t"])
    assert value(scrape(metrics), "panic_archive_failures_total") == 0
    assert ("panic_archive_queue_depth", frozenset()) in scrape(metrics)
    with trio.fail_after(GUARD):
        genesis = await panic.store.create_genesis(net.id, "dummy-t2i", "a prompt")
        done, _ = await panic.store.complete_and_prepare_next(
            genesis.id, "http://127.0.0.1:9/gone.png", {}
        )
        assert await panic.archive.archive(done) is None
    assert value(scrape(metrics), "panic_archive_failures_total") == 1


async def test_event_loop_lag_is_measured(panic: Panic) -> None:
    metrics = Metrics(panic)
    async with trio.open_nursery() as nursery:
        await nursery.start(metrics.run)
        await trio.sleep(0.1)
        time.sleep(1.3)  # noqa: ASYNC251 (blocking the loop on purpose: that is the lag)
        with trio.fail_after(GUARD):
            await until(lambda: value(scrape(metrics), "panic_event_loop_lag_seconds") > 0.2)
        nursery.cancel_scope.cancel()
    assert value(scrape(metrics), "panic_event_loop_lag_distribution_seconds_count") >= 1


async def test_one_process_loses_no_messages_between_processes(panic: Panic) -> None:
    assert value(scrape(Metrics(panic)), "panic_node_messages_dropped_total") == 0


async def test_messages_not_carried_to_other_processes_are_counted(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = ops_settings(tmp_path, database_url=postgres_url)
    async with open_panic(settings) as several:
        status = RunnerStatus()
        for _ in range(6000):  # no checkpoint: the forwarder cannot drain its queue meanwhile
            several.events.publish(1, Event(kind="status", invocation=None, status=status))
        dropped = several.dropped_between_processes()
        assert 6000 - 4097 <= dropped <= 6000 - 4096  # the queue's 4,096, and one taken at once
        assert value(scrape(Metrics(several)), "panic_node_messages_dropped_total") == dropped
