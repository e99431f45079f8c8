"""Pages: who may see what (anonymous, owner, other user, admin), and what they show."""

from __future__ import annotations

import re

import pytest
import trio

from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in, text_of

PRIVATE_PAGES = [
    "/users/{owner}",
    "/networks/{net}",
    "/networks/{net}/info/qr",
    "/networks/{net}/info/qr.json",
    "/networks/{net}/delete",
]


def fill(path: str, world: World) -> str:
    return path.format(owner=world.owner.id, net=world.network.id)


@pytest.mark.parametrize("path", PRIVATE_PAGES)
async def test_private_pages_by_visitor(world: World, path: str) -> None:
    with trio.fail_after(TIMEOUT):
        url = fill(path, world)
        anonymous = await client(world).get(url)
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"].startswith("/sign-in?next=")
        assert (await (await signed_in(world, world.owner)).get(url)).status_code == 200
        assert (await (await signed_in(world, world.admin)).get(url)).status_code == 200
        stranger = await (await signed_in(world, world.other)).get(url)
        assert stranger.status_code == 404  # not 403: private pages do not admit they exist


@pytest.mark.parametrize(
    "path", ["/", "/about", "/about/", "/networks/{net}/info", "/healthz", "/favicon.ico"]
)
async def test_public_pages(world: World, path: str) -> None:
    with trio.fail_after(TIMEOUT):
        assert (await client(world).get(fill(path, world))).status_code == 200


async def test_not_found_page(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        for path in ("/404", "/this-route-does-not-exist", "/networks/999/info"):
            response = await client(world).get(path)
            assert response.status_code == 404
            page = await text_of(response)
            assert "404 (page not found)" in page
            assert "Whoops - the page you're looking for doesn't exist." in page
            assert '<a href="/about/">Find out more about PANIC!</a>' in page


async def test_home_links_to_sign_in_or_your_dashboard(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        assert 'href="/sign-in"' in await text_of(await client(world).get("/"))
        owner = await signed_in(world, world.owner)
        assert f'href="/users/{world.owner.id}"' in await text_of(await owner.get("/"))
        assert 'id="current-user-email"' not in await text_of(await client(world).get("/about"))


async def test_about_page_content(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        page = await text_of(await client(world).get("/about"))
        for words in ("prose-purple", "feedback", "Taking part", "Research questions", "Contact"):
            assert words in page
        sections = re.findall(r'<h2 id="([a-z-]+)"', page)
        assert sections == [
            "taking-part",
            "what-you-see",
            "research-questions",
            "models",
            "people",
            "links",
            "contact",
        ]
        questions = page.split('id="research-questions"')[1].split("<h2")[0]
        assert questions.count("<li>") >= 6
        for link in (
            "https://github.com/ANUcybernetics/panic",
            "https://cybernetics.anu.edu.au",
            "mailto:ben.swift@anu.edu.au",
            "/static/fonts/OFL.txt",
        ):
            assert f'href="{link}"' in page
        for anchor in re.findall(r'href="#([a-z-]+)"', page):
            assert f'id="{anchor}"' in page  # the contents links land somewhere


async def test_model_links_go_somewhere_real(world: World) -> None:
    """Every model link on an info page is a provider's page or a section that exists."""
    with trio.fail_after(TIMEOUT):
        info = await text_of(await client(world).get(f"/networks/{world.network.id}/info"))
        links = re.findall(r'<ol class="model-list">.*?</ol>', info, re.S)[0]
        hrefs = re.findall(r'href="([^"]+)"', links)
        assert hrefs
        about = await text_of(await client(world).get("/about"))
        for href in hrefs:
            if href.startswith("/about#"):
                assert f'id="{href.removeprefix("/about#")}"' in about
            else:
                assert href.startswith("https://"), href


async def test_the_typeface_and_its_licence_are_served_from_here(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        css = await text_of(await client(world).get("/static/panic.css"))
        faces = re.findall(r'url\("(fonts/[^"]+\.woff2)"\)', css)
        assert len(faces) == 4
        assert '@font-face { font-family: "Sometype Mono"' in css
        assert "https://" not in css  # no CDN
        for face in faces:
            font = await client(world).get(f"/static/{face}")
            assert font.status_code == 200
            assert (await font.get_data())[:4] == b"wOF2"
        licence = await text_of(await client(world).get("/static/fonts/OFL.txt"))
        assert "SIL OPEN FONT LICENSE Version 1.1" in licence
        assert "Sometype Mono Project Authors" in licence


async def test_info_page_is_public_and_lists_models(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.start_run(world.network.id, "what the info page shows")
        page = await text_of(await client(world).get(f"/networks/{world.network.id}/info"))
        assert "Network name: Loop" in page
        assert "<em>hello</em>" in page  # the description's Markdown
        assert "Dummy Text-to-Image" in page
        assert "(text -&gt; image)" in page
        assert "what the info page shows" in page
        assert 'id="current-output"' in page
        assert "qr-sheet" not in page


async def test_qr_page_encodes_a_fresh_terminal_url(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(f"/networks/{world.network.id}/info/qr"))
        assert 'id="qr-sheet"' in page
        assert "scan to prompt" in page
        assert 'src="data:image/svg+xml' in page
        url = re.search(r'id="qr-url" href="([^"]+)"', page)
        assert url
        token = url.group(1).split("token=")[1]
        assert world.tokens.check(token, world.network) == "ok"
        fresh = await (await owner.get(f"/networks/{world.network.id}/info/qr.json")).get_json()
        assert fresh["url"] != url.group(1).replace("&amp;", "&")
        assert fresh["image"].startswith("data:image/svg+xml")


async def test_control_panel_shows_editor_terminal_status_and_grid(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(f"/networks/{world.network.id}"))
        for needle in (
            'id="model-select-input"',
            'placeholder="Add model..."',
            "Dummy Text-to-Image",
            "Dummy Image-to-Text",
            "Model Name",
            'placeholder="Ready for new input"',
            'id="runner-status"',
            'data-state="idle"',
            'id="grid"',
            'id="stop-button"',
            "Last prompt:",
        ):
            assert needle in page, needle
        assert "data-ready-at" not in page
        await world.panic.start_run(world.network.id, "now locked out")
        page = await text_of(await owner.get(f"/networks/{world.network.id}"))
        assert "data-ready-at=" in page
        assert "now locked out" in page


async def test_descriptions_are_sanitised(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.update_network(
            world.network.id,
            description="<script>alert(1)</script> **bold** [x](javascript:alert(2))",
        )
        for c, path in ((client(world), "/info"), (await signed_in(world, world.owner), "")):
            page = await text_of(await c.get(f"/networks/{world.network.id}{path}"))
            assert "<strong>bold</strong>" in page
            assert "<script>alert(1)" not in page
            assert 'href="javascript:' not in page


async def test_edit_network_changes_only_valid_input(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        url = f"/networks/{world.network.id}/edit"
        stranger = await signed_in(world, world.other)
        token = await csrf_of(stranger)
        form = {"name": "Hijacked", "description": "", "lockout_seconds": "5", "csrf_token": token}
        assert (await stranger.post(url, form=form)).status_code == 404
        owner = await signed_in(world, world.owner)
        token = await csrf_of(owner)
        for bad in ({"name": "   "}, {"lockout_seconds": "soon"}, {"lockout_seconds": "-1"}):
            response = await owner.post(url, form={**form, "csrf_token": token, **bad})
            assert response.status_code == 422
            assert 'id="edit-error"' in await text_of(response)
        assert (await world.panic.get_network(world.network.id)).name == "Loop"
        good = await owner.post(url, form={**form, "csrf_token": token, "name": "Renamed"})
        assert good.status_code == 303
        changed = await world.panic.get_network(world.network.id)
        assert (changed.name, changed.lockout_seconds) == ("Renamed", 5)
        assert "Network updated successfully" in await text_of(
            await owner.get(good.headers["Location"])
        )


async def test_stop_button_stops_the_run(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.start_run(world.network.id, "stop me")
        url = f"/networks/{world.network.id}/stop"
        stranger = await signed_in(world, world.other)
        refused = await stranger.post(url, form={"csrf_token": await csrf_of(stranger)})
        assert refused.status_code == 404
        assert world.panic.status(world.network.id).active
        owner = await signed_in(world, world.owner)
        response = await owner.post(url, form={"csrf_token": await csrf_of(owner)})
        assert response.status_code == 303
        assert world.panic.status(world.network.id).state == "idle"


async def test_delete_asks_first(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        url = f"/networks/{world.network.id}/delete"
        stranger = await signed_in(world, world.other)
        token = await csrf_of(stranger)
        assert (await stranger.post(url, form={"csrf_token": token, "confirm": "yes"})
                ).status_code == 404  # fmt: skip
        owner = await signed_in(world, world.owner)
        token = await csrf_of(owner)
        asked = await owner.post(url, form={"csrf_token": token})
        assert "Are you sure you want to delete this network?" in await text_of(asked)
        assert await world.panic.list_networks(world.owner.id)
        done = await owner.post(url, form={"csrf_token": token, "confirm": "yes"})
        assert done.status_code == 303
        assert await world.panic.list_networks(world.owner.id) == []


async def test_dashboard_creates_networks_or_explains(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        url = f"/users/{world.owner.id}/networks"
        token = await csrf_of(owner)
        form = {"name": "Second", "description": "", "lockout_seconds": "30", "csrf_token": token}
        bad = await owner.post(url, form={**form, "models": "dummy-t2i"})
        assert bad.status_code == 422
        assert "doesn&#39;t form a valid cycle" in await text_of(bad)
        assert len(await world.panic.list_networks(world.owner.id)) == 1
        good = await owner.post(url, form={**form, "models": "dummy-t2t"})
        assert good.status_code == 303
        page = await text_of(await owner.get(f"/users/{world.owner.id}"))
        assert 'id="network-list"' in page
        assert "Second" in page
        stranger = await signed_in(world, world.other)
        hijack = await stranger.post(url, form={**form, "csrf_token": await csrf_of(stranger)})
        assert hijack.status_code == 404


async def test_platform_tokens_are_only_ever_shown_masked(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        token = await csrf_of(owner)
        secret = "r8_supersecretreplicatetoken1234"
        response = await owner.post(
            f"/users/{world.owner.id}/tokens", form={"replicate": secret, "csrf_token": token}
        )
        assert response.status_code == 303
        page = await text_of(await owner.get(f"/users/{world.owner.id}"))
        assert secret not in page
        assert "1234" in page
        assert await world.panic.platform_token(world.owner.id, "replicate") == secret
        await owner.post(
            f"/users/{world.owner.id}/tokens",
            form={"clear_replicate": "on", "csrf_token": token},
        )
        assert await world.panic.platform_token(world.owner.id, "replicate") is None


async def test_api_keys_are_shown_once_then_listed(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        owner = await signed_in(world, world.owner)
        token = await csrf_of(owner)
        created = await owner.post(
            f"/users/{world.owner.id}/api-keys", form={"name": "my script", "csrf_token": token}
        )
        assert created.status_code == 201
        key = re.search(r'<code class="secret">([^<]+)</code>', await text_of(created))
        assert key
        assert await world.panic.user_for_api_key(key.group(1)) == world.owner
        later = await text_of(await owner.get(f"/users/{world.owner.id}"))
        assert key.group(1) not in later
        assert "my script" in later
        assert key.group(1)[:8] in later


async def test_static_display_renders_output_safely(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        net = await world.panic.create_network(world.owner.id, "Text", models=["dummy-t2t"])
        attack = '<img src=x onerror="alert(1)"> *shout*'
        async with world.panic.watch(net.id) as events:
            genesis = await world.panic.start_run(net.id, attack[::-1])
            async for event in events:
                if event.invocation and event.invocation.state == "completed":
                    break
        response = await client(world).get(f"/display/static/{genesis.id}")
        page = await text_of(response)
        assert f'id="invocation-{genesis.id}"' in page
        assert f"Panic invocation (network {net.id})" in page
        assert "<img src=x" not in page
        assert "&lt;img src=x" in page
        assert "<em>shout</em>" in page
        assert (await client(world).get("/display/static/99999")).status_code == 404


async def test_remote_shortcuts(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        assert (await c.get("/r/s12345")).headers["Location"] == "/display/static/12345"
        assert (await c.get("/r/abc")).headers["Location"] == "/"


async def test_archive_files_are_served_without_escaping_the_folder(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        folder = trio.Path(world.settings.data_dir / "archive")
        await folder.mkdir(parents=True, exist_ok=True)
        await (folder / "invocation-1-output.webp").write_bytes(b"RIFF....WEBP")
        c = client(world)
        ok = await c.get("/archive/invocation-1-output.webp")
        assert ok.status_code == 200
        assert await ok.get_data() == b"RIFF....WEBP"
        for path in (
            "/archive/..%2Fsecret_key",
            "/archive/../secret_key",
            "/archive/.x",
            "/archive/missing.webp",
            "/dummy/..%2Fsecret_key",
            "/dummy/nope.png",
        ):
            assert (await c.get(path)).status_code == 404, path


WRITES = [  # path, form, admin's answer, then the owner's
    ("/networks/{net}/edit", {"name": "Renamed", "lockout_seconds": "9"}, 303, 303),
    ("/networks/{net}/stop", {}, 303, 303),
    ("/users/{owner}/networks", {"name": "More", "models": "dummy-t2t"}, 303, 303),
    ("/users/{owner}/tokens", {"openai": "sk-test-1234567890"}, 303, 303),
    ("/users/{owner}/api-keys", {"name": "k"}, 404, 201),  # only for yourself
    ("/networks/{net}/delete", {"confirm": "yes"}, 303, 404),  # the admin deleted it
]


@pytest.mark.parametrize(("path", "form", "admin_status", "owner_status"), WRITES)
async def test_every_write_is_for_the_owner_or_an_admin(
    world: World, path: str, form: dict[str, str], admin_status: int, owner_status: int
) -> None:
    with trio.fail_after(TIMEOUT):
        url = fill(path, world)
        anonymous = client(world)
        response = await anonymous.post(url, form={**form, "csrf_token": await csrf_of(anonymous)})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in")
        stranger = await signed_in(world, world.other)
        response = await stranger.post(url, form={**form, "csrf_token": await csrf_of(stranger)})
        assert response.status_code == 404
        assert await world.panic.list_networks(world.owner.id) == [world.network]
        assert await world.panic.masked_tokens(world.owner.id) == {}
        admin = await signed_in(world, world.admin)
        response = await admin.post(url, form={**form, "csrf_token": await csrf_of(admin)})
        assert response.status_code == admin_status
        owner = await signed_in(world, world.owner)
        response = await owner.post(url, form={**form, "csrf_token": await csrf_of(owner)})
        assert response.status_code == owner_status
