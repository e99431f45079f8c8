"""Secrets at rest and in logs, sessions, CSRF, terminal tokens, and script injection."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
import trio
from quart.typing import TestClientProtocol as Client

from panic_trio.settings import Settings
from panic_trio.web import create_app
from tests.security.routes import fill
from tests.web.conftest import (
    PASSWORD,
    SECRET,
    TIMEOUT,
    World,
    client,
    csrf_of,
    make_settings,
    signed_in,
    text_of,
)

TOKEN = "sk-very-secret-token-4242424242"
SCRIPT = "<script>alert('pwned')</script><img src=x onerror=alert(1)>"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """OpenAI points at a closed port, so a run with the token fails fast, offline."""
    return make_settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1", platform_retries=0)


def raw_files(world: World) -> bytes:
    path = Path(world.settings.database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_platform_tokens_are_encrypted_in_the_database_the_backup_and_absent_from_logs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        response = await owner.post(
            f"/users/{world.owner.id}/tokens",
            form={"openai": TOKEN, "csrf_token": await csrf_of(owner)},
        )
        assert response.status_code == 303
        assert await world.panic.platform_token(world.owner.id, "openai") == TOKEN
        # Shown masked, never in full, on every page and API answer the owner sees.
        for path in (f"/users/{world.owner.id}", f"/networks/{world.network.id}",
                     "/api/networks", f"/api/networks/{world.network.id}"):  # fmt: skip
            body = await text_of(await owner.get(path, headers={"X-CSRF-Token": "x"}))
            assert TOKEN not in body, path
        # A run that uses the token and fails: the reason never carries it.
        net = await world.panic.create_network(world.owner.id, "gpt", models=["gpt-5-chat"])
        async with world.panic.watch(net.id) as events:
            await world.panic.start_run(net.id, "hello")
            async for event in events:
                if event.status.state == "failed":
                    break
        assert "could not reach OpenAI" in (event.status.error or "")
        assert TOKEN not in (event.status.error or "")
        admin = await signed_in(world, world.admin)
        backup = await admin.get("/admin/backup")
        assert backup.status_code == 200
        backup_bytes = await backup.get_data(as_text=False)
        assert backup_bytes.startswith(b"SQLite format 3")
    assert TOKEN.encode() not in raw_files(world)
    assert TOKEN.encode() not in backup_bytes
    assert TOKEN not in caplog.text


async def test_api_keys_are_kept_only_as_hashes(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        key = await world.panic.create_api_key(world.owner.id, "k")
        listed = await world.panic.list_api_keys(world.owner.id)
    assert key.encode() not in raw_files(world)
    assert key not in repr(listed)


def session_cookie(test_client: Client) -> str:
    jar = test_client.cookie_jar
    assert jar is not None
    [value] = [c.value for c in jar if c.name == "_panic_key"]
    assert value is not None
    return value


async def test_signing_in_issues_a_new_session_and_the_old_cookie_grants_nothing(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        visitor = client(world)
        csrf_before = await csrf_of(visitor, "/sign-in")
        planted = session_cookie(visitor)  # what a fixation attacker would have set or seen
        response = await visitor.post(
            "/sign-in",
            form={"email": world.owner.email, "password": PASSWORD, "csrf_token": csrf_before},
        )
        assert response.status_code == 303
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/" in cookie
        signed = session_cookie(visitor)
        assert signed != planted
        assert await csrf_of(visitor) != csrf_before  # the pre-login CSRF token was replaced
        attacker, holder = client(world), client(world)
        attacker.set_cookie("localhost", "_panic_key", planted)
        holder.set_cookie("localhost", "_panic_key", signed)
        assert (await attacker.get("/dashboard")).status_code == 302  # to sign-in
        assert (await holder.get("/dashboard")).status_code in (200, 302)
        assert world.owner.email in await text_of(await holder.get(f"/users/{world.owner.id}"))
        assert world.owner.email not in await text_of(
            await attacker.get(f"/users/{world.owner.id}")
        )


async def test_cookies_are_secure_behind_https(world: World) -> None:
    https = dataclasses.replace(world.settings, public_url="https://panic.example.org")
    app = create_app(world.panic, https, secret_key=SECRET)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            visitor = app.test_client()
            csrf = await csrf_of(visitor, "/sign-in")
            response = await visitor.post(
                "/sign-in",
                form={"email": world.owner.email, "password": PASSWORD, "csrf_token": csrf},
            )
            assert response.status_code == 303
            assert "Secure" in response.headers["Set-Cookie"]


async def test_every_session_write_needs_the_csrf_token(world: World) -> None:
    """Every write route of the live URL map, by the signed-in owner, without the token."""
    with trio.fail_after(TIMEOUT):
        panic = world.panic
        owner = await signed_in(world, world.owner)
        await panic.create_api_key(world.owner.id, "kept")
        [key_row] = await panic.list_api_keys(world.owner.id)
        genesis = await panic.store.create_genesis(world.network.id, "dummy-t2t", "kept")
        ids = {"invocation": genesis.id, "key": int(key_row["id"])}
        before = (await panic.list_networks(), await panic.list_api_keys(world.owner.id))
        tried = 0
        for rule in world.app.url_map.iter_rules():
            methods = (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
            if getattr(rule, "websocket", False) or not methods:
                continue
            path = fill(rule.rule, world, ids)
            for method in methods:
                response = await getattr(owner, method.lower())(
                    path, form={"name": "changed", "confirm": "yes"}
                )
                assert response.status_code == 403, (method, path, response.status_code)
                tried += 1
        assert tried >= 20
        after = (await panic.list_networks(), await panic.list_api_keys(world.owner.id))
        assert after == before
        assert (await owner.get(f"/users/{world.owner.id}")).status_code == 200  # still signed in


async def test_tampered_expired_and_foreign_terminal_tokens_are_refused_everywhere(
    world: World,
) -> None:
    """The JSON API, the terminal page and its form, and the live socket."""
    with trio.fail_after(TIMEOUT):
        panic = world.panic
        mine = world.network.id
        theirs = await panic.create_network(world.other.id, "theirs", models=["dummy-t2t"])
        old = world.tokens.issue(world.network)
        world.clock.now += 3601  # one hour and a second later
        fresh = world.tokens.issue(world.network)
        foreign = world.tokens.issue(theirs)
        tampered = {
            fresh[:i] + ("A" if c != "A" else "B") + fresh[i + 1 :] for i, c in enumerate(fresh)
        }
        for token in tampered:
            assert world.tokens.check(token, world.network) == "invalid", token
        cases = {"tampered": next(iter(tampered)), "other network": foreign, "expired": old}
        assert [world.tokens.check(t, world.network) for t in cases.values()] == [
            "invalid", "wrong_network", "expired"
        ]  # fmt: skip
        for why, token in cases.items():
            api = await client(world).post(
                f"/api/networks/{mine}/runs?token={token}", json={"prompt": "let me in"}
            )
            assert api.status_code == 401, why
            for method in ("get", "post"):
                visitor = client(world)
                csrf = await csrf_of(visitor, "/sign-in")
                page = await getattr(visitor, method)(
                    f"/networks/{mine}/terminal?token={token}",
                    form={"prompt": "let me in", "csrf_token": csrf},
                )
                assert page.status_code == 302, (why, method)
                assert page.headers["Location"].endswith("/terminal/expired"), (why, method)
            async with client(world).websocket(f"/ws/networks/{mine}?token={token}") as ws:
                await ws.receive()  # the status on connect
                await ws.send(json.dumps({"type": "start_run", "prompt": "let me in"}))
                reply = json.loads(await ws.receive())
                while reply["type"] == "status":
                    reply = json.loads(await ws.receive())
                assert reply["type"] == "error", (why, reply)
        assert panic.status(mine).state == "idle"
        assert not [r for r in await panic.recent_invocations(100) if r.network_id == mine]
        ok = await client(world).post(
            f"/api/networks/{mine}/runs?token={fresh}", json={"prompt": "scanned just now"}
        )
        assert ok.status_code == 201


async def test_a_script_in_a_model_output_or_description_is_shown_as_text(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        panic = world.panic
        genesis = await panic.store.create_genesis(world.network.id, "dummy-t2t", SCRIPT)
        done, _ = await panic.store.complete_and_prepare_next(genesis.id, SCRIPT, {})
        await panic.update_network(
            world.network.id,
            description=f"{SCRIPT}\n\n[click](javascript:alert(1)) <a href='x' onclick='y'>a</a>",
        )
        owner = await signed_in(world, world.owner)
        admin = await signed_in(world, world.admin)
        token = world.tokens.issue(world.network)
        pages = [
            (client(world), f"/display/static/{done.id}"),
            (client(world), f"/networks/{world.network.id}/info"),
            (client(world), f"/networks/{world.network.id}/terminal?token={token}"),
            (owner, f"/networks/{world.network.id}"),
            (admin, "/admin"),
        ]
        for test_client, path in pages:
            response = await test_client.get(path)
            assert response.status_code == 200, path
            body = await text_of(response)
            assert "<script>alert" not in body, path  # no live tag, only escaped text
            assert "<img src=x onerror" not in body, path
            assert "<a href='x' onclick" not in body, path
            assert 'href="javascript:' not in body, path
        static = await text_of(await client(world).get(f"/display/static/{done.id}"))
        assert "&lt;script&gt;alert(" in static  # shown, as text


async def test_failed_sign_ins_lock_out_even_the_right_password(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        attacker = client(world)
        csrf = await csrf_of(attacker, "/sign-in")
        statuses = []
        for _ in range(6):
            response = await attacker.post(
                "/sign-in",
                form={"email": world.owner.email, "password": "guess", "csrf_token": csrf},
            )
            statuses.append(response.status_code)
        assert statuses[:5] == [401] * 5
        assert statuses[5] == 429
        response = await attacker.post(
            "/sign-in", form={"email": world.owner.email, "password": PASSWORD, "csrf_token": csrf}
        )
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
