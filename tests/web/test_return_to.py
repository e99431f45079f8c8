"""``next`` after sign-in stays on this site however it is spelled (issue 12, finding 2).

The probe: ``/sign-in?next=/%09/evil.example/phish`` answered
``Location: /\\t/evil.example/phish``, which Chromium followed to
``http://evil.example/phish``; ``next=/%0A/x`` was a 500.
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import trio

from panic_trio.web.auth import safe_next
from tests.web.conftest import PASSWORD, TIMEOUT, World, client, csrf_of, signed_in, text_of

SITE = "http://panic.example/"
UNSAFE = [chr(c) for c in range(0x20)] + ["\x7f", "\\", " "]


def hostile_targets() -> list[str]:
    """Every control character, backslash and space, raw and percent-encoded, where it bites."""
    targets = ["//evil.example/", "http://evil.example/", "https:evil.example", "/%2F/evil"]
    for c in UNSAFE:
        for spelled in (c, quote(c, safe=""), quote(quote(c, safe=""), safe="")):
            targets += [
                f"/{spelled}/evil.example/phish",
                f"{spelled}//evil.example/",
                f"/{spelled}{spelled}evil.example",
                f"/networks/1{spelled}",
            ]
    return targets


def browser_reads(location: str) -> str:
    """Where a browser goes for ``Location: location`` (WHATWG: drop tab/LF/CR, \\ is /)."""
    cleaned = location.strip("".join(chr(c) for c in range(0x21)))
    for c in "\t\n\r":
        cleaned = cleaned.replace(c, "")
    return urljoin(SITE, cleaned.replace("\\", "/"))


def test_no_hostile_next_survives_and_plain_paths_do() -> None:
    for target in hostile_targets():
        kept = safe_next(target)
        assert kept is None, repr(target)
    for path in ("/", "/networks/3/info/qr", "/users/1?tab=keys"):
        assert safe_next(path) == path
        assert urlsplit(browser_reads(path)).netloc == "panic.example"


def test_what_passes_is_read_by_a_browser_as_this_site() -> None:
    # Whatever a target looks like, if it is kept the browser stays here.
    for target in [*hostile_targets(), "/ok", "/%09ok"]:
        kept = safe_next(target)
        if kept is not None:
            assert urlsplit(browser_reads(kept)).netloc == "panic.example", repr(target)


async def test_the_probes_next_leads_home_on_every_route(world: World) -> None:
    with trio.fail_after(TIMEOUT):
        home = f"/users/{world.owner.id}"
        anonymous = client(world)
        for target in ("/%09/evil.example/phish", "/%0A/x", "/%0D%0A/x", "/%5C/evil.example"):
            page = await anonymous.get(f"/sign-in?next={target}")
            assert page.status_code == 200, target
            assert 'name="next" value=""' in await text_of(page), target
        owner = await signed_in(world, world.owner)
        for target in ("/%09/evil.example/phish", "/%0A/x", "/%0D%0A/x", "/%5C/evil.example"):
            response = await owner.get(f"/sign-in?next={target}")
            assert response.status_code == 302, target
            assert response.headers["Location"] == home, target
        for target in ("/\t/evil.example/phish", "/\n/x", "/\r\n/x", "/\\evil.example"):
            fresh = client(world)
            token = await csrf_of(fresh, "/sign-in")
            response = await fresh.post(
                "/sign-in",
                form={
                    "email": world.owner.email,
                    "password": PASSWORD,
                    "csrf_token": token,
                    "next": target,
                },
            )
            assert response.status_code == 303, repr(target)
            assert response.headers["Location"] == home, repr(target)
