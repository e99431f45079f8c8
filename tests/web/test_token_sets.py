"""Named token sets over HTTP: several per user, shared by email, chosen per network;
tokens encrypted at rest and never shown whole; every write is the set owner's."""

from __future__ import annotations

from typing import Any

import sqlalchemy
import trio
from quart.typing import TestClientProtocol as Client

from panic_trio.store.schema import platform_tokens
from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in, text_of

SECRET_TOKEN = "sk-gallery-secret-0123456789abcd"


async def post(test_client: Client, path: str, **form: str) -> Any:
    return await test_client.post(path, form={"csrf_token": await csrf_of(test_client), **form})


async def set_named(world: World, test_client: Client, user_id: int, name: str) -> int:
    response = await post(test_client, f"/users/{user_id}/token-sets", name=name)
    assert response.status_code == 303, await text_of(response)
    sets = await world.panic.token_sets.list(user_id)
    return next(s.id for s in sets if s.name == name and s.owner_id == user_id)


async def test_several_named_sets_tokens_encrypted_and_only_shown_masked(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        gallery = await set_named(world, owner, world.owner.id, "Gallery")
        studio = await set_named(world, owner, world.owner.id, "Studio")
        saved = await post(
            owner, f"/users/{world.owner.id}/token-sets/{gallery}/tokens", openai=SECRET_TOKEN
        )
        assert saved.status_code == 303
        page = await text_of(await owner.get(f"/users/{world.owner.id}/token-sets"))
        assert 'data-token-set="Gallery"' in page
        assert 'data-token-set="Studio"' in page
        assert SECRET_TOKEN not in page
        assert SECRET_TOKEN[-4:] in page  # masked: the last four characters
        assert SECRET_TOKEN[:12] not in page
        with world.panic.store.engine.connect() as conn:
            stored = [bytes(r.ciphertext) for r in conn.execute(sqlalchemy.select(platform_tokens))]
        assert stored
        assert all(SECRET_TOKEN.encode() not in ct for ct in stored)
        sets = {s.name: s for s in await world.panic.token_sets.list(world.owner.id)}
        assert sets["Gallery"].masked["openai"].endswith(SECRET_TOKEN[-4:])
        assert sets["Studio"].masked == {}
        assert studio != gallery


async def test_bad_names_and_shares_change_nothing(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        gallery = await set_named(world, owner, world.owner.id, "Gallery")
        base = f"/users/{world.owner.id}/token-sets"
        for name, reason in (("", "give the token set a name"), ("gallery", "already have")):
            response = await post(owner, base, name=name)
            assert response.status_code == 422
            assert reason in await text_of(response)
        for email, reason in (
            ("nobody@example.org", "no account has the email"),
            ("owner@example.org", "yours already"),
            ("not an email", "valid email"),
        ):
            response = await post(owner, f"{base}/{gallery}/share", email=email)
            assert response.status_code == 422, email
            assert reason in await text_of(response)
        no_csrf = await owner.post(base, form={"name": "Sneaky"})
        assert no_csrf.status_code == 403
        sets = await world.panic.token_sets.list(world.owner.id)
        assert [(s.name, s.members) for s in sets] == [("Gallery", [])]


async def test_a_shared_set_is_used_not_changed_by_its_member(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        gallery = await set_named(world, owner, world.owner.id, "Gallery")
        base = f"/users/{world.owner.id}/token-sets/{gallery}"
        await post(owner, f"{base}/tokens", openai=SECRET_TOKEN)
        shared = await post(owner, f"{base}/share", email="OTHER@example.org")
        assert shared.status_code == 303
        theirs = await world.panic.create_network(world.other.id, "Theirs", models=["dummy-t2t"])
        other = await signed_in(world, world.other)
        page = await text_of(await other.get(f"/users/{world.other.id}/token-sets"))
        assert "shared by owner@example.org" in page
        assert SECRET_TOKEN not in page
        chosen = await post(other, f"/networks/{theirs.id}/token-set", token_set_id=str(gallery))
        assert chosen.status_code == 303
        assert await world.panic.token_sets.for_network(theirs, "openai") == SECRET_TOKEN
        # A member changes nothing of the set: each of these is someone else's set (404).
        for path, form in (
            (f"/users/{world.other.id}/token-sets/{gallery}/tokens", {"openai": "sk-mine"}),
            (f"/users/{world.other.id}/token-sets/{gallery}/rename", {"name": "Mine"}),
            (f"/users/{world.other.id}/token-sets/{gallery}/share", {"email": "admin@example.org"}),
            (f"/users/{world.other.id}/token-sets/{gallery}/delete", {"confirm": "yes"}),
            (f"{base}/tokens", {"openai": "sk-mine"}),
        ):
            response = await post(other, path, **form)
            assert response.status_code == 404, path
        [seen] = [s for s in await world.panic.token_sets.list(world.owner.id) if s.id == gallery]
        assert seen.name == "Gallery"
        assert [m["email"] for m in seen.members] == ["other@example.org"]
        assert await world.panic.token_sets.for_network(theirs, "openai") == SECRET_TOKEN
        # The owner ends the share: the member's network goes back to its own tokens.
        ended = await post(owner, f"{base}/members/{world.other.id}/remove")
        assert ended.status_code == 303
        assert await world.panic.token_sets.chosen(world.other.id) == {theirs.id: None}
        assert await world.panic.token_sets.for_network(theirs, "openai") is None
        refused = await post(other, f"/networks/{theirs.id}/token-set", token_set_id=str(gallery))
        assert refused.status_code == 422
        assert await world.panic.token_sets.chosen(world.other.id) == {theirs.id: None}


async def test_only_a_networks_manager_chooses_its_set(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        gallery = await set_named(world, owner, world.owner.id, "Gallery")
        other = await signed_in(world, world.other)
        path = f"/networks/{world.network.id}/token-set"
        assert (await post(other, path, token_set_id=str(gallery))).status_code == 404
        assert (await post(owner, path, token_set_id="banana")).status_code == 422
        assert await world.panic.token_sets.chosen(world.owner.id) == {world.network.id: None}
        assert (await post(owner, path, token_set_id=str(gallery))).status_code == 303
        assert await world.panic.token_sets.chosen(world.owner.id) == {world.network.id: gallery}
        page = await text_of(
            await (await signed_in(world, world.other)).get(f"/users/{world.owner.id}/token-sets")
        )
        assert "Token sets" not in page  # someone else's page is a 404
        admin = await signed_in(world, world.admin)
        assert (await admin.get(f"/users/{world.owner.id}/token-sets")).status_code == 200
        deleted = await post(
            owner, f"/users/{world.owner.id}/token-sets/{gallery}/delete", confirm="yes"
        )
        assert deleted.status_code == 303
        assert await world.panic.token_sets.chosen(world.owner.id) == {world.network.id: None}
        assert (await client(world).get(f"/users/{world.owner.id}/token-sets")).status_code == 302


async def test_the_editor_warns_about_the_tokens_of_the_networks_own_set(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.set_platform_token(world.owner.id, "openai", SECRET_TOKEN)
        owner = await signed_in(world, world.owner)
        check = f"/api/models/check?models=gpt-5-chat&network={world.network.id}"
        assert (await (await owner.get(check)).get_json())["warnings"] == []
        empty = await set_named(world, owner, world.owner.id, "Empty")
        await post(owner, f"/networks/{world.network.id}/token-set", token_set_id=str(empty))
        warnings = (await (await owner.get(check)).get_json())["warnings"]
        assert any("OpenAI" in w for w in warnings)  # its set has none, whatever else the owner has
        await post(owner, f"/networks/{world.network.id}/token-set", token_set_id="")
        assert (await (await owner.get(check)).get_json())["warnings"] == []
