"""Settings: one frozen value, loaded from ``PANIC_*`` environment variables.

Defaults run offline (SQLite file, dummy models, local archive folder).
Unknown ``PANIC_*`` variables are an error, so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from panic_trio.errors import ConfigError

BackoffTiers = tuple[tuple[float, float], ...]
"""``((age_limit_seconds, delay_seconds), ...)``, limits increasing, last is ``inf``."""

DEFAULT_BACKOFF: Final = "600:1,3600:15,inf:600"
ARCHIVE_BACKENDS: Final = ("local", "s3")
ENV_PREFIX: Final = "PANIC_"


def parse_backoff(text: str) -> BackoffTiers:
    """Parse ``"600:1,3600:15,inf:600"`` into tiers, with a clear error."""
    tiers: list[tuple[float, float]] = []
    for part in text.split(","):
        limit_text, sep, delay_text = part.strip().partition(":")
        if not sep:
            raise ConfigError(
                f"backoff tier {part.strip()!r} must look like AGE_LIMIT:DELAY, e.g. 600:1"
            )
        try:
            limit, delay = float(limit_text), float(delay_text)
        except ValueError:
            raise ConfigError(f"backoff tier {part.strip()!r} must contain numbers") from None
        if math.isnan(limit) or math.isnan(delay) or delay < 0 or math.isinf(delay):
            raise ConfigError(f"backoff tier {part.strip()!r}: delay must be a finite number >= 0")
        if tiers and limit <= tiers[-1][0]:
            raise ConfigError("backoff age limits must increase from tier to tier")
        tiers.append((limit, delay))
    if not math.isinf(tiers[-1][0]):
        raise ConfigError("the last backoff tier must have the age limit 'inf', e.g. inf:600")
    return tuple(tiers)


_DURATION_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"30m"``, ``"6h"`` or ``"1d"`` (``""`` and ``"0"``: 0)."""
    cleaned = text.strip().lower()
    if not cleaned:
        return 0.0
    unit = _DURATION_UNITS.get(cleaned[-1])
    number = cleaned[:-1] if unit is not None else cleaned
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise ConfigError(f"{text!r} is not a duration (use e.g. 90s, 30m, 6h or 1d)") from None
    if not (value >= 0 and math.isfinite(value)):
        raise ConfigError(f"{text!r}: a duration must be a finite number >= 0")
    return value


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{text!r} is not a boolean (use true or false)")


def _parse_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a number") from None
    if math.isnan(value):
        raise ConfigError("NaN is not a valid number here")
    return value


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a whole number") from None


def _optional(text: str) -> str | None:
    return text or None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with defaults that run offline.

    Each field is set by the environment variable ``PANIC_<FIELD>`` (upper
    case); ``backoff`` may be given as a string such as ``"inf:0"``.
    """

    database_url: str = "sqlite:///./panic.db"
    secret_key: str | None = None
    data_dir: Path = Path("./panic-data")
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    archive: str = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "panic-invocation-outputs"
    s3_public_url: str | None = None
    s3_create_bucket: bool = False
    openai_base_url: str = "https://api.openai.com/v1"
    replicate_base_url: str = "https://api.replicate.com/v1"
    gemini_base_url: str = "https://generativelanguage.googleapis.com/v1beta"
    vestaboard_base_url: str = "https://rw.vestaboard.com"
    backoff: BackoffTiers | str = DEFAULT_BACKOFF
    dummy_delay: float = 0.0
    resume_runs: bool = True
    invoke_timeout: float = 600.0
    platform_retries: int = 3
    shutdown_timeout: float = 10.0
    log_level: str = "INFO"
    # Running for weeks: metrics, alerts, error reports, scheduled backups (docs/operations.md).
    metrics_token: str | None = None
    sentry_dsn: str | None = None
    backup_every: float = 0.0
    backup_keep: int = 7
    backup_dir: Path | None = None
    alert_email_to: str | None = None
    alert_email_from: str = "panic-trio@localhost"
    alert_smtp_host: str | None = None
    alert_smtp_port: int = 25
    alert_smtp_user: str | None = None
    alert_smtp_password: str | None = None
    alert_smtp_starttls: bool = False
    alert_webhook_url: str | None = None
    alert_failures: int = 3
    alert_archive_failures: int = 3
    alert_disk_free_percent: float = 5.0
    alert_cooldown: float = 3600.0
    alert_check_every: float = 60.0
    prices: Path | None = None
    global_daily_cap: float | None = None
    cap_timezone: str = "UTC"
    # Connection limits: per client address, and how long a request body may take.
    max_sockets_per_client: int = 200
    max_requests_per_client: int = 100
    body_timeout: float = 60.0
    # Behind a reverse proxy: how many proxies' X-Forwarded-For/-Proto to believe (0: none).
    proxy_hops: int = 0
    # Several processes on one PostgreSQL (docs/operations.md): who we are, how long a lease lasts.
    node_name: str | None = None
    lease_seconds: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.backoff, str):
            object.__setattr__(self, "backoff", parse_backoff(self.backoff))
        if self.backup_dir is not None:
            object.__setattr__(self, "backup_dir", Path(self.backup_dir))
        self._check_operations()
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.archive not in ARCHIVE_BACKENDS:
            raise ConfigError(
                f"archive must be one of {', '.join(ARCHIVE_BACKENDS)}, not {self.archive!r}"
            )
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be between 1 and 65535, not {self.port}")
        for name in ("max_sockets_per_client", "max_requests_per_client"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.proxy_hops <= 10:
            raise ConfigError(f"proxy_hops must be between 0 and 10, not {self.proxy_hops}")
        if not (self.body_timeout > 0 and math.isfinite(self.body_timeout)):
            raise ConfigError(f"body_timeout must be a finite number > 0, not {self.body_timeout}")
        for name in ("dummy_delay", "invoke_timeout", "shutdown_timeout"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a finite number >= 0, not {value}")
        if self.global_daily_cap is not None and not (
            self.global_daily_cap >= 0 and math.isfinite(self.global_daily_cap)
        ):
            raise ConfigError(
                f"global_daily_cap must be a finite amount >= 0 (USD), not {self.global_daily_cap}"
            )
        try:
            zoneinfo.ZoneInfo(self.cap_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                "cap_timezone must be a time zone name such as UTC or Europe/Berlin, "
                f"not {self.cap_timezone!r}"
            ) from None
        if self.prices is not None:
            object.__setattr__(self, "prices", Path(self.prices))
        if not (self.lease_seconds >= 1 and math.isfinite(self.lease_seconds)):
            raise ConfigError(
                f"lease_seconds must be a finite number >= 1, not {self.lease_seconds}"
            )
        if self.node_name is not None and not (0 < len(self.node_name) <= 100):
            raise ConfigError("node_name must be 1 to 100 characters")
        if self.platform_retries < 0:
            raise ConfigError("platform_retries must be >= 0")
        if not self.database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigError(
                "database_url must be a sqlite:/// or postgresql+psycopg:// URL, "
                f"not {self.database_url!r}"
            )

    def _check_operations(self) -> None:
        for name in ("backup_every", "alert_cooldown", "alert_disk_free_percent"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a finite number >= 0, not {value}")
        if not (self.alert_check_every > 0 and math.isfinite(self.alert_check_every)):
            raise ConfigError("alert_check_every must be a finite number of seconds > 0")
        for name in ("backup_keep", "alert_failures", "alert_archive_failures"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.backup_every and not self.database_url.startswith("sqlite:"):
            raise ConfigError(
                "backup_every makes SQLite backups only; back up PostgreSQL with pg_dump "
                "(see docs/operations.md)"
            )
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ConfigError("metrics_token must be at least 16 characters")
        if bool(self.alert_email_to) != bool(self.alert_smtp_host):
            raise ConfigError("alert e-mails need both alert_email_to and alert_smtp_host")

    @property
    def backups_folder(self) -> Path:
        """Where scheduled backups go (``backup_dir``, else ``data_dir/backups``)."""
        return self.backup_dir or self.data_dir / "backups"

    @property
    def backoff_tiers(self) -> BackoffTiers:
        """The parsed backoff tiers (``backoff`` is always parsed after init)."""
        assert not isinstance(self.backoff, str)
        return self.backoff

    @property
    def node(self) -> str:
        """This process's name among several (``node_name``, else ``<host>-<pid>``)."""
        return self.node_name or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def cap_zone(self) -> zoneinfo.ZoneInfo:
        """The time zone whose midnight starts a spending day."""
        return zoneinfo.ZoneInfo(self.cap_timezone)

    @property
    def base_url(self) -> str:
        """The URL browsers and models use to reach this server."""
        url = self.public_url or f"http://{self.host}:{self.port}"
        return url.rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``PANIC_*`` variables, then apply ``overrides``.

        Raises:
            ConfigError: an unknown ``PANIC_*`` variable, or a value that does
                not parse; the message names the variable.
        """
        env = os.environ if environ is None else environ
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for key, raw in env.items():
            if not key.startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX) :].lower()
            if name not in known:
                raise ConfigError(f"unknown setting {key} (known: {_known_list(known)})")
            try:
                values[name] = _PARSERS.get(name, str)(raw)
            except ConfigError as exc:
                raise ConfigError(f"{key}: {exc}") from None
        values.update(overrides)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ConfigError:
            raise
        except TypeError as exc:
            raise ConfigError(str(exc)) from None


def _known_list(known: set[str]) -> str:
    return ", ".join(ENV_PREFIX + name.upper() for name in sorted(known))


_PARSERS: Final[dict[str, Callable[[str], object]]] = {
    "secret_key": _optional,
    "public_url": _optional,
    "s3_endpoint_url": _optional,
    "s3_public_url": _optional,
    "s3_create_bucket": _parse_bool,
    "data_dir": Path,
    "port": _parse_int,
    "backoff": parse_backoff,
    "dummy_delay": _parse_number,
    "resume_runs": _parse_bool,
    "invoke_timeout": _parse_number,
    "platform_retries": _parse_int,
    "shutdown_timeout": _parse_number,
    "metrics_token": _optional,
    "sentry_dsn": _optional,
    "backup_every": parse_duration,
    "backup_keep": _parse_int,
    "backup_dir": lambda text: Path(text) if text else None,
    "alert_email_to": _optional,
    "alert_smtp_host": _optional,
    "alert_smtp_port": _parse_int,
    "alert_smtp_user": _optional,
    "alert_smtp_password": _optional,
    "alert_smtp_starttls": _parse_bool,
    "alert_webhook_url": _optional,
    "alert_failures": _parse_int,
    "alert_archive_failures": _parse_int,
    "alert_disk_free_percent": _parse_number,
    "alert_cooldown": parse_duration,
    "alert_check_every": parse_duration,
    "prices": lambda text: Path(text) if text else None,
    "global_daily_cap": lambda text: _parse_number(text) if text.strip() else None,
    "max_sockets_per_client": _parse_int,
    "max_requests_per_client": _parse_int,
    "body_timeout": _parse_number,
    "proxy_hops": _parse_int,
    "node_name": _optional,
    "lease_seconds": _parse_number,
}
