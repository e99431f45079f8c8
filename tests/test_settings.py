"""Settings from the environment: defaults run offline, mistakes are named."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from panic_trio import Settings
from panic_trio.errors import ConfigError


def test_defaults_run_offline() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///./panic.db"
    assert s.data_dir == Path("./panic-data")
    assert s.archive == "local"
    assert s.port == 8000
    assert s.resume_runs is True
    assert s.dummy_delay == 0
    assert s.backoff_tiers == ((600, 1), (3600, 15), (math.inf, 600))
    assert s.base_url == "http://127.0.0.1:8000"


def test_environment_variables_are_parsed() -> None:
    s = Settings.from_env(
        {
            "PANIC_PORT": "9000",
            "PANIC_RESUME_RUNS": "false",
            "PANIC_BACKOFF": "inf:0",
            "PANIC_DUMMY_DELAY": "0.5",
            "PANIC_PUBLIC_URL": "https://panic.example.org/",
            "PANIC_DATA_DIR": "/tmp/x",
            "HOME": "/root",
        }
    )
    assert (s.port, s.resume_runs, s.dummy_delay) == (9000, False, 0.5)
    assert s.backoff_tiers == ((math.inf, 0),)
    assert s.base_url == "https://panic.example.org"
    assert s.data_dir == Path("/tmp/x")


def test_an_unknown_panic_variable_is_an_error_that_names_it() -> None:
    with pytest.raises(ConfigError, match="unknown setting PANIC_DATABSE_URL"):
        Settings.from_env({"PANIC_DATABSE_URL": "sqlite:///x.db"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("PANIC_PORT", "eighty", "PANIC_PORT: 'eighty' is not a whole number"),
        ("PANIC_PORT", "70000", "port must be between 1 and 65535"),
        ("PANIC_RESUME_RUNS", "maybe", "PANIC_RESUME_RUNS: 'maybe' is not a boolean"),
        ("PANIC_BACKOFF", "600:1", "last backoff tier must have the age limit 'inf'"),
        ("PANIC_BACKOFF", "600-1", "must look like AGE_LIMIT:DELAY"),
        ("PANIC_BACKOFF", "600:1,300:2,inf:1", "must increase"),
        ("PANIC_BACKOFF", "inf:-1", "delay must be a finite number >= 0"),
        ("PANIC_DUMMY_DELAY", "-1", "dummy_delay must be a finite number >= 0"),
        ("PANIC_DUMMY_DELAY", "nan", "NaN is not a valid number"),
        ("PANIC_ARCHIVE", "ftp", "archive must be one of local, s3"),
        ("PANIC_DATABASE_URL", "mysql://x", "database_url must be a sqlite"),
        ("PANIC_METRICS_TOKEN", "short", "metrics_token must be at least 16 characters"),
        ("PANIC_BACKUP_KEEP", "0", "backup_keep must be at least 1"),
        ("PANIC_BACKUP_EVERY", "-6h", "a duration must be a finite number >= 0"),
        ("PANIC_ALERT_EMAIL_TO", "ops@example.org", "need both alert_email_to and alert_smtp_host"),
        ("PANIC_ALERT_FAILURES", "0", "alert_failures must be at least 1"),
        ("PANIC_ALERT_CHECK_EVERY", "0", "alert_check_every must be a finite number of seconds"),
        ("PANIC_ALERT_DISK_FREE_PERCENT", "-5", "alert_disk_free_percent must be a finite"),
        ("PANIC_ALERT_SMTP_STARTTLS", "perhaps", "is not a boolean"),
    ],
)
def test_bad_values_are_rejected_with_a_clear_message(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env({key: value})


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_operations_settings_are_read_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "PANIC_METRICS_TOKEN": "m" * 20,
            "PANIC_SENTRY_DSN": "https://key@sentry.example.org/3",
            "PANIC_BACKUP_EVERY": "6h",
            "PANIC_BACKUP_KEEP": "14",
            "PANIC_BACKUP_DIR": "/srv/backups",
            "PANIC_ALERT_EMAIL_TO": "ops@example.org",
            "PANIC_ALERT_SMTP_HOST": "smtp.example.org",
            "PANIC_ALERT_SMTP_PORT": "587",
            "PANIC_ALERT_SMTP_STARTTLS": "true",
            "PANIC_ALERT_WEBHOOK_URL": "https://hooks.example.org/panic",
            "PANIC_ALERT_COOLDOWN": "30m",
            "PANIC_ALERT_CHECK_EVERY": "90s",
        }
    )
    assert (s.backup_every, s.backup_keep, s.backups_folder) == (21600, 14, Path("/srv/backups"))
    assert (s.alert_smtp_port, s.alert_smtp_starttls) == (587, True)
    assert (s.alert_cooldown, s.alert_check_every) == (1800, 90)
    assert Settings(data_dir=Path("/d")).backups_folder == Path("/d/backups")
    assert Settings().backup_every == 0  # off unless asked for
