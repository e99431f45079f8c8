"""``panic-trio archive status|retry`` through ``panic_trio.cli.main``.

These are sync tests: the CLI runs its own ``trio.run``, so it cannot run
inside pytest-trio's loop. Seeding runs in a separate ``trio.run`` first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from panic_trio.archive.queries import failed_archives
from panic_trio.cli import main
from panic_trio.models import get_model
from panic_trio.platforms.base import Call
from panic_trio.platforms.registry import open_platforms
from panic_trio.settings import Settings
from panic_trio.store.invocations import merge_metadata
from panic_trio.store.store import open_store
from tests.archive.conftest import completed, list_keys, new_bucket


async def seed(settings: Settings) -> tuple[int, int]:
    """Two completed images whose archive failed: one retryable, one whose file is gone."""
    async with open_store(settings.database_url) as store, open_platforms(settings) as platforms:
        user = await store.create_user("cli@example.org", "not a real hash", False)
        network = await store.create_network(user.id, "cli", "", ["dummy-t2i", "dummy-i2t"], 30)
        call = Call(
            model=get_model("dummy-t2i"), input="a red balloon", token=None, invocation_id=0
        )
        image = (await platforms.dummy.invoke(call)).output
        ok = await completed(store, network, image)
        gone = await completed(store, network, f"{settings.base_url}/dummy/deleted_file.png")
        for row in (ok, gone):
            await store.write(
                merge_metadata, row.id, {"archive_error": "storage down"}, store.now()
            )
    return ok.id, gone.id


async def failed_ids(settings: Settings) -> list[int]:
    async with open_store(settings.database_url) as store:
        return [row.id for row in await store.read(failed_archives)]


@pytest.fixture
def cli_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_endpoint: str) -> Settings:
    env = {
        "PANIC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PANIC_DATA_DIR": str(tmp_path / "data"),
        "PANIC_ARCHIVE": "s3",
        "PANIC_S3_ENDPOINT_URL": moto_endpoint,
        "PANIC_S3_BUCKET": new_bucket(),
        "PANIC_S3_CREATE_BUCKET": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_status_lists_failures_and_retry_archives_them(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ok, gone = trio.run(seed, cli_settings)

    assert main(["archive", "status"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed[:-1]] == [f"#{ok}", f"#{gone}"]
    assert "storage down" in listed[0]
    assert listed[-1] == "2 output(s) not archived, 0 waiting to be archived"

    assert main(["archive", "retry"]) == 1  # the deleted file still fails
    retried = capsys.readouterr().out
    assert f"#{ok} archived: {cli_settings.s3_endpoint_url}/" in retried
    assert f"still failing: #{gone}" in retried
    assert "deleted_file.png is missing" in retried
    assert retried.splitlines()[-1] == "1 archived, 1 still failing"

    assert trio.run(failed_ids, cli_settings) == [gone]
    assert cli_settings.s3_endpoint_url is not None
    keys = list_keys(cli_settings.s3_endpoint_url, cli_settings.s3_bucket)
    assert keys == {f"invocation-{ok}-output.webp"}


def test_status_with_nothing_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("PANIC_DATA_DIR", str(tmp_path / "data"))
    assert main(["archive", "status"]) == 0
    assert main(["archive", "retry"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["every archive succeeded", "0 archived, 0 still failing"]


def test_retry_with_storage_unreachable_is_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("PANIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PANIC_ARCHIVE", "s3")
    monkeypatch.setenv("PANIC_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    assert main(["archive", "retry"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("panic-trio: error: cannot reach S3 bucket")
    assert len(err.strip().splitlines()) == 1


async def seed_unfinished(settings: Settings) -> list[int]:
    """An image and an audio output that completed, then the process died (kill -9)."""
    async with open_store(settings.database_url) as store, open_platforms(settings) as platforms:
        user = await store.create_user("kill@example.org", "not a real hash", False)
        models = ["dummy-t2i", "dummy-i2a", "dummy-a2t"]
        network = await store.create_network(user.id, "killed", "", models, 30)
        left = []
        for model, prompt in (("dummy-t2i", "a red balloon"), ("dummy-t2a", "a low hum")):
            call = Call(model=get_model(model), input=prompt, token=None, invocation_id=0)
            output = (await platforms.dummy.invoke(call)).output
            left.append((await completed(store, network, output, model)).id)
        return left


async def archive_outcomes(settings: Settings, ids: list[int]) -> list[dict[str, object]]:
    async with open_store(settings.database_url) as store:
        return [dict((await store.get_invocation(i)).metadata) for i in ids]


async def start_and_wait_archived(settings: Settings, ids: list[int]) -> None:
    from panic_trio import open_panic

    with trio.fail_after(30):
        async with open_panic(settings) as panic:
            for invocation_id in ids:
                while "archived_from" not in (await panic.get_invocation(invocation_id)).metadata:
                    await trio.sleep(0.02)


def test_outputs_whose_archive_never_finished_are_counted_and_archived_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The probe: kill -9 left completed outputs with neither archived_from nor
    # archive_error; "archive status" said every archive succeeded, "archive
    # retry" found nothing, and nothing ever archived them.
    monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{tmp_path / 'killed.db'}")
    monkeypatch.setenv("PANIC_DATA_DIR", str(tmp_path / "data"))
    settings = Settings.from_env()
    left = trio.run(seed_unfinished, settings)
    assert trio.run(archive_outcomes, settings, left) == [{}, {}]

    assert main(["archive", "status"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed[:-1]] == [f"#{i}" for i in left]
    assert all("waiting" in line for line in listed[:-1])
    assert listed[-1] == "0 output(s) not archived, 2 waiting to be archived"

    trio.run(start_and_wait_archived, settings, left)  # a server start takes them up
    outcomes = trio.run(archive_outcomes, settings, left)
    assert all(o.get("archived_from") and "archive_error" not in o for o in outcomes)
    assert main(["archive", "status"]) == 0
    assert capsys.readouterr().out.splitlines() == ["every archive succeeded"]


def test_retry_also_archives_outputs_whose_archive_never_finished(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANIC_DATABASE_URL", f"sqlite:///{tmp_path / 'killed.db'}")
    monkeypatch.setenv("PANIC_DATA_DIR", str(tmp_path / "data"))
    settings = Settings.from_env()
    left = trio.run(seed_unfinished, settings)
    assert main(["archive", "retry"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "2 archived, 0 still failing"
    assert all("archived_from" in o for o in trio.run(archive_outcomes, settings, left))
