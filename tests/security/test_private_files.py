"""Files holding secrets are private to the server's user; HSTS behind https (finding 9).

The probe: ``panic.db`` (password hashes) was created 0644, while
``secret_key`` was 0600; no HSTS header when the public URL is https.
"""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import trio

from panic_trio import Settings, open_panic
from panic_trio.web import create_app
from tests.web.conftest import SECRET, TIMEOUT, World, client


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_data_folder_and_backups_are_owner_only(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db' / 'panic.db'}",
        data_dir=tmp_path / "data",
        backoff="inf:0",
    )
    with trio.fail_after(TIMEOUT):
        async with open_panic(settings) as panic:
            await panic.create_user("a@example.org", "correct horse battery")
            database = tmp_path / "db" / "panic.db"
            assert mode(database) == 0o600
            assert mode(database.parent) == 0o700
            wal = database.with_name("panic.db-wal")
            assert wal.exists()
            assert mode(wal) == 0o600
            assert mode(tmp_path / "data") == 0o700
            assert mode(tmp_path / "data" / "secret_key") == 0o600
            await panic.backup(tmp_path / "backups" / "copy.db")
            assert mode(tmp_path / "backups" / "copy.db") == 0o600


async def test_hsts_only_when_the_public_url_is_https(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        plain = await client(world).get("/")
        assert "Strict-Transport-Security" not in plain.headers
        https = dataclasses.replace(world.settings, public_url="https://panic.example.org")
        app = create_app(world.panic, https, secret_key=SECRET)
        async with app.test_app():
            for path in ("/", "/sign-in", "/healthz", "/nope"):
                response = await app.test_client().get(path)
                hsts = response.headers.get("Strict-Transport-Security", "")
                assert hsts.startswith("max-age="), path
                assert int(hsts.removeprefix("max-age=")) >= 180 * 24 * 3600
