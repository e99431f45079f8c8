"""Prometheus metrics, counted from the engine's global event feed.

:class:`Metrics` owns its own ``CollectorRegistry`` (never the process-wide
default, so several apps in one process do not mix). Counters move when an
invocation event arrives; gauges that describe *now* (active runs, viewers,
the archive queue) are read at scrape time, so they cannot drift. The feed is
lossy by design; events this subscriber lost are counted in
``panic_metrics_events_dropped_total`` rather than hidden.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import trio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from panic_trio.domain import Event, Invocation
from panic_trio.events import Subscription
from panic_trio.models import find_model
from panic_trio.operations.backups import Backups
from panic_trio.panic import Panic

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
FEED_BUFFER: Final = 1024
LAG_INTERVAL_SECONDS: Final = 1.0
LATENCY_BUCKETS: Final = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
LAG_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)
COUNTED_STATES: Final = ("invoking", "completed", "failed")
_SEEN: Final = 4096  # (invocation, state) pairs remembered, so a re-published row counts once


def platform_of(model_id: str) -> str:
    """The model's platform, or ``unknown`` for a model no longer in the catalog."""
    model = find_model(model_id)
    return model.platform if model is not None else "unknown"


def error_kind(metadata: Mapping[str, Any]) -> str | None:
    """What kind of failure a failed row records (``None`` for a stop or a replacement)."""
    if metadata.get("cancelled"):
        return None
    if "cap" in metadata:
        return "cap"
    kind = metadata.get("error_kind")
    return kind if isinstance(kind, str) and kind else "other"


def cost_usd(metadata: Mapping[str, Any]) -> float | None:
    """The recorded cost in US dollars, if the row has a known one."""
    cost = metadata.get("cost")
    if not isinstance(cost, Mapping) or cost.get("currency", "USD") != "USD":
        return None
    amount = cost.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    return float(amount)


class _Live(Collector):
    """Gauges read at scrape time from the objects they describe."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        panic = m.panic
        active = sum(1 for s in panic.statuses().values() if s.active)
        yield GaugeMetricFamily("panic_active_runs", "Runs going now.", value=active)
        yield GaugeMetricFamily(
            "panic_websocket_viewers", "Open WebSockets (screens and terminals).", value=m.viewers()
        )
        archive = panic.archive
        if archive is not None:
            yield GaugeMetricFamily(
                "panic_archive_queue_depth",
                "Completed invocations waiting to be archived.",
                value=archive.queue_depth,
            )
            yield CounterMetricFamily(
                "panic_archive_failures",
                "Outputs that could not be archived (provider URL kept).",
                value=archive.failures,
            )
        backups = m.backups
        if backups is not None and backups.every:
            written = CounterMetricFamily(
                "panic_backups", "Scheduled backups by outcome.", labels=["outcome"]
            )
            written.add_metric(["written"], backups.done)
            written.add_metric(["failed"], backups.failures)
            yield written
            if backups.last_at is not None:
                yield GaugeMetricFamily(
                    "panic_backup_last_success_timestamp_seconds",
                    "When the newest scheduled backup was written (Unix time).",
                    value=backups.last_at.timestamp(),
                )
        yield CounterMetricFamily(
            "panic_node_messages_dropped",
            "Events and screen messages not carried to the other processes on the database.",
            value=panic.dropped_between_processes(),
        )
        yield CounterMetricFamily(
            "panic_metrics_events_dropped",
            "Engine events this exporter lost because it fell behind.",
            value=m.dropped(),
        )


class Metrics:
    """Every metric of one server. Start :meth:`run` in the composition root's nursery."""

    def __init__(self, panic: Panic) -> None:
        self.panic = panic
        self.registry = CollectorRegistry()
        self.viewers: Callable[[], int] = lambda: 0
        self.backups: Backups | None = None
        self._subscription: Subscription[Event] | None = None
        self._seen: OrderedDict[tuple[int, str], None] = OrderedDict()
        r = self.registry
        self.invocations = Counter(
            "panic_invocations",
            "Invocations that reached a state (invoking = a call started).",
            ["model", "platform", "state"],
            registry=r,
        )
        self.latency = Histogram(
            "panic_provider_call_seconds",
            "How long provider calls took (retries included).",
            ["model", "platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "panic_provider_retries",
            "Transient failures retried within provider calls.",
            ["model", "platform"],
            registry=r,
        )
        self.errors = Counter(
            "panic_errors",
            "Failed invocations by error kind (stops and replacements are not errors).",
            ["kind", "platform"],
            registry=r,
        )
        self.spend = Counter(
            "panic_spend_usd",
            "What completed invocations cost, in US dollars (unknown prices add nothing).",
            ["network", "model", "platform"],
            registry=r,
        )
        self.lag = Gauge(
            "panic_event_loop_lag_seconds", "How late the last timer woke up.", registry=r
        )
        self.lag_histogram = Histogram(
            "panic_event_loop_lag_distribution_seconds",
            "How late timers woke up, measured every second.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        r.register(_Live(self))

    def dropped(self) -> int:
        """Feed events lost so far."""
        return 0 if self._subscription is None else self._subscription.dropped

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

    def observe(self, event: Event) -> None:
        """Count one engine event (synchronous; each row's state counts once)."""
        row = event.invocation
        if event.kind != "invocation" or row is None or row.state not in COUNTED_STATES:
            return
        key = (row.id, row.state)
        if key in self._seen:
            return
        self._seen[key] = None
        if len(self._seen) > _SEEN:
            self._seen.popitem(last=False)
        self._count(row)

    def _count(self, row: Invocation) -> None:
        platform = platform_of(row.model)
        self.invocations.labels(row.model, platform, row.state).inc()
        meta = row.metadata
        if row.state == "invoking":
            return
        latency = meta.get("latency_ms")
        if isinstance(latency, int | float) and not isinstance(latency, bool) and latency >= 0:
            self.latency.labels(row.model, platform).observe(latency / 1000)
        attempts = meta.get("attempts")
        if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts > 1:
            self.retries.labels(row.model, platform).inc(attempts - 1)
        if row.state == "failed":
            kind = error_kind(meta)
            if kind is not None:
                self.errors.labels(kind, platform).inc()
            return
        amount = cost_usd(meta)
        if amount is not None and amount > 0:
            self.spend.labels(str(row.network_id), row.model, platform).inc(amount)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Count the feed and measure event-loop lag until cancelled."""
        with self.panic.watch_all(FEED_BUFFER) as events:
            self._subscription = events
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._measure_lag)
                task_status.started()
                async for event in events:
                    self.observe(event)

    async def _measure_lag(self) -> None:
        while True:
            due = trio.current_time() + LAG_INTERVAL_SECONDS
            await trio.sleep_until(due)
            late = max(0.0, trio.current_time() - due)
            self.lag.set(late)
            self.lag_histogram.observe(late)
