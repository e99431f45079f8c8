"""The archiver: a bounded queue of completed invocations and the workers that archive them.

The engine's completion hook (:meth:`Archiver.submit`) is synchronous and
never waits: it puts the invocation on a bounded memory channel, or records
``archive queue full`` if the workers are that far behind. The workers live
in the archive's own nursery, outside every run's cancel scope, so a stop
never cancels an archive in progress and the chain never waits for one.

For each invocation: fetch the bytes, convert them (WebP / MP3), store them
under ``invocation-<id>-output.<ext>``, then rewrite the output (and the next
input, if not yet invoked) to the archive URL, keeping the provider URL in
``metadata.archived_from``. Any failure keeps the provider URL and records
``metadata.archive_error``; transient ones are first retried a few times.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Final, TypeVar, TypeVarTuple

import trio

from panic_trio.archive import queries
from panic_trio.archive.convert import convert
from panic_trio.archive.fetch import Fetcher
from panic_trio.archive.local import LocalArchive
from panic_trio.archive.protocol import Archive, archive_key
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Event, Invocation
from panic_trio.errors import ArchiveError, PanicError
from panic_trio.events import Publisher
from panic_trio.models import find_model
from panic_trio.store.store import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

ARCHIVED_TYPES: Final = queries.ARCHIVED_TYPES
REQUEUE_BATCH: Final = 100
DEFAULT_WORKERS: Final = 4
DEFAULT_QUEUE_SIZE: Final = 64
JOB_TIMEOUT_SECONDS: Final = 300.0
# Pauses between attempts after a transient error (so 3 attempts); tests shorten it.
RETRY_DELAYS_SECONDS: tuple[float, ...] = (1.0, 5.0)
QUEUE_FULL: Final = "archive queue full"
INTERRUPTED: Final = "archive interrupted by shutdown"
RECORD_TIMEOUT_SECONDS: Final = 5.0


def needs_archive(invocation: Invocation) -> bool:
    """True for a completed invocation whose model makes images or audio."""
    model = find_model(invocation.model)
    return (
        invocation.output is not None and model is not None and model.output_type in ARCHIVED_TYPES
    )


class Archiver:
    """Archives image and audio outputs in the background. Create it with ``open_archive``.

    Attributes:
        backend: where archived files go (local folder or S3 bucket).
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        backend: Archive,
        store: Store,
        fetcher: Fetcher,
        queue: trio.MemorySendChannel[Invocation],
        *,
        images: ThreadSeam,
        audio: ThreadSeam,
        workers: int = DEFAULT_WORKERS,
        events: Publisher | None = None,
    ) -> None:
        self.backend = backend
        self._nursery = nursery
        self._store = store
        self._fetcher = fetcher
        self._queue = queue
        self._images = images
        self._audio = audio
        self._workers = workers
        self._events = events
        # Submitted and not yet finished: what a shutdown must record as interrupted.
        self._pending: dict[int, Invocation] = {}
        # For /metrics and alerts: failed archives in all, and since the last success.
        self.failures = 0
        self.failures_in_a_row = 0

    @property
    def queue_depth(self) -> int:
        """Completed invocations waiting for a worker."""
        return self._queue.statistics().current_buffer_used

    def local_path(self, key: str) -> Path | None:
        """The file behind an archive key for the web app, if the backend is local."""
        return self.backend.path_for(key) if isinstance(self.backend, LocalArchive) else None

    def open_media(self, url: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """The bytes behind an output URL in chunks (for exports).

        A file of our local archive is read from disk; anything else (dummy
        files, S3, provider URLs not yet archived) goes through the
        fetcher's download rules: status, content type and size limit.
        """
        if isinstance(self.backend, LocalArchive):
            prefix = self.backend.url_for("")
            path = self.backend.path_for(url[len(prefix) :]) if url.startswith(prefix) else None
            if path is not None:
                return self._fetcher.open_file(path)
        return self._fetcher.open_stream(url)

    def submit(self, done: Invocation, following: Invocation) -> None:
        """The engine's completion hook: queue ``done`` if it made an image or audio.

        Synchronous and never blocks the runner: when the queue is full the
        invocation is not archived, and ``archive queue full`` is recorded.
        """
        if not needs_archive(done) or done.id in self._pending:
            return
        self._pending[done.id] = done
        try:
            self._queue.send_nowait(done)
        except trio.WouldBlock:
            del self._pending[done.id]
            self._count_failure()
            logger.error("invocation %s: not archived: %s", done.id, QUEUE_FULL)
            self._nursery.start_soon(self._record_quietly, done.id, QUEUE_FULL)
        except trio.ClosedResourceError:
            logger.warning("invocation %s: completed after the archive closed", done.id)

    async def resume_unfinished(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> int:
        """At start-up: archive every output a previous process completed but never archived.

        Such rows have neither ``archived_from`` nor ``archive_error`` (the
        process died between completing and archiving them). They are read a
        batch at a time and archived one by one here, not through the queue,
        so a backlog never fills the queue that new outputs need. Each is
        pending meanwhile, so a shutdown records it as interrupted.

        Returns:
            How many were taken up.
        """
        task_status.started()
        taken, after = 0, 0
        while batch := await self._store.read(queries.unfinished_archives, after, REQUEUE_BATCH):
            if taken == 0:
                logger.warning("archiving outputs a previous process left unarchived")
            for invocation in batch:
                if invocation.id in self._pending:
                    continue  # a resumed run completed it meanwhile: already queued
                self._pending[invocation.id] = invocation
                try:
                    await self.archive(invocation)
                except PanicError:
                    logger.exception("invocation %s: archiving crashed", invocation.id)
                self._pending.pop(invocation.id, None)
                taken += 1
            after = batch[-1].id
        return taken

    async def serve(
        self,
        queue: trio.MemoryReceiveChannel[Invocation],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """One worker: archive queued invocations until the queue closes."""
        async with queue:
            task_status.started()
            async for invocation in queue:
                try:
                    await self.archive(invocation)
                except Exception:
                    # The worker's boundary: one bad row must not end archiving.
                    logger.exception("invocation %s: archiving crashed", invocation.id)
                self._pending.pop(invocation.id, None)

    async def archive(self, invocation: Invocation) -> Invocation | None:
        """Archive one output now and record the outcome.

        Returns:
            The rewritten invocation, or ``None`` if archiving failed (the
            reason is in its ``metadata.archive_error``).

        Raises:
            StoreError, NotFound: the outcome could not be recorded.
        """
        source = invocation.output
        if source is None:
            await trio.lowlevel.checkpoint()
            return None
        started = trio.current_time()
        try:
            with trio.fail_after(JOB_TIMEOUT_SECONDS):
                url = await self._store_output(invocation.id, source)
        except ArchiveError as exc:
            reason = exc.message
        except trio.TooSlowError:
            reason = f"archiving took longer than {JOB_TIMEOUT_SECONDS:g} s"
        else:
            done, following = await self._store.write(
                queries.record_archived, invocation.id, url, source, self._store.now()
            )
            self.failures_in_a_row = 0
            if done.output != url:  # archived (or changed) meanwhile: nothing to announce
                logger.info("invocation %s: already archived as %s", invocation.id, done.output)
                return done
            logger.info(
                "invocation %s: archived as %s in %.0f ms%s",
                invocation.id,
                url,
                (trio.current_time() - started) * 1000,
                "" if following is None else f" (also the input of {following.id})",
            )
            self._publish(done)
            return done
        logger.warning("invocation %s: not archived, keeping %s: %s", invocation.id, source, reason)
        self._count_failure()
        await self._record_errors([(invocation.id, reason)])
        return None

    async def retry_failed(self, *, limit: int | None = None) -> list[tuple[Invocation, bool]]:
        """Archive again every invocation whose archive failed or never finished, a few at a time.

        Returns:
            Each invocation (as it is now) and whether it is archived now.
        """
        failed = await self._store.read(queries.failed_archives, limit)
        failed += await self._store.read(queries.unfinished_archives, 0, limit)
        failed.sort(key=lambda invocation: invocation.id)
        results: dict[int, Invocation] = {}
        limiter = trio.CapacityLimiter(self._workers)

        async def retry(invocation: Invocation) -> None:
            async with limiter:
                archived = await self.archive(invocation)
                # On failure, re-read the row for its new archive_error.
                results[invocation.id] = archived or await self._store.get_invocation(invocation.id)

        async with trio.open_nursery() as nursery:
            for invocation in failed:
                nursery.start_soon(retry, invocation)
        return [(results[i.id], "archived_from" in results[i.id].metadata) for i in failed]

    async def record_interrupted(self) -> None:
        """At shutdown: record every submitted, unfinished archive as interrupted.

        Shielded and bounded, so it runs even while the caller is cancelled.
        """
        pending, self._pending = self._pending, {}
        if not pending:
            return
        logger.warning("%d archive(s) interrupted by shutdown: %s", len(pending), sorted(pending))
        with trio.CancelScope(shield=True), trio.move_on_after(RECORD_TIMEOUT_SECONDS):
            await self._record_errors([(i, INTERRUPTED) for i in pending])

    async def _store_output(self, invocation_id: int, source: str) -> str:
        data = await self._retrying(self._fetcher.fetch, source)
        media = await convert(data, images=self._images, audio=self._audio)
        key = archive_key(invocation_id, media.extension)
        return await self._retrying(self.backend.put, key, media.data, media.content_type)

    async def _retrying(self, fn: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        """``fn(*args)``, tried again after each pause while it fails transiently."""
        delays = RETRY_DELAYS_SECONDS
        for attempt, delay in enumerate(delays, start=1):
            try:
                return await fn(*args)
            except ArchiveError as exc:
                if not exc.transient:
                    raise
                logger.info("archive attempt %d failed (%s); again in %g s", attempt, exc, delay)
            await trio.sleep(delay)
        try:
            return await fn(*args)
        except ArchiveError as exc:
            if exc.transient and delays:
                raise ArchiveError(f"{exc.message} (after {len(delays) + 1} attempts)") from exc
            raise

    def _count_failure(self) -> None:
        self.failures += 1
        self.failures_in_a_row += 1

    async def _record_quietly(self, invocation_id: int, reason: str) -> None:
        try:
            await self._record_errors([(invocation_id, reason)])
        except PanicError:
            logger.exception("invocation %s: could not record %r", invocation_id, reason)

    async def _record_errors(self, reasons: Iterable[tuple[int, str]]) -> None:
        await self._store.write(queries.record_archive_errors, list(reasons), self._store.now())

    def _publish(self, invocation: Invocation) -> None:
        events = self._events
        if events is None:
            return
        network_id = invocation.network_id
        events.publish(network_id, Event("archived", invocation, events.status(network_id)))
