"""``panic-trio restore PATH``: round trip, refusals, bad files (one line each, nothing changed)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio

from panic_trio import Settings, open_panic
from panic_trio.cli import main
from panic_trio.store.database import head_revision

SECRET = "the show's own secret key, 2026"
OPENAI_KEY = "sk-live-0123456789abcdefghij"
GUARD = 30


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{tmp_path / 'panic.db'}")
    monkeypatch.setenv("PANIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PANIC_SECRET_KEY", SECRET)
    monkeypatch.setenv("PANIC_BACKOFF", "inf:0")
    return Settings.from_env()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


async def _seed(settings: Settings, backup: Path) -> dict[str, Any]:
    """A show with users, a token, a network and a run; backed up, then changed."""
    async with open_panic(settings) as panic:
        await panic.create_user("admin@example.org", "correct horse battery", admin=True)
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        await panic.set_platform_token(owner.id, "openai", OPENAI_KEY)
        network = await panic.create_network(owner.id, "loop", models=["dummy-t2t"])
        with trio.fail_after(GUARD):
            async with panic.watch(network.id) as events:
                genesis = await panic.start_run(network.id, "a red balloon")
                async for event in events:
                    row = event.invocation
                    if row is not None and row.state == "completed" and row.sequence_number == 2:
                        break
            await panic.stop_run(network.id)
        run = await panic.list_run(network.id, genesis.run_number)
        await panic.backup(backup)
        # After the backup: what a restore must undo.
        await panic.create_user("late@example.org", "correct horse battery")
        await panic.delete_network(network.id)
    return {"owner": owner.id, "network": network, "run": run}


async def _read_back(settings: Settings, seeded: dict[str, Any]) -> dict[str, Any]:
    async with open_panic(settings) as panic:
        network = seeded["network"]
        return {
            "emails": [u.email for u in await panic.list_users()],
            "network": await panic.get_network(network.id),
            "run": await panic.list_run(network.id, seeded["run"][0].run_number),
            "token": await panic.platform_token(seeded["owner"], "openai"),
        }


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_restore_round_trips_users_networks_runs_and_tokens(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backups" / "panic-backup.db"
    seeded = trio.run(_seed, env, backup)
    code, out, err = run(["restore", str(backup)], capsys)
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    database = tmp_path / "panic.db"
    assert lines[0] == (
        f"restored {backup} into {database}: 2 users, 1 networks, 1 runs, "
        f"{len(seeded['run'])} invocations, 1 platform tokens (migration {head_revision()})"
    )
    [aside] = tmp_path.glob("panic.db.replaced-*")
    assert lines[1] == f"the database it replaced is kept at {aside}"
    assert lines[2] == "all 1 platform tokens decrypt with this secret key"
    back = trio.run(_read_back, env, seeded)
    assert back["emails"] == ["admin@example.org", "owner@example.org"]
    assert back["network"] == seeded["network"]
    assert back["run"] == seeded["run"]
    assert back["token"] == OPENAI_KEY
    with sqlite3.connect(aside) as db:  # what was replaced, whole: the later user is there
        emails = [r[0] for r in db.execute("SELECT email FROM users ORDER BY id")]
    assert emails == ["admin@example.org", "owner@example.org", "late@example.org"]


def test_restore_onto_a_new_machine_needs_no_database_there(
    env: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup = tmp_path / "backup.db"
    seeded = trio.run(_seed, env, backup)
    fresh = tmp_path / "new-machine" / "panic.db"
    monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{fresh}")
    code, out, err = run(["restore", str(backup)], capsys)
    assert (code, err) == (0, "")
    assert "kept at" not in out  # nothing was replaced
    back = trio.run(_read_back, Settings.from_env(), seeded)
    assert back["token"] == OPENAI_KEY


def test_with_another_secret_key_it_says_the_tokens_cannot_be_read(
    env: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup = tmp_path / "backup.db"
    trio.run(_seed, env, backup)
    monkeypatch.setenv("PANIC_SECRET_KEY", "a different secret key, 2027")
    code, out, err = run(["restore", str(backup)], capsys)
    assert (code, err) == (0, "")
    assert out.strip().splitlines()[-1] == (
        "1 of 1 platform tokens cannot be decrypted with this secret key: the backup was made "
        "with another PANIC_SECRET_KEY; set that key, or have their owners enter them again"
    )


async def test_restore_is_refused_while_a_server_uses_the_database(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.db"
    async with open_panic(env) as panic:
        await panic.create_user("owner@example.org", "correct horse battery")
        await panic.backup(backup)
        await panic.create_user("late@example.org", "correct horse battery")
        with trio.fail_after(GUARD):
            code = await trio.to_thread.run_sync(main, ["restore", str(backup)])
        emails = [u.email for u in await panic.list_users()]
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err == (
        "panic-trio: error: a panic-trio server (or another panic-trio command) is using "
        f"{tmp_path / 'panic.db'}: stop it before restoring\n"
    )
    assert emails == ["owner@example.org", "late@example.org"]
    assert not list(await trio.Path(tmp_path).glob("panic.db.replaced-*"))


def _not_sqlite(path: Path, good: Path) -> None:
    path.write_bytes(b"id,email\n1,owner@example.org\n")


def _another_app(path: Path, good: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")


def _newer(path: Path, good: Path) -> None:
    shutil.copy(good, path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")


def _damaged(path: Path, good: Path) -> None:
    data = bytearray(good.read_bytes())
    page = 4096
    data[page : len(data)] = b"\xa5" * (len(data) - page)  # every page after the first
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (_not_sqlite, "{path} is not an SQLite database"),
        (_another_app, "{path} is not a PANIC database (it has no alembic_version table)"),
        (
            _newer,
            "{path} was written by a newer panic-trio (migration 0099_from_the_future; "
            "this release knows up to {head}): upgrade first",
        ),
        (_damaged, "{path} is damaged: database disk image is malformed"),
        (lambda path, good: None, "{path}: no such file"),
    ],
)
def test_a_bad_file_gets_one_clear_line_and_nothing_changes(
    env: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Any,
    line: str,
) -> None:
    good = tmp_path / "good.db"
    trio.run(_seed, env, good)
    database = tmp_path / "panic.db"
    before = digest(database)
    bad = tmp_path / "bad.db"
    make(bad, good)
    code, out, err = run(["restore", str(bad)], capsys)
    assert (code, out) == (2, "")
    assert err == f"panic-trio: error: {line.format(path=bad, head=head_revision())}\n"
    assert digest(database) == before
    assert not list(tmp_path.glob("panic.db.replaced-*"))
    assert not list(tmp_path.glob("panic.db.restoring"))


def test_restore_needs_a_sqlite_database(
    env: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PANIC_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:9/panic")
    good = tmp_path / "good.db"
    with sqlite3.connect(good):
        pass
    code, _, err = run(["restore", str(good)], capsys)
    assert code == 2
    assert "for PostgreSQL use pg_restore" in err
    assert len(err.splitlines()) == 1


def test_the_help_says_what_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["restore", "--help"])
    out = capsys.readouterr().out
    for words in ("integrity_check", "migration", "replaced-", "PANIC_SECRET_KEY", "pg_dump"):
        assert words in out
