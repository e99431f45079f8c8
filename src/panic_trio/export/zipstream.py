"""A zip file written as a stream of chunks, never whole in memory.

:mod:`zipfile` writes to a sink that cannot seek, so every entry gets a
data descriptor (sizes and CRC after the data) and the central directory
comes last. The owner writes a little, then :meth:`ZipStream.drain` takes the
bytes produced so far and sends them on; at no time does the stream hold
more than what one ``write`` produced.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import IO, Final

TEXT_COMPRESSION: Final = zipfile.ZIP_DEFLATED
# Images and audio are compressed already: stored as they are, no CPU spent.
MEDIA_COMPRESSION: Final = zipfile.ZIP_STORED


class _Sink(io.RawIOBase):
    """Collects what zipfile writes until it is drained; cannot seek or tell."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.buffer += data
        return len(data)


class ZipStream:
    """Writes entries one after the other; :meth:`drain` yields the zip's bytes so far.

    Synchronous and CPU-only (no I/O): the async exporter drains after each
    chunk it writes.
    """

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", allowZip64=True)

    def open(self, name: str, moment: datetime, *, media: bool = False) -> IO[bytes]:
        """A new entry to write to (close it before the next one)."""
        info = zipfile.ZipInfo(name, date_time=_zip_time(moment))
        info.compress_type = MEDIA_COMPRESSION if media else TEXT_COMPRESSION
        info.external_attr = 0o644 << 16
        return self._zip.open(info, "w")

    def drain(self) -> bytes:
        """The bytes written since the last drain."""
        data = bytes(self._sink.buffer)
        self._sink.buffer.clear()
        return data

    def close(self) -> bytes:
        """Finish the zip (central directory) and return the last bytes."""
        self._zip.close()
        return self.drain()


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    # Zip times have no zone and start in 1980; exports use UTC.
    year = max(moment.year, 1980)
    return (year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
