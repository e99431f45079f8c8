"""Sync queries of the archive (run through ``Store.read`` / ``Store.write``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, select

from panic_trio.domain import Invocation
from panic_trio.models import all_models
from panic_trio.store.invocations import (
    invocation_by_id,
    invocation_from_row,
    merge_metadata,
    rewrite_urls,
)
from panic_trio.store.schema import invocations as _T

ARCHIVED_TYPES: Final = ("image", "audio")


def failed_archives(conn: Connection, limit: int | None = None) -> list[Invocation]:
    """Completed invocations whose archive failed and never succeeded since, oldest first."""
    meta = _T.c.metadata
    query = (
        select(_T)
        .where(
            _T.c.state == "completed",
            meta["archive_error"].as_string().is_not(None),
            meta["archived_from"].as_string().is_(None),
        )
        .order_by(_T.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [invocation_from_row(r) for r in conn.execute(query)]


def archived_models() -> list[str]:
    """Ids of every model whose output is archived (images and audio)."""
    return [m.id for m in all_models() if m.output_type in ARCHIVED_TYPES]


def unfinished_archives(
    conn: Connection, after_id: int = 0, limit: int | None = None
) -> list[Invocation]:
    """Completed images and audio with no archive outcome yet (neither URL nor error), by id.

    From the moment it completes, such an output is waiting to be archived;
    if the process died first (kill -9, power loss), it is found here.
    """
    meta = _T.c.metadata
    query = (
        select(_T)
        .where(
            _T.c.id > after_id,
            _T.c.state == "completed",
            _T.c.output.is_not(None),
            _T.c.model.in_(archived_models()),
            meta["archive_error"].as_string().is_(None),
            meta["archived_from"].as_string().is_(None),
        )
        .order_by(_T.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [invocation_from_row(r) for r in conn.execute(query)]


def record_archived(
    conn: Connection, invocation_id: int, url: str, archived_from: str, now: datetime
) -> tuple[Invocation, Invocation | None]:
    """Point the output (and the next input, if still ``ready``) at the archive.

    Clears any earlier ``archive_error``. If the output is no longer
    ``archived_from`` (another archiver got there first), nothing changes.

    Returns:
        The invocation as it is now, and the next one if its input was rewritten.
    """
    current = invocation_by_id(conn, invocation_id)
    if current.output != archived_from:
        return current, None
    merge_metadata(conn, invocation_id, {"archive_error": None}, now)
    return rewrite_urls(conn, invocation_id, url, {"archived_from": archived_from}, now)


def record_archive_errors(
    conn: Connection, reasons: Iterable[tuple[int, str]], now: datetime
) -> list[Invocation]:
    """Set ``metadata.archive_error`` on each ``(invocation_id, reason)``.

    Deleted rows are skipped, and so are archived ones: a shutdown may cancel
    a worker just after its rewrite was committed.
    """
    recorded: list[Invocation] = []
    for invocation_id, reason in reasons:
        found = conn.execute(select(_T.c.metadata).where(_T.c.id == invocation_id)).first()
        if found is None or "archived_from" in found.metadata:
            continue
        recorded.append(merge_metadata(conn, invocation_id, {"archive_error": reason}, now))
    return recorded
