"""The JSON API: authentication, authorisation and status codes."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import trio

from tests.web.conftest import TIMEOUT, World, client, csrf_of, signed_in


async def api_key(world: World, user_id: int) -> dict[str, str]:
    key = await world.panic.create_api_key(user_id, "tests")
    return {"Authorization": f"Bearer {key}"}


async def test_start_run_with_an_api_key_returns_the_genesis(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        response = await client(world).post(
            f"/api/networks/{world.network.id}/runs", json={"prompt": "a red balloon"},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 201
        genesis = (await response.get_json())["genesis"]
        assert genesis["input"] == "a red balloon"
        assert genesis["sequence_number"] == 0
        assert genesis["run_number"] == genesis["id"]
        assert datetime.fromisoformat(genesis["inserted_at"]).utcoffset() is not None
        assert "." in genesis["inserted_at"]  # microseconds


async def test_locked_out_is_429_with_whole_second_retry_after(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        url = f"/api/networks/{world.network.id}/runs"
        first = await client(world).post(url, json={"prompt": "first"}, headers=headers)
        assert first.status_code == 201
        second = await client(world).post(url, json={"prompt": "second"}, headers=headers)
        assert second.status_code == 429
        body = await second.get_json()
        assert body["error"] == "locked_out"
        assert body["genesis"]["input"] == "first"
        assert isinstance(body["retry_after"], int)
        assert 1 <= body["retry_after"] <= world.network.lockout_seconds
        assert second.headers["Retry-After"] == str(body["retry_after"])
        assert math.isclose(body["retry_after"], world.network.lockout_seconds, abs_tol=2)


async def test_bad_prompts_are_422_and_start_nothing(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        url = f"/api/networks/{world.network.id}/runs"
        for body in ({"prompt": ""}, {"prompt": "   "}, {"prompt": "x" * 2001}, {}, {"prompt": 3}):
            response = await client(world).post(url, json=body, headers=headers)
            assert response.status_code == 422, body
            payload = await response.get_json()
            assert payload["error"] == "invalid_prompt"
            assert payload["message"]
        assert world.panic.status(world.network.id).state == "idle"


async def test_malformed_json_body_is_400(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        response = await client(world).post(
            f"/api/networks/{world.network.id}/runs", data=b"{not json", headers=headers
        )
        assert response.status_code == 400
        assert (await response.get_json())["error"] == "bad_request"


async def test_credentials_are_required(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        net = world.network.id
        c = client(world)
        assert (await c.post(f"/api/networks/{net}/runs", json={"prompt": "x"})).status_code == 401
        assert (await c.get(f"/api/networks/{net}")).status_code == 401
        assert (await c.delete(f"/api/networks/{net}/runs/current")).status_code == 401
        bad = {"Authorization": "Bearer pt_not-a-real-key"}
        assert (await c.get(f"/api/networks/{net}", headers=bad)).status_code == 401
        assert (await c.get(f"/api/networks/{net}", headers={"Authorization": "Basic x"})
                ).status_code == 401  # fmt: skip


async def test_other_users_networks_are_404_for_every_operation(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.other.id)
        net = world.network.id
        c = client(world)
        calls: list[Any] = [
            c.get(f"/api/networks/{net}", headers=headers),
            c.post(f"/api/networks/{net}/runs", json={"prompt": "x"}, headers=headers),
            c.delete(f"/api/networks/{net}/runs/current", headers=headers),
            c.patch(f"/api/networks/{net}", json={"name": "mine now"}, headers=headers),
            c.get(f"/api/networks/{net}/runs/1", headers=headers),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 404
        assert (await world.panic.get_network(net)).name == "Loop"
        assert world.panic.status(net).state == "idle"


async def test_admin_may_read_and_stop_any_network(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.admin.id)
        net = world.network.id
        await world.panic.start_run(net, "running")
        c = client(world)
        body = await (await c.get(f"/api/networks/{net}", headers=headers)).get_json()
        assert body["network"]["name"] == "Loop"
        assert body["status"]["state"] in ("invoking", "waiting")
        response = await c.delete(f"/api/networks/{net}/runs/current", headers=headers)
        assert await response.get_json() == {"stopped": True}
        assert world.panic.status(net).state == "idle"
        again = await c.delete(f"/api/networks/{net}/runs/current", headers=headers)
        assert await again.get_json() == {"stopped": False}


async def test_session_writes_need_the_csrf_header(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = await signed_in(world, world.owner)
        url = f"/api/networks/{world.network.id}/runs"
        refused = await c.post(url, json={"prompt": "no header"})
        assert refused.status_code == 403
        assert (await refused.get_json())["error"] == "csrf"
        assert world.panic.status(world.network.id).state == "idle"
        token = await csrf_of(c)
        wrong = await c.post(url, json={"prompt": "x"}, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        ok = await c.post(url, json={"prompt": "with header"}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 201
        read = await c.get(f"/api/networks/{world.network.id}")  # reads need no header
        assert read.status_code == 200


async def test_terminal_token_may_start_runs_only(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        net = world.network.id
        token = world.tokens.issue(world.network)
        c = client(world)
        ok = await c.post(f"/api/networks/{net}/runs?token={token}", json={"prompt": "hi"})
        assert ok.status_code == 201
        assert (await c.get(f"/api/networks/{net}?token={token}")).status_code == 401
        stop = await c.delete(f"/api/networks/{net}/runs/current?token={token}")
        assert stop.status_code == 401
        world.clock.now += 3601
        late = await c.post(f"/api/networks/{net}/runs?token={token}", json={"prompt": "late"})
        assert late.status_code == 401
        assert (await late.get_json())["error"] == "invalid_token"


async def test_token_for_another_network_is_refused(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        other = await world.panic.create_network(world.other.id, "Theirs", models=["dummy-t2t"])
        token = world.tokens.issue(other)
        response = await client(world).post(
            f"/api/networks/{world.network.id}/runs?token={token}", json={"prompt": "sneaky"}
        )
        assert response.status_code == 401
        assert world.panic.status(world.network.id).state == "idle"


async def test_unknown_network_is_404(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.admin.id)
        c = client(world)
        assert (await c.get("/api/networks/999", headers=headers)).status_code == 404
        response = await c.post("/api/networks/999/runs", json={"prompt": "x"}, headers=headers)
        assert response.status_code == 404
        assert (await c.get("/api/nothing-here")).status_code == 404
        assert (await (await c.get("/api/nothing-here")).get_json())["error"] == "not_found"


async def test_read_a_run(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        genesis = await world.panic.start_run(world.network.id, "read me")
        url = f"/api/networks/{world.network.id}/runs/{genesis.run_number}"
        body = await (await client(world).get(url, headers=headers)).get_json()
        assert body["invocations"][0]["input"] == "read me"
        assert [i["sequence_number"] for i in body["invocations"]] == sorted(
            i["sequence_number"] for i in body["invocations"]
        )
        missing = f"/api/networks/{world.network.id}/runs/{genesis.run_number + 999}"
        assert (await client(world).get(missing, headers=headers)).status_code == 404


async def test_update_network_is_all_or_nothing(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        url = f"/api/networks/{world.network.id}"
        bad = await client(world).patch(
            url, json={"name": "Renamed", "models": ["dummy-t2i"]}, headers=headers
        )
        assert bad.status_code == 422
        body = await bad.get_json()
        assert body["error"] == "invalid_network"
        assert "doesn't form a valid cycle" in body["message"]
        assert (await world.panic.get_network(world.network.id)).name == "Loop"
        good = await client(world).patch(
            url, json={"models": ["dummy-t2t"], "lockout_seconds": 5}, headers=headers
        )
        assert good.status_code == 200
        assert (await good.get_json())["network"]["models"] == ["dummy-t2t"]


async def test_create_and_list_networks(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.other.id)
        c = client(world)
        created = await c.post(
            "/api/networks", json={"name": "Mine", "models": ["dummy-t2t"]}, headers=headers
        )
        assert created.status_code == 201
        names = [n["name"] for n in (await (await c.get("/api/networks", headers=headers))
                                     .get_json())["networks"]]  # fmt: skip
        assert names == ["Mine"]
        bad = await c.post("/api/networks", json={"name": "", "models": []}, headers=headers)
        assert bad.status_code == 422


async def test_stop_all_is_for_admins(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        await world.panic.start_run(world.network.id, "to be stopped")
        c = client(world)
        owner = await api_key(world, world.owner.id)
        assert (await c.post("/api/admin/stop-all", headers=owner)).status_code == 403
        admin = await api_key(world, world.admin.id)
        response = await c.post("/api/admin/stop-all", headers=admin)
        assert await response.get_json() == {"stopped": 1}


async def test_prompts_are_rate_limited_per_client(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        world.app.extensions["panic_web"].prompt_limiter.capacity = 3
        world.app.extensions["panic_web"].prompt_limiter.rate = 3 / 60
        headers = await api_key(world, world.owner.id)
        url = f"/api/networks/{world.network.id}/runs"
        c = client(world)
        statuses = [(await c.post(url, json={"prompt": ""}, headers=headers)).status_code
                    for _ in range(4)]  # fmt: skip
        assert statuses == [422, 422, 422, 429]
        limited = await c.post(url, json={"prompt": "real"}, headers=headers)
        assert (await limited.get_json())["error"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1


async def test_model_check_for_the_editor(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        body = await (await c.get("/api/models/check?models=dummy-t2i")).get_json()
        assert body["valid"] is False
        assert "doesn't form a valid cycle" in body["problem"]
        assert {m["input"] for m in body["compatible"]} == {"image"}
        ok = await (await c.get("/api/models/check?models=dummy-t2i,dummy-i2t")).get_json()
        assert ok == {**ok, "valid": True, "problem": None}
        empty = await (await c.get("/api/models/check?models=")).get_json()
        assert empty["valid"] is False
        assert {m["input"] for m in empty["compatible"]} == {"text"}


async def test_openapi_describes_the_contract(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        spec = await (await client(world).get("/api/openapi.json")).get_json()
        assert spec["openapi"].startswith("3.")
        paths = spec["paths"]
        assert "post" in paths["/api/networks/{network_id}/runs"]
        assert "429" in paths["/api/networks/{network_id}/runs"]["post"]["responses"]
        assert "delete" in paths["/api/networks/{network_id}/runs/current"]
        assert "get" in paths["/api/networks/{network_id}/runs/{run_number}"]


async def test_ids_no_row_can_have_are_a_json_404_for_every_method(world: World) -> None:
    net = world.network.id
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        for method, path in [
            ("GET", "/api/networks/99999999999999999999999"),
            ("PATCH", "/api/networks/99999999999999999999999"),
            ("PATCH", "/api/networks/0"),
            ("PATCH", "/api/networks/2147483648"),
            ("GET", f"/api/networks/{net}/runs/9223372036854775808"),
            ("GET", f"/api/networks/{net}/runs/4294967296"),
            ("DELETE", "/api/networks/4294967296/runs/current"),
        ]:
            response = await client(world).open(path, method=method, json={}, headers=headers)
            assert response.status_code == 404, (method, path)
            assert (await response.get_json())["error"] == "not_found"


async def test_a_wrong_method_is_405_with_allow(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        response = await client(world).put("/api/networks", headers=headers)
        assert response.status_code == 405
        assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
        assert (await response.get_json())["error"] == "method_not_allowed"


async def test_a_network_cannot_be_created_with_fields_it_does_not_have(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        before = await world.panic.list_networks()
        body = {"name": "mine", "models": ["dummy-t2t"], "owner_id": world.other.id}
        response = await client(world).post("/api/networks", json=body, headers=headers)
        assert response.status_code == 422
        answer = await response.get_json()
        assert (answer["error"], answer["field"]) == ("unknown_field", "owner_id")
        assert await world.panic.list_networks() == before


async def test_the_current_run_can_be_read_and_its_number_outlives_a_stop(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        net = world.network.id
        c = client(world)
        none = await c.get(f"/api/networks/{net}/runs/current", headers=headers)
        assert none.status_code == 404
        assert (await none.get_json())["last_run_number"] is None
        genesis = await world.panic.start_run(net, "what is going on")
        going = await c.get(f"/api/networks/{net}/runs/current", headers=headers)
        assert going.status_code == 200
        body = await going.get_json()
        assert body["run_number"] == genesis.run_number
        assert body["genesis"]["input"] == "what is going on"
        assert body["current"]["run_number"] == genesis.run_number
        assert body["status"]["state"] in ("invoking", "waiting")
        await c.delete(f"/api/networks/{net}/runs/current", headers=headers)
        after = await c.get(f"/api/networks/{net}/runs/current", headers=headers)
        assert after.status_code == 404
        assert (await after.get_json())["last_run_number"] == genesis.run_number
        status = (await (await c.get(f"/api/networks/{net}", headers=headers)).get_json())["status"]
        assert status["state"] == "idle"
        assert status["genesis"]["run_number"] == genesis.run_number
        stranger = await api_key(world, world.other.id)
        hidden = await c.get(f"/api/networks/{net}/runs/current", headers=stranger)
        assert hidden.status_code == 404
        assert "last_run_number" not in await hidden.get_json()


async def test_the_owner_may_replace_a_run_inside_its_lockout(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        headers = await api_key(world, world.owner.id)
        net = world.network.id
        url = f"/api/networks/{net}/runs"
        c = client(world)
        first = await c.post(url, json={"prompt": "first"}, headers=headers)
        assert first.status_code == 201
        locked = await c.post(url, json={"prompt": "second"}, headers=headers)
        assert locked.status_code == 429
        replaced = await c.post(f"{url}?replace=true", json={"prompt": "third"}, headers=headers)
        assert replaced.status_code == 201
        genesis = (await replaced.get_json())["genesis"]
        assert world.panic.status(net).genesis is not None
        assert world.panic.status(net).genesis.id == genesis["id"]  # type: ignore[union-attr]
        old = await world.panic.list_run(net, (await first.get_json())["genesis"]["run_number"])
        assert old[-1].metadata["error"] == "cancelled: replaced by a new run"
        bad = await c.post(f"{url}?replace=maybe", json={"prompt": "x"}, headers=headers)
        assert bad.status_code == 400


async def test_a_terminal_token_may_not_replace_a_run(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        net = world.network.id
        first = await world.panic.start_run(net, "the visitor's run")
        token = world.tokens.issue(world.network)
        c = client(world)
        refused = await c.post(
            f"/api/networks/{net}/runs?token={token}&replace=true", json={"prompt": "mine now"}
        )
        assert refused.status_code == 403
        assert world.panic.status(net).genesis == first


async def test_the_editor_check_warns_about_tokens_the_owner_lacks(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        models = "dummy-t2a,gemini-audio-description"
        anonymous = await (await client(world).get(f"/api/models/check?models={models}")).get_json()
        assert anonymous["valid"] is True
        assert anonymous["warnings"] == []
        admin = await signed_in(world, world.admin)
        url = f"/api/models/check?models={models}&network={world.network.id}"
        checked = await (await admin.get(url)).get_json()
        assert checked["valid"] is True
        [warning] = checked["warnings"]
        assert "needs a Gemini token" in warning
        await world.panic.set_platform_token(world.owner.id, "gemini", "a key")
        assert (await (await admin.get(url)).get_json())["warnings"] == []  # the owner's tokens
        catalog = {
            m["id"]: m
            for m in (await (await client(world).get("/api/models")).get_json())["models"]
        }
        assert catalog["gemini-audio-description"]["paid"] is True
        assert catalog["dummy-t2a"]["paid"] is False


async def test_unknown_fields_in_any_body_are_a_422_naming_the_field(world: World) -> None:
    # The probe: PATCH {"network_id": 5} or {"self": 1} was an HTML 500
    # (update_network(network_id, **body)).
    with trio.fail_after(TIMEOUT):
        key = await world.panic.create_api_key(world.owner.id, "k")
        headers = {"Authorization": f"Bearer {key}"}
        net = world.network.id
        before = await world.panic.get_network(net)
        cases = [
            ("PATCH", f"/api/networks/{net}", {"network_id": 5}, "network_id"),
            ("PATCH", f"/api/networks/{net}", {"self": 1}, "self"),
            ("PATCH", f"/api/networks/{net}", {"name": "new", "owner_id": 2}, "owner_id"),
            ("POST", "/api/networks", {"name": "n", "models": ["dummy-t2t"], "x": 1}, "x"),
            ("POST", f"/api/networks/{net}/runs", {"prompt": "hi", "network_id": 9}, "network_id"),
        ]
        for method, path, body, field in cases:
            response = await client(world).open(path, method=method, json=body, headers=headers)
            assert response.status_code == 422, (path, body)
            answer = await response.get_json()
            assert answer["error"] == "unknown_field", answer
            assert answer["field"] == field
            assert field in answer["message"]
        assert await world.panic.get_network(net) == before
        assert len(await world.panic.list_networks(world.owner.id)) == 1
        assert world.panic.status(net).state == "idle"
