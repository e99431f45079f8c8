"""CLI arguments and settings as anyone might mistype them.

``Settings.from_env`` with any value for any ``PANIC_*`` variable gives
settings or a ``ConfigError`` naming the problem, nothing else. The CLI with
any arguments exits 0, 1 or 2 with at most a one-line error, never a
traceback, and never touches a database other than the configured one.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panic_trio.cli import main
from panic_trio.errors import ConfigError
from panic_trio.settings import Settings

FIELDS = [f.name for f in dataclasses.fields(Settings)]
VALUES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "65536",
            "nan",
            "inf",
            "-inf",
            "1e309",
            "true",
            "yes",
            "2",
            "600:1,3600:15,inf:600",
            "inf:0",
            "10:1,5:2,inf:3",
            "x:y",
            "inf:-1",
            "sqlite:///",
            "postgresql://nobody@127.0.0.1:1/none",
            "::::",
        ]
    ),
)
QUICK = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@QUICK
@given(env=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4))
def test_any_environment_gives_settings_or_a_config_error(env: dict[str, str]) -> None:
    environ = {f"PANIC_{name.upper()}": value for name, value in env.items()}
    message: str | None = None
    try:
        loaded = Settings.from_env(environ)
    except ConfigError as exc:
        message = str(exc)
    else:
        assert loaded.port >= 1
        assert loaded.backoff_tiers
    if message is not None:
        assert message
        assert "\n" not in message


@QUICK
@given(name=st.text(min_size=1, max_size=12).filter(lambda n: n.lower() not in FIELDS))
def test_unknown_panic_variables_are_refused_by_name(name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({f"PANIC_{name}": "x"})
    assert str(refused.value).startswith(f"unknown setting PANIC_{name} (known: ")


TOKENS = st.sampled_from(
    [
        "",
        "-1",
        "0",
        "3",
        "99999999999999999999",
        "nan",
        "--count",
        "--lockout",
        "--owner",
        "--models",
        "--admin",
        "--password-stdin",
        "--description",
        "-x",
        "--help-me",
        "é",
        "nobody@example.org",
        "a@b.c",
        "dummy-t2t,dummy-t2t",
        "dummy-t2i",
        "nope,nope",
        "1",
        "2",
        "backup.db",
        "dir/",
        "../x",
    ]
)
COMMANDS = st.sampled_from(
    [
        ["db", "upgrade"],
        ["user", "add"],
        ["network", "add"],
        ["models"],
        ["run"],
        ["backup"],
        ["user"],
        ["network"],
        ["frobnicate"],
        [],
    ]
)


@QUICK
@given(command=COMMANDS, args=st.lists(TOKENS, max_size=6), stdin=st.text(max_size=30))
def test_any_arguments_exit_cleanly(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    args: list[str],
    stdin: str,
) -> None:
    with tempfile.TemporaryDirectory() as folder:  # each example starts from nothing
        here = Path(folder)
        monkeypatch.chdir(here)
        monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{here / 'cli.db'}")
        monkeypatch.setenv("PANIC_DATA_DIR", str(here / "data"))
        monkeypatch.setenv("PANIC_SECRET_KEY", "a cli fuzz secret key, long enough")
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        argv = command + args
        if argv[:1] == ["run"]:
            argv += ["--count", "2"]  # a valid run must end
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse: usage errors and --help
            status = exit_.code if isinstance(exit_.code, int) else 1
        _, err = capsys.readouterr()
        assert status in (0, 1, 2), (argv, status, err)
        assert "Traceback" not in err
        if status != 0:
            lines = [line for line in err.splitlines() if line.strip()]
            assert lines, argv
            if "usage:" not in err:
                assert len(lines) == 1, err  # one line, naming the problem
                assert lines[0].startswith("panic-trio"), err
        assert not (here / "panic.db").exists()  # only the configured database is used
