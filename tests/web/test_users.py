"""Admin user management: list, create, reset a password, grant and revoke admin."""

from __future__ import annotations

import trio

from tests.web.conftest import PASSWORD, TIMEOUT, World, client, csrf_of, signed_in, text_of

NEW_PASSWORD = "a brand new password"


async def test_only_admins_see_or_change_users(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        assert (await client(world).get("/admin/users")).status_code == 302
        owner = await signed_in(world, world.owner)
        csrf = await csrf_of(owner)
        assert (await owner.get("/admin/users")).status_code == 403
        for path, form in (
            ("/admin/users", {"email": "x@example.org", "password": NEW_PASSWORD}),
            (f"/admin/users/{world.owner.id}/admin", {"admin": "yes"}),
            (f"/admin/users/{world.other.id}/password", {"password": NEW_PASSWORD}),
        ):
            response = await owner.post(path, form={"csrf_token": csrf, **form})
            assert response.status_code == 403, path
        users = await world.panic.list_users()
        assert [(u.email, u.admin) for u in users] == [
            ("owner@example.org", False),
            ("other@example.org", False),
            ("admin@example.org", True),
        ]
        assert await world.panic.authenticate("other@example.org", PASSWORD) is not None


async def test_admin_lists_every_user_with_their_networks(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        admin = await signed_in(world, world.admin)
        page = await text_of(await admin.get("/admin/users"))
        for user in (world.owner, world.other, world.admin):
            assert f'data-user="{user.id}"' in page
            assert user.email in page
        assert "1 network<" in page  # the owner's
        assert 'href="/admin/users"' in await text_of(await admin.get("/admin"))


async def test_admin_creates_a_user_who_can_sign_in(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        admin = await signed_in(world, world.admin)
        form = {
            "csrf_token": await csrf_of(admin),
            "email": "newcomer@example.org",
            "password": NEW_PASSWORD,
        }
        response = await admin.post("/admin/users", form=form)
        assert response.status_code == 303
        assert response.headers["Location"] == "/admin/users"
        page = await text_of(await admin.get("/admin/users"))
        assert "Created user newcomer@example.org" in page
        user = await world.panic.authenticate("newcomer@example.org", NEW_PASSWORD)
        assert user is not None
        assert not user.admin


async def test_bad_new_users_are_refused_and_nothing_changes(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        admin = await signed_in(world, world.admin)
        csrf = await csrf_of(admin)
        before = await world.panic.list_users()
        for email, password, reason in (
            ("not an email", NEW_PASSWORD, "email"),
            ("short@example.org", "short", "at least 8 characters"),
            ("OTHER@example.org", NEW_PASSWORD, "already exists"),
        ):
            form = {"csrf_token": csrf, "email": email, "password": password}
            response = await admin.post("/admin/users", form=form)
            assert response.status_code == 422, email
            page = await text_of(response)
            assert reason in page
            assert f'value="{email}"' in page  # the form keeps what was typed
        assert await world.panic.list_users() == before
        no_csrf = await admin.post(
            "/admin/users", form={"email": "sneaky@example.org", "password": NEW_PASSWORD}
        )
        assert no_csrf.status_code == 403
        assert await world.panic.list_users() == before


async def test_reset_password_signs_the_user_out_everywhere(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        other = await signed_in(world, world.other)
        assert (await other.get(f"/users/{world.other.id}")).status_code == 200
        admin = await signed_in(world, world.admin)
        csrf = await csrf_of(admin)
        path = f"/admin/users/{world.other.id}/password"
        short = await admin.post(path, form={"csrf_token": csrf, "password": "short"})
        assert short.status_code == 422
        assert "at least 8 characters" in await text_of(short)
        assert await world.panic.authenticate(world.other.email, PASSWORD) is not None
        response = await admin.post(path, form={"csrf_token": csrf, "password": NEW_PASSWORD})
        assert response.status_code == 303
        assert await world.panic.authenticate(world.other.email, PASSWORD) is None
        assert await world.panic.authenticate(world.other.email, NEW_PASSWORD) is not None
        assert (await other.get(f"/users/{world.other.id}")).status_code == 302  # signed out
        own = f"/admin/users/{world.admin.id}/password"
        refused = await admin.post(own, form={"csrf_token": csrf, "password": NEW_PASSWORD})
        assert refused.status_code == 422
        assert "your dashboard" in await text_of(refused)
        assert await world.panic.authenticate(world.admin.email, PASSWORD) is not None
        missing = await admin.post(
            "/admin/users/99999/password", form={"csrf_token": csrf, "password": NEW_PASSWORD}
        )
        assert missing.status_code == 404


async def test_admin_rights_are_granted_and_revoked(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        admin = await signed_in(world, world.admin)
        csrf = await csrf_of(admin)
        path = f"/admin/users/{world.owner.id}/admin"
        response = await admin.post(path, form={"csrf_token": csrf, "admin": "yes"})
        assert response.status_code == 303
        assert (await world.panic.get_user(world.owner.id)).admin
        owner = await signed_in(world, world.owner)
        assert (await owner.get("/admin/users")).status_code == 200
        bad = await admin.post(path, form={"csrf_token": csrf, "admin": "maybe"})
        assert bad.status_code == 422
        assert (await world.panic.get_user(world.owner.id)).admin
        response = await admin.post(path, form={"csrf_token": csrf, "admin": "no"})
        assert response.status_code == 303
        assert not (await world.panic.get_user(world.owner.id)).admin
        assert (await owner.get("/admin/users")).status_code == 403


async def test_the_last_admin_cannot_remove_their_own_admin_flag(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        admin = await signed_in(world, world.admin)
        csrf = await csrf_of(admin)
        own = f"/admin/users/{world.admin.id}/admin"
        refused = await admin.post(own, form={"csrf_token": csrf, "admin": "no"})
        assert refused.status_code == 422
        assert "the last admin" in await text_of(refused)
        assert (await world.panic.get_user(world.admin.id)).admin
        # With a second admin, giving it up is allowed; it leads to the dashboard.
        await world.panic.set_admin(world.other.id, True)
        response = await admin.post(own, form={"csrf_token": csrf, "admin": "no"})
        assert response.status_code == 303
        assert response.headers["Location"] == f"/users/{world.admin.id}"
        assert not (await world.panic.get_user(world.admin.id)).admin
        # Now the other is the last admin, and cannot give it up either.
        other = await signed_in(world, world.other)
        last = f"/admin/users/{world.other.id}/admin"
        again = await other.post(last, form={"csrf_token": await csrf_of(other), "admin": "no"})
        assert again.status_code == 422
        assert (await world.panic.get_user(world.other.id)).admin
