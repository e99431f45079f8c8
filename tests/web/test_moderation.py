"""Moderation over HTTP and sockets: the blocklist, the prompt log, token throttling, hiding.

A blocked prompt never creates a row and the visitor is told only a neutral
sentence; the log names the terminal token each visitor prompt came from; a
hidden output leaves every page and socket at once, stays in the database,
and comes back only when shown again.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from urllib.parse import urlsplit

import trio

from panic_trio.errors import BLOCKED_MESSAGE
from panic_trio.store import invocations as invocation_queries
from panic_trio.web import create_app
from tests.web.conftest import SECRET, TIMEOUT, World, client, csrf_of, signed_in, text_of


async def block(world: World, pattern: str) -> Any:
    owner = await signed_in(world, world.owner)
    return await owner.post(
        f"/networks/{world.network.id}/moderation/blocklist",
        form={"csrf_token": await csrf_of(owner), "pattern": pattern},
    )


async def rows_of(world: World) -> int | None:
    """The network's latest run number (``None``: no run was ever started)."""
    return await world.panic.store.read(invocation_queries.latest_run_number, world.network.id)


async def test_the_moderation_page_is_the_owners_and_admins(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        path = f"/networks/{world.network.id}/moderation"
        assert (await client(world).get(path)).status_code == 302
        assert (await (await signed_in(world, world.other)).get(path)).status_code == 404
        for user in (world.owner, world.admin):
            page = await text_of(await (await signed_in(world, user)).get(path))
            assert "Blocked words" in page
            assert "Prompt log" in page
        other = await signed_in(world, world.other)
        refused = await other.post(
            f"{path}/blocklist", form={"csrf_token": await csrf_of(other), "pattern": "cat"}
        )
        assert refused.status_code == 404
        assert await world.panic.moderation.patterns(world.network.id) == []


async def test_blocked_prompts_are_refused_on_every_path_and_never_create_a_row(
    world: World,
) -> None:
    with trio.fail_after(TIMEOUT):
        response = await block(world, "Balloon*")
        assert response.status_code == 303
        token = world.tokens.issue(world.network)
        visitor = client(world)
        api = await visitor.post(
            f"/api/networks/{world.network.id}/runs?token={token}",
            json={"prompt": "a red BALLOONS over the sea"},
        )
        assert api.status_code == 422
        body = await api.get_json()
        assert (body["error"], body["message"]) == ("invalid_prompt", BLOCKED_MESSAGE)
        async with visitor.websocket(f"/ws/networks/{world.network.id}?token={token}") as ws:
            await ws.receive()  # the status on connect
            await ws.send(json.dumps({"type": "start_run", "prompt": "one balloon"}))
            while (reply := json.loads(await ws.receive()))["type"] == "status":
                pass
            assert reply == {"type": "error", "message": BLOCKED_MESSAGE}
        form = await visitor.post(
            f"/networks/{world.network.id}/terminal?token={token}",
            form={"csrf_token": await csrf_of(visitor), "prompt": "balloon"},
        )
        assert form.status_code == 303
        page = await text_of(await visitor.get(form.headers["Location"]))
        assert "That prompt can&#39;t be used here" in page
        assert "balloon*" not in page.lower()  # the visitor never learns the pattern
        assert await rows_of(world) is None
        assert world.panic.status(world.network.id).state == "idle"
        # The owner's own prompts meet the same list.
        owner = await signed_in(world, world.owner)
        mine = await owner.post(
            f"/api/networks/{world.network.id}/runs",
            json={"prompt": "balloon"},
            headers={"X-CSRF-Token": await csrf_of(owner)},
        )
        assert mine.status_code == 422
        assert await rows_of(world) is None
        fine = await visitor.post(
            f"/api/networks/{world.network.id}/runs?token={token}", json={"prompt": "a red kite"}
        )
        assert fine.status_code == 201


async def test_bad_patterns_change_nothing(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        assert (await block(world, "cat")).status_code == 303
        for pattern, reason in (("", "type a word"), ("*", "lone *"), ("CAT", "already blocked")):
            response = await block(world, pattern)
            assert response.status_code == 422, pattern
            assert reason in await text_of(response)
        owner = await signed_in(world, world.owner)
        no_csrf = await owner.post(
            f"/networks/{world.network.id}/moderation/blocklist", form={"pattern": "dog"}
        )
        assert no_csrf.status_code == 403
        patterns = await world.panic.moderation.patterns(world.network.id)
        assert [p["pattern"] for p in patterns] == ["cat"]
        remove = await owner.post(
            f"/networks/{world.network.id}/moderation/blocklist/{patterns[0]['id']}/remove",
            form={"csrf_token": await csrf_of(owner)},
        )
        assert remove.status_code == 303
        assert await world.panic.moderation.patterns(world.network.id) == []


async def test_the_prompt_log_names_the_token_each_visitor_prompt_came_from(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await block(world, "wasp")
        first, second = world.tokens.issue(world.network), world.tokens.issue(world.network)
        visitor = client(world)
        path = f"/api/networks/{world.network.id}/runs"
        started = await visitor.post(f"{path}?token={first}", json={"prompt": "a quiet pond"})
        assert started.status_code == 201
        blocked = await visitor.post(f"{path}?token={second}", json={"prompt": "a wasp nest"})
        assert blocked.status_code == 422
        locked = await visitor.post(f"{path}?token={second}", json={"prompt": "too soon"})
        assert locked.status_code == 429
        log = await world.panic.moderation.prompts(world.network.id)
        assert [(e["prompt"], e["outcome"], e["source"]) for e in log] == [
            ("too soon", "locked_out", "token"),
            ("a wasp nest", "blocked", "token"),
            ("a quiet pond", "started", "token"),
        ]
        first_id, second_id = world.tokens.token_id(first), world.tokens.token_id(second)
        assert [e["token"] for e in log] == [second_id, second_id, first_id]
        assert first_id is not None
        assert first_id not in first.split(".")[-1]  # no part of the signature
        assert log[2]["run_number"] == (await started.get_json())["genesis"]["run_number"]
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(f"/networks/{world.network.id}/moderation"))
        assert second_id is not None
        for needle in ("a quiet pond", "a wasp nest", first_id, second_id, "locked out"):
            assert needle in page
        assert first not in page  # the log holds the token's id, never the token


async def test_one_token_is_throttled_across_addresses_and_paths(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        app = create_app(
            world.panic,
            world.settings,
            secret_key=SECRET,
            terminal_tokens=world.tokens,
            prompt_limit=(2, 600.0),
        )
        async with app.test_app():
            token = world.tokens.issue(world.network)
            path = f"/api/networks/{world.network.id}/runs?replace=false&token={token}"
            answers = []
            for n, address in enumerate(("10.0.0.1", "10.0.0.2", "10.0.0.3")):
                response = await app.test_client().post(
                    path, json={"prompt": f"visitor {n}"}, scope_base={"client": (address, 1)}
                )
                answers.append(response.status_code)
            assert answers[0] == 201
            assert answers[1] == 429  # locked out: the run just started (counted all the same)
            assert answers[2] == 429
            body = await response.get_json()
            assert body["error"] == "rate_limited"
            # A fresh token from a fresh address is a new visitor.
            other = world.tokens.issue(world.network)
            fresh = await app.test_client().post(
                f"/api/networks/{world.network.id}/runs?token={other}",
                json={"prompt": "someone else"},
                scope_base={"client": ("10.0.0.9", 1)},
            )
            assert (await fresh.get_json())["error"] == "locked_out"


async def wait_for_output(world: World) -> int:
    """Start a run and return its genesis id once the genesis completed and was archived."""
    async with world.panic.watch(world.network.id) as events:
        genesis = await world.panic.start_run(world.network.id, "a lighthouse at dusk")
        async for event in events:
            if event.kind == "archived" and event.invocation and event.invocation.id == genesis.id:
                return genesis.id
    raise AssertionError("the genesis was never archived")


async def test_a_hidden_output_leaves_every_view_and_stays_in_the_database(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        genesis_id = await wait_for_output(world)
        stored = await world.panic.get_invocation(genesis_id)
        assert stored.output
        net = world.network.id
        token = world.tokens.issue(world.network)
        owner = await signed_in(world, world.owner)
        csrf = await csrf_of(owner)
        share = await owner.post(
            f"/networks/{net}/runs/{genesis_id}/share", form={"csrf_token": csrf}
        )
        assert share.status_code == 303
        run_page = await text_of(await owner.get(f"/networks/{net}/runs/{genesis_id}"))
        public_link = (
            run_page.split('id="share-link" href="')[1].split('"')[0].replace("&amp;", "&")
        )
        async with client(world).websocket(f"/ws/networks/{net}?token={token}") as ws:
            await ws.receive()
            hide = await owner.post(
                f"/networks/{net}/moderation/hide",
                form={"csrf_token": csrf, "invocation_id": str(genesis_id)},
            )
            assert hide.status_code == 303
            while (frame := json.loads(await ws.receive()))["type"] != "hidden":
                pass
        assert frame["invocation"]["id"] == genesis_id
        assert frame["invocation"]["output"] is None
        assert frame["invocation"]["input"] == ""  # the first step: the prompt goes too
        assert frame["invocation"]["metadata"]["hidden"] is True
        # Stays in the database, marked; the owner's JSON API still has it.
        kept = await world.panic.get_invocation(genesis_id)
        assert (kept.output, kept.metadata["hidden"]) == (stored.output, True)
        api = await owner.get(f"/api/networks/{net}/runs/{genesis_id}")
        assert (await api.get_json())["invocations"][0]["output"] == stored.output
        # Gone from every page on reload, the owner's included.
        output_path = stored.output.removeprefix(world.settings.base_url)
        for viewer, path in (
            (client(world), f"/networks/{net}/info"),
            (client(world), f"/networks/{net}/terminal?token={token}"),
            (client(world), f"/display/static/{genesis_id}"),
            (client(world), f"{urlsplit(public_link).path}?{urlsplit(public_link).query}"),
            (owner, f"/networks/{net}/runs/{genesis_id}"),
            (owner, f"/networks/{net}"),
            (owner, f"/networks/{net}/runs"),
            (await signed_in(world, world.admin), "/admin"),
        ):
            page = await text_of(await viewer.get(path))
            assert output_path not in page, path
            assert "a lighthouse at dusk" not in page, path
        exported = await owner.get(f"/networks/{net}/runs/{genesis_id}/export")
        archive = zipfile.ZipFile(io.BytesIO(await exported.get_data(as_text=False)))
        assert not [n for n in archive.namelist() if n.startswith("media/00000")]
        run_json = json.loads(archive.read("run.json"))
        assert run_json["invocations"][0]["output"] is None
        assert run_json["run"]["prompt"] == ""
        assert "hidden by the operator" in archive.read("index.html").decode()
        # Shown again, it is back.
        back = await owner.post(
            f"/networks/{net}/moderation/hide",
            form={"csrf_token": csrf, "invocation_id": str(genesis_id), "action": "show"},
        )
        assert back.status_code == 303
        info = await text_of(await client(world).get(f"/networks/{net}/info"))
        assert "a lighthouse at dusk" in info


async def test_hiding_needs_the_networks_owner_and_its_own_output(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        genesis_id = await wait_for_output(world)
        elsewhere = await world.panic.create_network(world.other.id, "Other", models=["dummy-t2t"])
        other = await signed_in(world, world.other)
        refused = await other.post(
            f"/networks/{world.network.id}/moderation/hide",
            form={"csrf_token": await csrf_of(other), "invocation_id": str(genesis_id)},
        )
        assert refused.status_code == 404
        wrong = await other.post(
            f"/networks/{elsewhere.id}/moderation/hide",
            form={"csrf_token": await csrf_of(other), "invocation_id": str(genesis_id)},
        )
        assert wrong.status_code == 422
        for bad in ("", "abc", "99999999999"):
            owner = await signed_in(world, world.owner)
            response = await owner.post(
                f"/networks/{world.network.id}/moderation/hide",
                form={"csrf_token": await csrf_of(owner), "invocation_id": bad},
            )
            assert response.status_code == 422, bad
        assert "hidden" not in (await world.panic.get_invocation(genesis_id)).metadata
