"""The one error tree of panic_trio.

Every error this package raises on purpose is a :class:`PanicError`. Foreign
errors (SQLAlchemy, httpx, boto3, Pillow) are translated into this tree at one
boundary per library, so callers only ever catch these::

    PanicError
    ├── ConfigError                 bad settings or environment
    ├── NotFound                    no such user / network / invocation
    ├── PermissionDenied            the caller may not do that
    ├── InvalidInput                a value a person typed is unacceptable
    │   ├── InvalidNetwork          the model cycle cannot run (reason in words)
    │   ├── InvalidPrompt           empty, blank or over-long prompt
    │   └── InvalidWatcher          a display configuration is invalid
    ├── ShuttingDown                the server is shutting down: no new run starts
    ├── LockedOut                   a run is active and still in its lockout
    ├── RateLimited                 too many prompts from one client: try again later
    ├── OwnerUnreachable            another process runs the network and did not answer
    ├── SpendingCapReached          a spending cap refuses new prompts until a time
    ├── PlatformError               a model call failed (after its own retries)
    │   ├── PlatformTimeout
    │   ├── PlatformRejected        the provider said no (status, message)
    │   ├── ContentFiltered         the provider refused the content
    │   ├── MissingToken            the network owner has no token for it
    │   ├── PlatformUnavailable     transient failures outlasted the retries
    │   └── ResourceExhausted       this machine ran out of files or memory: the run pauses
    ├── StoreError                  the database failed
    │   └── LeaseLost               another process owns the network now: the write was refused
    ├── ArchiveError                download, conversion or storage failed
    └── NotifyError                 an alert could not be delivered (SMTP, webhook)

Messages are written for an operator: they say what happened and, where it
helps, what to do.
"""

from __future__ import annotations

import errno
import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from datetime import datetime

    from panic_trio.domain import Invocation

BLOCKED_MESSAGE: Final = "That prompt can't be used here. Please try a different one."


class PanicError(Exception):
    """Base of every error panic_trio raises on purpose."""


class ConfigError(PanicError):
    """Settings or environment variables are invalid."""


class NotFound(PanicError):
    """The user, network or invocation does not exist (or is not yours)."""


class PermissionDenied(PanicError):
    """The caller is not allowed to do that."""


class InvalidInput(PanicError):
    """A value supplied by a person was rejected; nothing was changed.

    ``field`` names the offending field where there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidNetwork(InvalidInput):
    """The network's model cycle cannot run; the message says why."""


class InvalidPrompt(InvalidInput):
    """The prompt is empty, blank or too long."""


class PromptBlocked(InvalidPrompt):
    """The prompt has a word or pattern the network's operator blocked.

    The message is neutral on purpose: it never names the pattern, so a
    visitor cannot probe the list.
    """

    def __init__(self, pattern: str) -> None:
        super().__init__(BLOCKED_MESSAGE, field="prompt")
        self.pattern = pattern


class InvalidWatcher(InvalidInput):
    """A watcher (display) configuration is invalid."""


class ShuttingDown(PanicError):
    """The server is shutting down: no new run starts (ask again after the restart)."""


class LockedOut(PanicError):
    """A run is active and still inside its lockout window.

    Attributes:
        genesis: the active run's first invocation.
        retry_after: seconds until a new prompt will be accepted.
    """

    def __init__(self, genesis: Invocation, retry_after: float) -> None:
        super().__init__(f"Please wait before starting a new run ({retry_after:.1f} s left)")
        self.genesis = genesis
        self.retry_after = retry_after


class RateLimited(PanicError):
    """One client sent too many prompts; ``retry_after`` seconds until it may again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many prompts: try again in {max(1, math.ceil(retry_after))} s")
        self.retry_after = retry_after


class OwnerUnreachable(PanicError):
    """Another process runs this network and did not answer in time (several processes).

    Attributes:
        owner: the node name of the process that holds the network's lease.
        retry_after: seconds after which asking again may succeed.
    """

    def __init__(self, message: str, *, owner: str, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.owner = owner
        self.retry_after = retry_after


class SpendingCapReached(PanicError):
    """A spending cap has been reached; prompts are refused until ``resumes_at``.

    Attributes:
        scope: ``network-day``, ``network-run`` or ``global-day``.
        limit: the cap in USD.
        resumes_at: when prompts are accepted again (UTC), or ``None``.
        message: the refusal in plain words, for visitors.
    """

    def __init__(
        self, message: str, *, scope: str, limit: float, resumes_at: datetime | None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.scope = scope
        self.limit = limit
        self.resumes_at = resumes_at


class PlatformError(PanicError):
    """A model call failed. ``platform`` and ``model`` say where.

    ``kind`` is a short word for what went wrong (recorded as the failed
    invocation's ``metadata.error_kind``, counted by ``/metrics`` and read by
    alerts): ``auth`` (the provider answered 401/403), ``rate_limit``,
    ``unavailable``, ``timeout``, ``input``, ``content``, ``missing_token`` or
    ``provider`` (anything else).
    """

    default_kind = "provider"

    def __init__(
        self, message: str, *, platform: str = "", model: str = "", kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.model = model
        self.kind = kind or self.default_kind


class PlatformTimeout(PlatformError):
    """The call did not finish within its time budget."""

    default_kind = "timeout"


class PlatformRejected(PlatformError):
    """The provider answered with an error that retrying will not fix."""

    def __init__(
        self, message: str, *, status: int | None = None, platform: str = "", model: str = ""
    ) -> None:
        super().__init__(message, platform=platform, model=model, kind=_rejection_kind(status))
        self.status = status


def _rejection_kind(status: int | None) -> str:
    if status in (401, 403):
        return "auth"  # a key expired, was revoked or lacks the permission
    if status is not None and 400 <= status < 500:
        return "input"
    return "provider"


class PredictionFailed(PlatformRejected):
    """A Replicate prediction ended ``failed`` for a reason that may pass.

    The Replicate client tries again a few times before letting it through;
    once it surfaces, it is final like any rejection.
    """


class ContentFiltered(PlatformError):
    """The provider refused the input or output as unsafe content."""

    default_kind = "content"


class MissingToken(PlatformError):
    """The network owner has no API token for the model's platform."""

    default_kind = "missing_token"


class PlatformUnavailable(PlatformError):
    """Transient failures (429, 5xx, network errors) outlasted the retries."""

    default_kind = "unavailable"


class ResourceExhausted(PlatformError):
    """This machine, not the model, ran out of something (open files, memory, buffers).

    Not the invocation's fault, and it passes (a flood of connections ends, a
    file is closed), so a run pauses and tries the same step again instead of
    failing.
    """


RESOURCE_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})


def is_resource_exhaustion(exc: BaseException) -> bool:
    """True if ``exc``, or an exception it was raised from, is out-of-files/memory."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in RESOURCE_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


class StoreError(PanicError):
    """The database failed (locked, full, unreachable or corrupt).

    ``transient`` is true when trying again later may succeed (locked, busy,
    disk full, connection lost) and false for refusals that will not change.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class LeaseLost(StoreError):
    """This process no longer owns the network (its lease was taken over): nothing was written.

    The fencing check of every write of a run raises it, so a process that
    was paused or cut off past its lease cannot write one more row.
    """


class ArchiveError(PanicError):
    """Archiving an output failed; the provider URL is kept."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class NotifyError(PanicError):
    """An alert could not be delivered by e-mail or webhook; the message says where."""
