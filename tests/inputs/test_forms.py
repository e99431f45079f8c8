"""HTML form fields as a new user might fill them: names, models, lockout seconds, sign-in.

Creating and editing a network through the pages answers 303 (saved) or
422 (with the reason on the page), never a 5xx; a 422 changes nothing.
Sign-in with any email and password is a 401 (or 429 once rate limited).
"""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from panic_trio.errors import InvalidInput
from panic_trio.inputs import check_network_fields
from tests.inputs.conftest import FUZZ, Portal, snapshot
from tests.web.conftest import PASSWORD, World, client, csrf_of, text_of

LOCKOUTS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "86400",
            "86401",
            "1e3",
            "3.5",
            "NaN",
            "inf",
            "0x10",
            "١٢",
            "9" * 5000,
            "30 ",
            "1_000",
            "\x00",
        ]
    ),
    st.text(max_size=10),
)
NAMES = st.one_of(st.text(max_size=250), st.just("<script>alert(1)</script>"), st.just(""))
MODELS = st.one_of(
    st.lists(st.sampled_from(["dummy-t2t", "dummy-t2i", "dummy-i2t", "nope", " "]), max_size=3).map(
        ",".join
    ),
    st.text(max_size=30),
)
FORMS = st.fixed_dictionaries(
    {
        "name": NAMES,
        "description": st.text(max_size=80),
        "lockout_seconds": LOCKOUTS,
        "models": MODELS,
    }
)
_ALERT = re.compile(r'<p class="alert alert-error" role="alert"[^>]*>([^<]+)</p>')


def expected_problem(form: dict[str, str], *, create: bool) -> str | None:
    """``None`` for a valid form; else the engine's message ("" where the page words it)."""
    fields: dict[str, object] = {"name": form["name"], "description": form["description"]}
    lockout = form["lockout_seconds"]
    try:
        if create or lockout.strip():
            fields["lockout_seconds"] = int(lockout)
        if create:
            fields["models"] = [m.strip() for m in form["models"].split(",") if m.strip()]
        check_network_fields(fields)
    except ValueError:
        return ""
    except InvalidInput as exc:
        return exc.message
    return None


_SESSION: list[tuple[World, object, str]] = []  # the last app's signed-in owner


async def signed_in_client(world: World) -> tuple[object, str]:
    """The owner's client and CSRF token, signed in once per app (argon2 is slow on purpose)."""
    if _SESSION and _SESSION[0][0] is world:
        return _SESSION[0][1:]
    test_client = client(world)
    token = await csrf_of(test_client, "/sign-in")
    response = await test_client.post(
        "/sign-in", form={"email": world.owner.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    _SESSION[:] = [(world, test_client, await csrf_of(test_client, "/about"))]
    return _SESSION[0][1:]


async def submit(world: World, form: dict[str, str], create: bool) -> None:
    test_client, token = await signed_in_client(world)
    before = await snapshot(world)
    network_before = await world.panic.get_network(world.network.id)
    path = f"/users/{world.owner.id}/networks" if create else f"/networks/{world.network.id}/edit"
    response = await test_client.post(path, form={**form, "csrf_token": token})  # type: ignore[attr-defined]
    page = await text_of(response)
    assert response.status_code in (303, 422), (response.status_code, page[:500])
    problem = expected_problem(form, create=create)
    assert (response.status_code == 303) == (problem is None), form
    if response.status_code == 422:
        assert "<script>alert(1)</script>" not in page  # shown as text, if at all
        shown = _ALERT.findall(page)
        assert shown, page[:500]  # the reason is on the page
        assert shown[0].strip(), page[:500]
        assert problem is not None
        assert problem in html.unescape(shown[0]), (problem, shown)
        assert await snapshot(world) == before
        assert await world.panic.get_network(world.network.id) == network_before
    elif create:
        created = [
            n for n in await world.panic.list_networks(world.owner.id) if n.id != world.network.id
        ]
        for network in created:
            await world.panic.delete_network(network.id)
    else:
        await world.panic.update_network(
            world.network.id,
            name=network_before.name,
            description=network_before.description,
            lockout_seconds=network_before.lockout_seconds,
        )


@FUZZ
@given(form=FORMS)
def test_create_network_form(portal: Portal, form: dict[str, str]) -> None:
    portal.run(submit, portal.world, form, True)


@FUZZ
@given(form=FORMS)
def test_edit_network_form(portal: Portal, form: dict[str, str]) -> None:
    portal.run(submit, portal.world, form, False)


async def sign_in(world: World, email: str, password: str) -> None:
    test_client = client(world)
    token = await csrf_of(test_client, "/sign-in")
    response = await test_client.post(
        "/sign-in", form={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code in (401, 429), response.status_code
    # Still signed out: the session this client holds grants nothing.
    assert (await test_client.get("/dashboard")).status_code == 302


@settings(FUZZ, max_examples=25)  # each one hashes with argon2 (slow on purpose)
@given(email=st.text(max_size=80) | st.emails(), password=st.text(max_size=80))
def test_sign_in_with_anything_is_refused_cleanly(
    portal: Portal, email: str, password: str
) -> None:
    limiter = portal.world.app.extensions["panic_web"].login_limiter
    limiter.reset("ip:127.0.0.1")
    limiter.reset(f"email:{email.strip().lower()}")
    portal.run(sign_in, portal.world, email, password)
