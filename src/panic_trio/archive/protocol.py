"""What an archive backend is: somewhere to put bytes under a key, with a public URL."""

from __future__ import annotations

from typing import Protocol


def archive_key(invocation_id: int, extension: str) -> str:
    """The object key of an invocation's archived output.

    One key per invocation id, so two runs or two networks can never
    overwrite each other's objects (the original keyed by URL basename).
    """
    return f"invocation-{invocation_id}-output.{extension}"


class Archive(Protocol):
    """A place archived outputs live: a local folder or an S3 bucket.

    ``put`` is a checkpoint and raises only
    :class:`~panic_trio.errors.ArchiveError` (``transient=True`` when trying
    again later may work); ``url_for`` is pure string work.
    """

    name: str

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store ``data`` under ``key`` (replacing it) and return its public URL."""
        ...

    def url_for(self, key: str) -> str:
        """The public URL of ``key`` (whether or not it exists)."""
        ...
