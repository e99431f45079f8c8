"""The command line: real processes of work, one-line errors, never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import trio

from panic_trio import open_panic
from panic_trio.cli import main
from panic_trio.domain import Network
from panic_trio.store.database import head_revision


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PANIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PANIC_BACKOFF", "inf:0")
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def add_user(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], email: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, _, err = run(["user", "add", email, "--password-stdin"], capsys)
    assert (code, err) == (0, "")


ADD_X = ["network", "add", "x", "--owner", "cli@example.org", "--models", "dummy-t2t"]


def test_db_upgrade_reports_the_revision(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["db", "upgrade"], capsys)
    assert code == 0
    assert out.strip() == f"database is at revision {head_revision()}"


def test_a_network_can_be_created_and_run_headless(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(monkeypatch, capsys, "cli@example.org")
    code, out, err = run(
        ["network", "add", "demo", "--owner", "cli@example.org", "--models", "dummy-t2i,dummy-i2t"],
        capsys,
    )
    assert (code, err) == (0, "")
    network_id = out.strip().splitlines()[-1]
    assert network_id.isdigit()
    code, out, err = run(["run", network_id, "a red balloon", "--count", "3"], capsys)
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert lines[0].startswith("run ")
    assert [line.split()[0] for line in lines[1:]] == ["[1/3]", "[2/3]", "[3/3]"]
    assert "#0 dummy-t2i completed: http" in lines[1]
    assert "#1 dummy-i2t completed: DUMMY_CAPTION" in lines[2]


def test_a_network_can_be_created_with_spending_caps(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(monkeypatch, capsys, "cli@example.org")
    argv = ["network", "add", "capped", "--owner", "cli@example.org", "--models", "dummy-t2t"]
    code, out, err = run([*argv, "--daily-cap", "2.5", "--run-cap", "0.5"], capsys)
    assert (code, err) == (0, "")
    network_id = int(out.strip().splitlines()[-1])

    async def read() -> Network:
        async with open_panic() as panic:
            return await panic.get_network(network_id)

    network = trio.run(read)
    assert (network.daily_cap, network.run_cap) == (2.5, 0.5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["network", "add", "x", "--owner", "nobody@example.org", "--models", "dummy-t2t"],
            "panic-trio: error: no user with email nobody@example.org",
        ),
        (
            ["network", "add", "x", "--owner", "cli@example.org", "--models", "dummy-i2t"],
            "panic-trio: error: Network doesn't form a valid cycle: "
            "Dummy Image-to-Text output (text) doesn't match Dummy Image-to-Text input (image), "
            "Initial input output (text) does not match Dummy Image-to-Text input (image)",
        ),
        (
            ["network", "add", "x", "--owner", "cli@example.org", "--models", "nope"],
            "panic-trio: error: Network contains models that no longer exist: nope",
        ),
        (
            [
                "network",
                "add",
                "x",
                "--owner",
                "cli@example.org",
                "--models",
                "dummy-t2t",
                "--lockout",
                "-5",
            ],
            "panic-trio: error: lockout seconds must be between 0 and 86,400",
        ),
        (
            [*ADD_X, "--daily-cap", "-1"],
            "panic-trio: error: daily cap must be between 0 and 1,000,000 USD",
        ),
        (
            [*ADD_X, "--run-cap", "lots"],
            "panic-trio network add: error: argument --run-cap: 'lots' is not an amount in USD"
            " (see --help)",
        ),
        (["run", "999", "hello"], "panic-trio: error: no network with id 999"),
        (["run", "1", "   "], "panic-trio: error: prompt must not be empty"),
        (
            ["run", "abc", "hello"],
            "panic-trio run: error: argument network_id: 'abc' is not a whole number (see --help)",
        ),
        (
            ["run", "1", "x", "--count", "0"],
            "panic-trio run: error: argument --count: must be at least 1 (see --help)",
        ),
        (["frobnicate"], "panic-trio: error: argument command: invalid choice"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_a_nonzero_status(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    add_user(monkeypatch, capsys, "cli@example.org")
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    _, err = capsys.readouterr()
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(message)
    assert "Traceback" not in err


def test_an_unknown_setting_is_refused(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANIC_DUMMY_DELY", "1")
    code, _, err = run(["models"], capsys)
    assert code == 2
    assert err.startswith("panic-trio: error: unknown setting PANIC_DUMMY_DELY")


def test_duplicate_users_are_refused(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(monkeypatch, capsys, "twice@example.org")
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, _, err = run(["user", "add", "TWICE@example.org", "--password-stdin"], capsys)
    assert code == 2
    assert err.strip() == "panic-trio: error: a user with email twice@example.org already exists"


def test_models_prints_the_catalog_as_a_table(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["models"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "PLATFORM", "IN→OUT"]
    assert any(line.split()[0] == "dummy-t2i" and "text→image" in line for line in lines)
    assert any(line.startswith("flux-schnell") and line.endswith("deprecated") for line in lines)
    assert len(lines) == 51


def test_backup_writes_a_copy(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(monkeypatch, capsys, "b@example.org")
    target = env / "backup.db"
    code, _, _ = run(["backup", str(target)], capsys)
    assert code == 0
    assert target.stat().st_size > 0


def test_backup_onto_a_folder_is_one_line_and_writes_nothing(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(monkeypatch, capsys, "b@example.org")
    folder = env / "backups"
    folder.mkdir()
    code, out, err = run(["backup", str(folder)], capsys)
    assert code == 1
    assert out == ""
    assert err.strip() == f"panic-trio: error: cannot write a backup to {folder}: it is a folder"
    assert list(folder.iterdir()) == []
    assert not (env / "backups.partial").exists()


def test_user_add_without_a_terminal_asks_for_password_stdin(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("typed blind\n"))
    code, _, err = run(["user", "add", "blind@example.org"], capsys)
    assert code == 2
    assert "use --password-stdin" in err
    add_user(monkeypatch, capsys, "blind@example.org")  # the address was not taken


def test_network_check_says_valid_and_warns_about_missing_tokens(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(monkeypatch, capsys, "check@example.org")
    models = "dummy-t2a,gemini-audio-description"
    code, out, _ = run(
        ["network", "add", "g", "--owner", "check@example.org", "--models", models], capsys
    )
    assert code == 0
    assert "warning: Gemini Audio Description (Flash) needs a Gemini token" in out
    network_id = out.strip().splitlines()[-1]
    code, out, err = run(["network", "check", network_id], capsys)
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert lines[1] == "valid"
    assert lines[2].startswith("warning: Gemini Audio Description (Flash) needs a Gemini token")
