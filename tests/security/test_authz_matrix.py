"""Every route of the app, tried as anonymous, as another user (also with a Bearer key).

For each HTTP route and method in the app's URL map, with every path
parameter pointing at the owner's things:
- never a 5xx; every response carries the security headers;
- no response shows the owner's secrets (platform token, API key, email) or
  a terminal token for the owner's network;
- no write changes anything of the owner's: network, tokens, API keys,
  account, runs (the owner's run is still going at the end).

Other users get CSRF tokens for their own session, so what stops them is
authorisation, not a missing token. The list is the live URL map, so a
route added later is tried too.
"""

from __future__ import annotations

import re
from typing import Any

import trio
from quart.typing import TestClientProtocol as Client

from panic_trio.domain import Network, User
from panic_trio.web.terminal_tokens import TerminalTokens
from tests.security.routes import fill
from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in

OWNER_TOKEN = "sk-owner-secret-0123456789abcdef"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# What a terminal token looks like: network.issued_ms.nonce.signature (url-safe base64).
TOKEN_LIKE = re.compile(r"\d+-[0-9a-z]+\.\d+\.\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}")
# Routes where an anonymous visitor may legitimately change state: none with these probes
# (sign-in with wrong credentials, sign-out of nobody, a terminal post without a token).


async def owner_state(world: World, genesis_run: int) -> tuple[Any, ...]:
    panic = world.panic
    return (
        await panic.list_networks(world.owner.id),
        await panic.masked_tokens(world.owner.id),
        await panic.list_api_keys(world.owner.id),
        await panic.get_user(world.owner.id),
        await panic.moderation.patterns(world.network.id),
        await panic.token_sets.list(world.owner.id),
        await panic.token_sets.chosen(world.owner.id),
        await panic.moderation.hidden(world.network.id),
        [(r.id, r.state) for r in await panic.list_run(world.network.id, genesis_run)],
    )


def check_headers(response: Any, where: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp, where
    assert "unsafe-inline" not in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where


async def probe(
    terminal_tokens: TerminalTokens,
    owners_network: Network,
    test_client: Client,
    method: str,
    path: str,
    csrf: str | None,
    headers: dict[str, str],
    secrets: list[str],
) -> int:
    where = f"{method} {path}"
    send_headers = dict(headers)
    if csrf is not None:
        send_headers["X-CSRF-Token"] = csrf
    form = {"csrf_token": csrf} if csrf else {}
    if method in WRITE_METHODS and path.startswith("/api/"):
        response = await getattr(test_client, method.lower())(
            path, json={"prompt": "intruder", "name": "x"}, headers=send_headers
        )
    elif method in WRITE_METHODS:
        fields = {**form, "confirm": "yes", "name": "x", "openai": "sk-x"}
        response = await getattr(test_client, method.lower())(
            path, form=fields, headers=send_headers
        )
    else:
        response = await getattr(test_client, method.lower())(path, headers=send_headers)
    body: bytes = await response.get_data(as_text=False)
    assert response.status_code < 500, (where, response.status_code, body[:300])
    check_headers(response, where)
    for secret in secrets:
        assert secret.encode() not in body, (where, "leaks", secret[:12])
    for candidate in TOKEN_LIKE.findall(body.decode("utf-8", "replace")):
        assert terminal_tokens.check(candidate, owners_network) != "ok", (where, "leaks a token")
    assert response.mimetype not in ("application/vnd.sqlite3", "application/x-sqlite3"), where
    return int(response.status_code)


async def test_no_route_lets_anonymous_or_other_users_read_or_change_the_owners_things(
    world: World,
) -> None:
    with trio.fail_after(60):
        panic = world.panic
        await panic.set_platform_token(world.owner.id, "openai", OWNER_TOKEN)
        owner_key = await panic.create_api_key(world.owner.id, "owner key")
        [key_row] = await panic.list_api_keys(world.owner.id)
        async with panic.watch(world.network.id) as events:
            genesis = await panic.start_run(world.network.id, "the owner's run")
            async for event in events:
                if event.status.state == "waiting":  # genesis done; the next step in 1000 s
                    break
        await panic.moderation.block(world.network.id, "owners word")
        [block] = await panic.moderation.patterns(world.network.id)
        [token_set] = await panic.token_sets.list(world.owner.id)  # the owner's first set
        await panic.token_sets.choose(world.network.id, token_set.id)
        ids = {
            "invocation": genesis.id,
            "key": int(key_row["id"]),
            "block": int(block["id"]),
            "token_set": token_set.id,
        }
        secrets = [OWNER_TOKEN, owner_key, world.owner.email]
        before = await owner_state(world, genesis.run_number)
        other_key = await panic.create_api_key(world.other.id, "other key")

        anonymous = client(world)
        anonymous_csrf = await csrf_of(anonymous)
        other = await signed_in(world, world.other)
        other_csrf = await csrf_of(other)
        principals: list[tuple[str, Client, str | None, dict[str, str]]] = [
            ("anonymous", anonymous, anonymous_csrf, {}),
            ("other user", other, other_csrf, {}),
            ("other user's API key", client(world), None, {"Authorization": f"Bearer {other_key}"}),
        ]
        tried = 0
        for rule in world.app.url_map.iter_rules():
            if getattr(rule, "websocket", False):
                continue
            path = fill(rule.rule, world, ids)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if rule.endpoint in ("auth.sign_out", "auth.sign_in_submit"):
                    continue  # they act on the caller's own session only
                for _name, test_client, csrf, headers in principals:
                    await probe(world.tokens, world.network, test_client, method, path,
                                csrf, headers, secrets)  # fmt: skip
                    tried += 1
        after = await owner_state(world, genesis.run_number)
        assert after == before
        assert panic.status(world.network.id).state == "waiting"  # nobody stopped the run
        assert tried > 150


async def test_admin_only_routes_refuse_a_signed_in_non_admin(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        other = await signed_in(world, world.other)
        csrf = await csrf_of(other)
        for path in ("/admin", "/admin/backup"):
            response = await other.get(path)
            assert response.status_code in (403, 404), path
        response = await other.post("/admin/stop-all", form={"csrf_token": csrf})
        assert response.status_code in (403, 404)
        response = await other.post("/api/admin/stop-all", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 403


async def owner_sees(world: World, user: User, path: str) -> int:
    return int((await (await signed_in(world, user)).get(path)).status_code)


async def test_the_same_routes_do_work_for_the_owner(world: World) -> None:
    """The matrix above would pass vacuously if every route refused everyone."""
    with trio.fail_after(TIMEOUT):
        net = world.network.id
        for path in (f"/networks/{net}", f"/users/{world.owner.id}", f"/networks/{net}/info/qr"):
            assert await owner_sees(world, world.owner, path) == 200
            assert await owner_sees(world, world.admin, path) == 200
        # The token test the matrix probes (with the name routes.fill gives it) is the owner's.
        owner = await signed_in(world, world.owner)
        token_test = f"/users/{world.owner.id}/tokens/openai/test"
        answer = await owner.post(token_test, form={"csrf_token": await csrf_of(owner)})
        assert answer.status_code == 303, token_test
        # The owner's QR page does carry a terminal token, in the shape the matrix looks for.
        qr = await (await owner.get(f"/networks/{net}/info/qr.json")).get_data(as_text=True)
        found = TOKEN_LIKE.findall(qr)
        assert [t for t in found if world.tokens.check(t, world.network) == "ok"], qr
