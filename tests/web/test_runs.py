"""Run pages and the run API: history, a page per run, public links, export downloads."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import trio

from panic_trio.domain import Invocation
from tests.runs import completed_at_least, start_and_wait
from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in, text_of
from tests.web.test_api import api_key

FAILURE = "the provider said <no> (HTTP 400)"


async def three_runs(world: World) -> tuple[int, int, int]:
    """A stopped run, a failed one and a running one (newest), on the world's network."""
    panic, net = world.panic, world.network.id
    stopped, _ = await start_and_wait(panic, net, "first <script>x</script>", completed_at_least(0))
    assert await panic.stop_run(net)
    genesis = await panic.store.create_genesis(net, "dummy-t2i", "second")
    await panic.store.fail(genesis.id, {"error": FAILURE})
    running, _ = await start_and_wait(panic, net, "third", completed_at_least(0))
    return stopped.run_number, genesis.run_number, running.run_number


async def test_history_page_and_api_show_each_runs_ending_and_counts(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        stopped, failed, running = await three_runs(world)
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(f"/networks/{world.network.id}/runs"))
        rows = re.findall(r'<tr id="run-(\d+)" data-ending="(\w+)">', page)
        assert rows == [
            (str(running), "running"),
            (str(failed), "failed"),
            (str(stopped), "stopped"),
        ]
        assert "the provider said &lt;no&gt; (HTTP 400)" in page
        assert "first &lt;script&gt;x&lt;/script&gt;" in page
        assert "<script>x" not in page

        headers = await api_key(world, world.owner.id)
        body = await (
            await client(world).get(f"/api/networks/{world.network.id}/runs", headers=headers)
        ).get_json()
        assert [(r["run_number"], r["ending"], r["steps"], r["reason"]) for r in body["runs"]] == [
            (running, "running", 1, None),
            (failed, "failed", 0, FAILURE),
            (stopped, "stopped", 1, None),
        ]
        assert body["runs"][0]["ended_at"] is None
        assert body["runs"][0]["cost"] == {
            "amount": 0.0,
            "currency": "USD",
        }  # dummy steps cost nothing (metadata.cost.amount 0)
        assert body["next_before"] is None


async def test_api_pages_are_keyset_pages_and_refuse_bad_cursors(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        stopped, failed, running = await three_runs(world)
        headers = await api_key(world, world.owner.id)
        url = f"/api/networks/{world.network.id}/runs"
        first = await (await client(world).get(f"{url}?limit=2", headers=headers)).get_json()
        assert [r["run_number"] for r in first["runs"]] == [running, failed]
        assert first["next_before"] == failed
        rest = await (
            await client(world).get(f"{url}?limit=2&before={failed}", headers=headers)
        ).get_json()
        assert [r["run_number"] for r in rest["runs"]] == [stopped]
        assert rest["next_before"] is None
        bad_cursors = ("limit=0", "limit=101", "limit=x", "before=0", "before=-3", "before=abc")
        # "²" is a digit to str.isdigit() but not to int(): it was a 500.
        for bad in (*bad_cursors, "before=%C2%B2", "limit=%C2%B2", "before=%D9%A3"):
            response = await client(world).get(f"{url}?{bad}", headers=headers)
            assert response.status_code == 422, bad
            assert (await response.get_json())["error"] == "invalid_input"
        owner = await signed_in(world, world.owner)
        page = await owner.get(f"/networks/{world.network.id}/runs?before=%C2%B2")
        assert page.status_code == 422


async def test_history_is_the_owners(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await three_runs(world)
        url = f"/networks/{world.network.id}/runs"
        assert (await client(world).get(url)).status_code == 302  # to sign in
        other = await signed_in(world, world.other)
        assert (await other.get(url)).status_code == 404
        admin = await signed_in(world, world.admin)
        assert (await admin.get(url)).status_code == 200
        other_key = await api_key(world, world.other.id)
        response = await client(world).get(f"/api{url}", headers=other_key)
        assert response.status_code == 404
        assert (await client(world).get(f"/api{url}")).status_code == 401


async def test_a_run_page_shows_the_whole_chain_to_its_owner(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        stopped, failed, _ = await three_runs(world)
        owner = await signed_in(world, world.owner)
        page = await text_of(await owner.get(f"/networks/{world.network.id}/runs/{stopped}"))
        assert re.findall(r'<li class="step state-(\w+)" id="step-(\d+)"', page) == [
            ("completed", "0"),
            ("failed", "1"),
        ]
        assert "Dummy Text-to-Image (text -&gt; image)" in page
        assert re.search(r'<img src="/(dummy|archive)/[^"]+" alt="output of step 0"', page)
        assert '<p class="step-stopped">stopped</p>' in page
        assert "failed: cancelled" not in page  # a stop is not a failure
        assert 'id="run-ending" data-ending="stopped">stopped' in page
        failed_page = await text_of(await owner.get(f"/networks/{world.network.id}/runs/{failed}"))
        assert "failed: the provider said &lt;no&gt; (HTTP 400)" in failed_page
        missing = await owner.get(f"/networks/{world.network.id}/runs/{stopped + 1000}")
        assert missing.status_code == 404


async def _share(world: World, test_client: Any, run_number: int, action: str = "") -> str:
    path = f"/networks/{world.network.id}/runs/{run_number}"
    form = {"csrf_token": await csrf_of(test_client, path)}
    if action:
        form["action"] = action
    response = await test_client.post(f"{path}/share", form=form)
    assert response.status_code == 303
    page = await text_of(await test_client.get(path))
    found = re.search(r'<a id="share-link" href="([^"]+)"', page)
    return found.group(1).replace("&amp;", "&") if found else ""


async def test_a_private_run_is_404_and_a_public_link_works_until_revoked(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        _, failed, _ = await three_runs(world)
        path = f"/networks/{world.network.id}/runs/{failed}"
        other = await signed_in(world, world.other)
        assert (await client(world).get(path)).status_code == 404
        assert (await other.get(path)).status_code == 404

        owner = await signed_in(world, world.owner)
        link = await _share(world, owner, failed)
        assert link.startswith(f"http://localhost{path}?share={world.network.id}.{failed}.")
        public = link.removeprefix("http://localhost")
        shown = await client(world).get(public)
        assert shown.status_code == 200
        text = await text_of(shown)
        assert "second" in text
        assert "HTTP 400" not in text  # failure reasons are the owner's
        assert "failed" not in re.sub(r"<[^>]+>", "", text.split('id="chain"')[1])  # visible text
        assert "no output" in text
        assert 'data-ending="failed">ended' in text
        assert "Make public" not in text
        assert "Export" not in text
        assert (await other.get(public)).status_code == 200

        # The signature binds the link to this run: no other run, no edits.
        token = public.partition("share=")[2]
        assert (await client(world).get(f"{path}?share={token[:-1]}x")).status_code == 404
        other_run = f"/networks/{world.network.id}/runs/{failed - 1}?share={token}"
        assert (await client(world).get(other_run)).status_code == 404

        assert await _share(world, owner, failed, "revoke") == ""
        assert (await client(world).get(public)).status_code == 404
        again = await _share(world, owner, failed)
        assert again != link  # a new nonce: the revoked link stays dead
        assert (await client(world).get(public)).status_code == 404
        assert (await client(world).get(again.removeprefix("http://localhost"))).status_code == 200


async def test_sharing_is_the_owners_and_needs_the_form_token(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        _, failed, _ = await three_runs(world)
        path = f"/networks/{world.network.id}/runs/{failed}/share"
        other = await signed_in(world, world.other)
        form = {"csrf_token": await csrf_of(other)}
        assert (await other.post(path, form=form)).status_code == 404
        owner = await signed_in(world, world.owner)
        assert (await owner.post(path, form={})).status_code == 403
        assert await world.panic.run_share(world.network.id, failed) is None


def unzip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return archive


async def test_export_downloads_from_the_page_and_the_api(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        stopped, _, _ = await three_runs(world)
        path = f"/networks/{world.network.id}/runs/{stopped}/export"
        owner = await signed_in(world, world.owner)
        response = await owner.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/zip"
        assert (
            response.headers["Content-Disposition"]
            == f'attachment; filename="panic-run-{stopped}.zip"'
        )
        archive = unzip(await response.get_data(as_text=False))
        names = archive.namelist()
        assert re.fullmatch(r"media/00000-dummy-t2i\.(png|webp)", names[0])  # archived yet or not
        assert names[1:] == ["run.json", "index.html"]
        run = json.loads(archive.read("run.json"))
        stored = await world.panic.list_run(world.network.id, stopped)
        assert [Invocation.from_json(i) for i in run["invocations"]] == stored

        headers = await api_key(world, world.owner.id)
        by_api = await client(world).get(f"/api{path}", headers=headers)
        assert by_api.status_code == 200
        assert unzip(await by_api.get_data(as_text=False)).namelist()[1:] == names[1:]

        other = await signed_in(world, world.other)
        assert (await other.get(path)).status_code == 404
        other_key = await api_key(world, world.other.id)
        assert (await client(world).get(f"/api{path}", headers=other_key)).status_code == 404
        missing = f"/api/networks/{world.network.id}/runs/{stopped + 1000}/export"
        assert (await client(world).get(missing, headers=headers)).status_code == 404


async def test_the_control_panel_and_info_page_draw_the_ring(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await three_runs(world)
        owner = await signed_in(world, world.owner)
        for path in (f"/networks/{world.network.id}", f"/networks/{world.network.id}/info"):
            page = await text_of(await owner.get(path))
            nodes = re.findall(
                r'<g class="ring-node( lit)?" id="ring-node-(\d)"[^>]*aria-label="([^"]+)"', page
            )
            # The running run waits before step 1 (the image-to-text model): that node is lit.
            assert nodes == [
                ("", "0", "1: Dummy Text-to-Image, text → image"),
                (" lit", "1", "2: Dummy Image-to-Text, image → text"),
            ]
            assert 'id="ring-counter" x="200" y="206" text-anchor="middle">step 1<' in page
            assert re.search(r'class="ring-thumb"[^>]*href="/(dummy|archive)/[^"]+"', page)
