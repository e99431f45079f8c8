"""Sign-in, sign-out, sessions, CSRF, return-to and login rate limiting."""

from __future__ import annotations

import pytest
import trio

from panic_trio.security import passwords
from panic_trio.settings import Settings
from panic_trio.web.ratelimit import InFlight, RateLimiter
from panic_trio.web.security import content_security_policy
from tests.web.conftest import PASSWORD, TIMEOUT, World, client, csrf_of, signed_in, text_of


async def test_healthz_is_public_json(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        response = await client(world).get("/healthz")
        assert response.status_code == 200
        assert await response.get_json() == {"status": "ok"}


async def test_sign_in_form_carries_csrf_fields(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        page = await text_of(await client(world).get("/sign-in"))
        for needle in ('name="email"', 'name="password"', 'name="csrf_token"', "csrf-token"):
            assert needle in page


async def test_sign_in_redirects_to_dashboard_with_a_hardened_cookie(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        token = await csrf_of(c, "/sign-in")
        response = await c.post(
            "/sign-in",
            form={"email": "OWNER@example.org ", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 303
        assert response.headers["Location"] == f"/users/{world.owner.id}"
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("_panic_key=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        page = await text_of(await c.get(f"/users/{world.owner.id}"))
        assert 'id="current-user-email"' in page
        assert "owner@example.org" in page


async def test_wrong_password_is_401_and_shows_why(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        token = await csrf_of(c, "/sign-in")
        response = await c.post(
            "/sign-in",
            form={"email": world.owner.email, "password": "nope nope nope", "csrf_token": token},
        )
        assert response.status_code == 401
        assert "Authentication Error" in await text_of(response)
        assert (await c.get(f"/users/{world.owner.id}")).status_code == 302


async def test_sign_in_without_csrf_is_refused_and_changes_nothing(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        await csrf_of(c, "/sign-in")
        response = await c.post("/sign-in", form={"email": world.owner.email, "password": PASSWORD})
        assert response.status_code == 403
        assert (await c.get(f"/users/{world.owner.id}")).status_code == 302


async def test_login_remembers_the_page_asked_for(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        target = f"/networks/{world.network.id}/info/qr"
        response = await c.get(target)
        assert response.status_code == 302
        expected = f"/sign-in?next=%2Fnetworks%2F{world.network.id}%2Finfo%2Fqr"
        assert response.headers["Location"] == expected
        page = await text_of(await c.get(response.headers["Location"]))
        assert f'name="next" value="{target}"' in page
        token = await csrf_of(c, "/sign-in")
        response = await c.post(
            "/sign-in",
            form={
                "email": world.owner.email,
                "password": PASSWORD,
                "csrf_token": token,
                "next": target,
            },
        )
        assert response.status_code == 303
        assert response.headers["Location"] == target


async def test_return_to_never_leaves_the_site(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        token = await csrf_of(c, "/sign-in")
        response = await c.post(
            "/sign-in",
            form={
                "email": world.owner.email,
                "password": PASSWORD,
                "csrf_token": token,
                "next": "//evil.example/",
            },
        )
        assert response.headers["Location"] == f"/users/{world.owner.id}"


async def test_sign_out_needs_a_post_with_csrf(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = await signed_in(world, world.owner)
        page = await text_of(await c.get("/sign-out"))
        assert "Sign out" in page
        assert (await c.get(f"/users/{world.owner.id}")).status_code == 200  # GET did nothing
        assert (await c.post("/sign-out", form={})).status_code == 403
        token = await csrf_of(c)
        response = await c.post("/sign-out", form={"csrf_token": token})
        assert response.status_code == 303
        assert response.headers["Location"] == "/"
        assert (await c.get(f"/users/{world.owner.id}")).status_code == 302


async def test_failed_sign_ins_are_rate_limited(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = client(world)
        token = await csrf_of(c, "/sign-in")
        form = {"email": world.owner.email, "password": "wrong password", "csrf_token": token}
        statuses = [(await c.post("/sign-in", form=form)).status_code for _ in range(5)]
        assert statuses == [401] * 5
        response = await c.post("/sign-in", form={**form, "password": PASSWORD})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert "Too many sign-in attempts" in await text_of(response)


async def test_every_page_gets_security_headers(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        for path in ("/", "/about", "/sign-in", "/healthz", "/nope"):
            response = await client(world).get(path)
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp
            assert "'unsafe-inline'" not in csp
            assert "frame-ancestors 'none'" in csp
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_pages_have_no_inline_script(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        c = await signed_in(world, world.owner)
        for path in ("/", f"/networks/{world.network.id}", f"/users/{world.owner.id}"):
            page = await text_of(await c.get(path))
            for chunk in page.split("<script")[1:]:
                head = chunk.split(">", 1)[0]
                assert "src=" in head or 'type="application/json"' in head, head


def test_csp_allows_our_own_media_and_sockets(settings: Settings) -> None:
    csp = content_security_policy("https://panic.example", "panic.example")
    assert "img-src 'self' data: blob: https: https://panic.example" in csp
    assert "connect-src 'self' ws://panic.example wss://panic.example" in csp


async def test_forty_concurrent_wrong_sign_ins_get_at_most_five_verifications(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe: the limit was checked before verifying and counted after, so
    # 40 concurrent wrong attempts all got 401 and the right password, sent
    # among them, was accepted at attempt 38.
    verified = []

    def counting(stored: str | None, password: str) -> bool:
        verified.append(password)
        return real(stored, password)

    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", counting)
    with trio.fail_after(TIMEOUT):
        attacker = client(world)
        csrf = await csrf_of(attacker, "/sign-in")
        statuses: list[int] = []

        async def attempt(password: str) -> None:
            form = {"email": world.owner.email, "password": password, "csrf_token": csrf}
            statuses.append((await attacker.post("/sign-in", form=form)).status_code)

        async with trio.open_nursery() as nursery:
            for n in range(40):
                nursery.start_soon(attempt, PASSWORD if n == 37 else f"guess {n}")
        assert len(verified) <= 5
        assert statuses.count(401) + statuses.count(303) == len(verified)
        assert statuses.count(429) == 40 - len(verified)
        assert PASSWORD not in verified[5:]


def test_a_successful_sign_in_refunds_its_charge_and_no_more() -> None:
    now = [0.0]
    limiter = RateLimiter(5, 300.0, clock=lambda: now[0])
    keys = ("ip:1", "email:a")
    for _ in range(4):
        assert limiter.hit_all(keys) == 0
    assert limiter.hit_all(keys) == 0  # the fifth: a success
    limiter.refund("ip:1")
    limiter.refund("email:a")
    assert limiter.hit_all(keys) == 0  # room for exactly one more
    assert limiter.hit_all(keys) > 0
    assert limiter.hit_all(("ip:2", "email:a")) > 0  # the email alone is out too
    assert limiter.hit_all(("ip:2", "email:b")) == 0


def test_in_flight_holds_at_most_the_limit_per_key() -> None:
    running = InFlight(2)
    with running.hold(("ip:1", "email:a")) as first, running.hold(("ip:2", "email:a")) as second:
        assert first
        assert second
        with running.hold(("ip:3", "email:a")) as third:
            assert not third
        with running.hold(("ip:3", "email:b")) as other:
            assert other
    with running.hold(("ip:3", "email:a")) as later:
        assert later
