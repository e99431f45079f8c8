"""A run as one self-contained ``.zip``: ``index.html``, ``run.json`` and the media by step.

The zip is produced as a stream of chunks (:class:`~panic_trio.export.zipstream.ZipStream`)
from the database in batches, so a run of any length exports in about the
memory of one batch of rows and one chunk of media. Three passes over the
run, bounded by its last step at the start (a live run keeps growing):

1. media, each file streamed from the archive folder or downloaded under the
   archive's rules (status, content type, size limit); one that cannot be
   had is left out and said so;
2. ``run.json``: the network, the run's summary, every invocation as the JSON
   API gives it, and which file holds which step's output;
3. ``index.html``: the chain, escaped, with relative links to the media.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, ExitStack, aclosing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Final

import jinja2
import trio

from panic_trio.archive.convert import sniff
from panic_trio.blocking import ThreadSeam
from panic_trio.domain import Invocation, Network, iso, utc_now
from panic_trio.errors import ArchiveError, NotFound
from panic_trio.export.zipstream import ZipStream
from panic_trio.models import find_model
from panic_trio.runs import RunSummary, run_cycle, summary_of
from panic_trio.store import runs as run_queries
from panic_trio.store.store import Store

MediaOpener = Callable[[str], AbstractAsyncContextManager[AsyncIterator[bytes]]]

FORMAT: Final = "panic-trio-run/1"
BATCH_ROWS: Final = 100
EXTENSIONS: Final = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
}
_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9_.-]+")
_TEMPLATES: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def export_filename(run_number: int) -> str:
    """The file name a download of the run's export gets."""
    return f"panic-run-{run_number}.zip"


def media_kind(invocation: Invocation) -> str:
    """``image``, ``audio``, ``text`` or ``unknown``: what the step made."""
    model = find_model(invocation.model)
    return "unknown" if model is None else model.output_type


def cost_words(amount: float | None) -> str:
    """A run's cost as shown: dollars, or ``unknown``."""
    return "unknown" if amount is None else f"${amount:,.4f}"


@dataclass(slots=True)
class _MediaFile:
    name: str | None = None
    content_type: str | None = None
    error: str | None = None


@dataclass(slots=True)
class RunExporter:
    """Streams one run's export. Create one per export; iterate :meth:`chunks` once.

    Args:
        store: where the run's rows are read, in batches.
        open_media: the archiver's ``open_media`` (chunks of one output URL).
        network: the run's network (its name heads the page).
        summary: the run's summary at the start of the export.
        cycle: the run's models (``runs.run_cycle``).
    """

    store: Store
    open_media: MediaOpener
    network: Network
    summary: RunSummary
    cycle: list[str]
    now: Callable[[], datetime] = utc_now
    _media: dict[int, _MediaFile] = field(default_factory=dict)
    _hidden: set[int] = field(default_factory=set)  # steps an operator hid

    async def chunks(self) -> AsyncGenerator[bytes]:
        """The zip's bytes, in order; each chunk is a checkpoint.

        One generator with no nursery or cancel scope held across a yield;
        iterate it under ``contextlib.aclosing``.
        """
        archive = ZipStream()
        after = -1
        while batch := await self._batch(after):
            after = batch[-1].sequence_number
            for invocation in batch:
                if not _has_media(invocation):
                    continue
                assert invocation.output is not None
                entry = self._media[invocation.sequence_number] = _MediaFile()
                try:
                    with ExitStack() as entries:
                        async with self.open_media(invocation.output) as media:
                            out: IO[bytes] | None = None
                            async for data in media:
                                if out is None:
                                    out = entries.enter_context(
                                        self._media_entry(archive, invocation, entry, data)
                                    )
                                out.write(data)
                                yield archive.drain()
                except ArchiveError as exc:
                    entry.error = str(exc)
                    entry.name = None  # a file cut off midway stays in the zip, unlinked
                yield archive.drain()

        with archive.open("run.json", self.now()) as out:
            out.write(self._run_json_head())
            separator = b""
            after = -1
            while batch := await self._batch(after):
                after = batch[-1].sequence_number
                for invocation in batch:
                    out.write(separator + json.dumps(invocation.to_json()).encode())
                    separator = b",\n"
                yield archive.drain()
            out.write(b"\n ]\n}\n")
        yield archive.drain()

        page: Any = _TEMPLATES.get_template("run.html").module
        with archive.open("index.html", self.now()) as out:
            out.write(
                str(
                    page.head(self.network, self._run_facts(), self.cycle, _labels(self.cycle))
                ).encode()
            )
            previous: datetime | None = None
            after = -1
            while batch := await self._batch(after):
                after = batch[-1].sequence_number
                for invocation in batch:
                    out.write(str(page.step(self._step(invocation, previous))).encode())
                    previous = invocation.inserted_at
                yield archive.drain()
            out.write(str(page.foot(iso(self.now()))).encode())
        yield archive.close()

    async def _batch(self, after: int) -> list[Invocation]:
        """The next rows after sequence ``after``, up to the run's last step at the start."""
        if after >= self.summary.last_sequence_number:
            return []
        batch = await self.store.read(
            run_queries.run_batch, self.network.id, self.summary.run_number, after, BATCH_ROWS
        )
        return [
            concealed(i, previous_hidden=i.sequence_number - 1 in self._hidden)
            for i in self._note_hidden(batch)
            if i.sequence_number <= self.summary.last_sequence_number
        ]

    def _note_hidden(self, batch: list[Invocation]) -> list[Invocation]:
        self._hidden.update(i.sequence_number for i in batch if i.metadata.get("hidden") is True)
        return batch

    def _media_entry(
        self, archive: ZipStream, invocation: Invocation, entry: _MediaFile, first: bytes
    ) -> IO[bytes]:
        """The zip entry of a step's media, named by step, typed by its first bytes."""
        content_type = sniff(first)
        extension = EXTENSIONS.get(content_type or "", "bin")
        model = _UNSAFE_NAME.sub("_", invocation.model)
        entry.name = f"media/{invocation.sequence_number:05d}-{model}.{extension}"
        entry.content_type = content_type
        return archive.open(entry.name, invocation.updated_at, media=True)

    def _run_json_head(self) -> bytes:
        head = {
            "format": FORMAT,
            "network": {
                "id": self.network.id,
                "name": self.network.name,
                "description": self.network.description,
                "cycle": self.cycle,
            },
            "run": self.summary.to_json(),
            "media": {str(k): v.name for k, v in self._media.items() if v.name},
            "media_errors": {str(k): v.error for k, v in self._media.items() if v.error},
        }
        # The object is left open: the invocations follow, one batch at a time.
        return json.dumps(head, indent=1)[:-2].encode() + b',\n "invocations": [\n'

    def _run_facts(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "cost": cost_words(self.summary.cost_usd),
            "ended_at": iso(self.summary.ended_at),
        }

    def _step(self, invocation: Invocation, previous: datetime | None) -> Mapping[str, Any]:
        media = self._media.get(invocation.sequence_number, _MediaFile())
        return {
            "sequence_number": invocation.sequence_number,
            "state": invocation.state,
            "label": _label(invocation.model),
            "kind": media_kind(invocation),
            "output": invocation.output,
            "error": invocation.metadata.get("error"),
            "media": media.name,
            "media_type": media.content_type or "",
            "missing": media.error or "not archived",
            "timing": timing(invocation, previous),
            "hidden": invocation.metadata.get("hidden") is True,
        }


def concealed(invocation: Invocation, *, previous_hidden: bool) -> Invocation:
    """A step as an export may show it: an output an operator hid is left out, with the
    next step's input (the same thing) and, for the first step, the visitor's prompt."""
    hidden = invocation.metadata.get("hidden") is True
    if not (hidden or previous_hidden):
        return invocation
    return dataclasses.replace(
        invocation,
        output=None if hidden else invocation.output,
        input=""
        if previous_hidden or (hidden and invocation.sequence_number == 0)
        else invocation.input,
    )


def _has_media(invocation: Invocation) -> bool:
    return (
        invocation.state == "completed"
        and bool(invocation.output)
        and media_kind(invocation) in ("image", "audio")
    )


def _labels(models: list[str]) -> dict[str, str]:
    return {m: _label(m) for m in models}


def _label(model_id: str) -> str:
    model = find_model(model_id)
    if model is None:
        return f"{model_id} (unknown model)"
    return f"{model.name} ({model.input_type} → {model.output_type})"


def timing(invocation: Invocation, previous: datetime | None) -> str:
    """How long a step took, and how long after the previous one it started."""
    latency = invocation.metadata.get("latency_ms")
    if isinstance(latency, int | float):
        took = latency / 1000
    else:
        took = (invocation.updated_at - invocation.inserted_at).total_seconds()
    words = f"{iso(invocation.inserted_at)} · took {took:.2f} s"
    if previous is not None:
        gap = (invocation.inserted_at - previous).total_seconds()
        words += f" · {gap:.2f} s after the previous step"
    return words


async def prepare_export(
    store: Store, open_media: MediaOpener, network_id: int, run_number: int
) -> RunExporter:
    """An exporter of one run as it is now.

    Raises:
        NotFound: no such network, or no such run on it.
    """
    network = await store.get_network(network_id)
    rows = await store.read(run_queries.history, network_id, run_number + 1, 1)
    if not rows or rows[0].run_number != run_number:
        raise NotFound(f"no run {run_number} on network {network_id}")
    genesis = await store.get_invocation(run_number)
    summary = summary_of(rows[0])
    if genesis.metadata.get("hidden") is True:  # an operator hid the first step: its prompt too
        summary = dataclasses.replace(summary, prompt="")
    return RunExporter(store, open_media, network, summary, run_cycle(genesis, network.models))


async def write_export(exporter: RunExporter, path: Path, files: ThreadSeam) -> int:
    """Write the export to ``path`` (via ``path.partial``, renamed at the end); returns bytes.

    A failed or cancelled export leaves no file behind.
    """
    tmp = path.with_name(path.name + ".partial")
    handle: BinaryIO = await files.run(tmp.open, "wb")
    size = 0
    try:
        async with aclosing(exporter.chunks()) as chunks:
            async for chunk in chunks:
                size += len(chunk)
                await files.run(handle.write, chunk)
    except BaseException:
        with trio.CancelScope(shield=True):
            await files.run(handle.close)
            await files.run(tmp.unlink, True)
        raise
    await files.run(handle.close)
    await files.run(tmp.replace, path)
    return size
