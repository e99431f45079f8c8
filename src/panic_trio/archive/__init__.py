"""Archiving of image and audio outputs: a local folder or S3-compatible storage.

``async with open_archive(settings, store, local_files=...) as archiver:`` checks
the storage, starts the workers and gives an :class:`Archiver` whose
``submit`` is the engine's completion hook. See ``docs/archive.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import trio

from panic_trio.archive.archiver import DEFAULT_QUEUE_SIZE, DEFAULT_WORKERS, Archiver
from panic_trio.archive.fetch import Fetcher, new_http_client
from panic_trio.archive.local import LocalArchive
from panic_trio.archive.protocol import Archive, archive_key
from panic_trio.archive.s3 import S3Archive
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Invocation
from panic_trio.events import Publisher
from panic_trio.local_media import ARCHIVE_DIR, MediaResolver
from panic_trio.settings import Settings
from panic_trio.store.store import Store

__all__ = [
    "Archive",
    "Archiver",
    "LocalArchive",
    "S3Archive",
    "archive_key",
    "open_archive",
    "open_backend",
]


async def open_backend(settings: Settings, *, inline: bool = False) -> Archive:
    """The backend ``settings.archive`` names, checked and ready.

    Raises:
        ArchiveError: the folder cannot be created, or the S3 bucket cannot
            be reached (or created).
    """
    if settings.archive == "s3":
        return await S3Archive.connect(settings, inline=inline)
    local = LocalArchive(
        settings.data_dir / ARCHIVE_DIR,
        settings.base_url,
        ThreadSeam("archive-files", 2, inline=inline),
    )
    await local.prepare()
    return local


@asynccontextmanager
async def open_archive(
    settings: Settings,
    store: Store,
    *,
    local_files: MediaResolver | None = None,
    backend: Archive | None = None,
    http: httpx.AsyncClient | None = None,
    workers: int = DEFAULT_WORKERS,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    inline: bool = False,
    resume: bool = True,
    events: Publisher | None = None,
) -> AsyncIterator[Archiver]:
    """Run the archive in its own nursery; give the :class:`Archiver`.

    Args:
        settings: chooses and configures the backend; ``shutdown_timeout``
            bounds how long exit waits for archives in progress.
        store: where outcomes are recorded.
        local_files: reads our own media (dummy outputs) from disk instead of
            downloading them.
        backend: use this instead of the one ``settings`` names (tests).
        http: download client; by default one is created and closed here.
        workers, queue_size: concurrency, and how many completed invocations
            may wait before ``submit`` gives up on one.
        inline: run blocking calls on the event loop (``MockClock`` tests).
        resume: archive outputs a previous process completed but never
            archived (it was killed first); ``archive retry`` passes
            ``False`` and takes them up itself.
        events: where ``archived`` events go; ``None`` publishes none.

    Entering blocks while the backend is checked (and raises
    :class:`~panic_trio.errors.ArchiveError` if it is unusable). Exiting
    lets queued and in-flight archives finish for up to
    ``settings.shutdown_timeout`` seconds, then cancels them and records
    ``archive_error`` on each, so ``panic-trio archive retry`` can finish them.
    """
    async with AsyncExitStack() as stack:
        if backend is None:
            backend = await open_backend(settings, inline=inline)
            if isinstance(backend, S3Archive):
                stack.callback(backend.close)
        if http is None:
            http = await stack.enter_async_context(new_http_client())
        fetcher = Fetcher(http, local_files, ThreadSeam("archive-reads", 2, inline=inline))
        send, receive = trio.open_memory_channel[Invocation](queue_size)
        archiver: Archiver | None = None
        try:
            async with trio.open_nursery() as nursery:
                archiver = Archiver(
                    nursery,
                    backend,
                    store,
                    fetcher,
                    send,
                    images=ThreadSeam("pillow", 2, inline=inline),
                    audio=ThreadSeam("lameenc", 2, inline=inline),
                    workers=workers,
                    events=events,
                )
                async with receive:
                    for _ in range(workers):
                        await nursery.start(archiver.serve, receive.clone())
                if resume:
                    await nursery.start(archiver.resume_unfinished)
                try:
                    yield archiver
                finally:
                    # Workers drain the queue, then stop; the deadline bounds that.
                    send.close()
                    nursery.cancel_scope.deadline = trio.current_time() + settings.shutdown_timeout
        finally:
            if archiver is not None:
                await archiver.record_interrupted()
