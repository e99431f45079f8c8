"""The dashboard's token test: one cheap call to the provider, the answer shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from panic_trio import open_panic
from panic_trio.models import platform_records
from panic_trio.models.platform_records import PlatformRecord, TokenProbe
from panic_trio.web import create_app
from tests.fakes.openai import TOKEN, FakeOpenAI
from tests.web.conftest import SECRET, TIMEOUT, csrf_of, make_settings


@pytest.fixture
async def openai_fake(nursery: trio.Nursery) -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start(nursery)
    yield fake
    fake.stop()


async def test_the_token_form_tests_a_token_against_the_provider(
    tmp_path: Path, openai_fake: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, openai_base_url=openai_fake.url)
    with trio.fail_after(TIMEOUT):
        async with open_panic(settings) as panic:
            app = create_app(panic, settings, secret_key=SECRET)
            user = await panic.create_user("tok@example.org", "correct horse battery")
            async with app.test_app():
                c = app.test_client()
                token = await csrf_of(c, "/sign-in")
                await c.post(
                    "/sign-in",
                    form={
                        "email": "tok@example.org",
                        "password": "correct horse battery",
                        "csrf_token": token,
                    },
                )
                page = await (await c.get(f"/users/{user.id}")).get_data(as_text=True)
                assert "Test the OpenAI API Token" not in page  # nothing to test yet
                await panic.set_platform_token(user.id, "openai", "sk-looks-real-but-is-not")
                page = await (await c.get(f"/users/{user.id}")).get_data(as_text=True)
                assert "Test the OpenAI API Token" in page
                assert "badge-ok" not in page  # set is not the same as working
                csrf = await csrf_of(c)
                url = f"/users/{user.id}/tokens/openai/test"
                await c.post(url, form={"csrf_token": csrf})
                refused = await (await c.get(f"/users/{user.id}")).get_data(as_text=True)
                await panic.set_platform_token(user.id, "openai", TOKEN)
                await c.post(url, form={"csrf_token": csrf})
                works = await (await c.get(f"/users/{user.id}")).get_data(as_text=True)
                unknown = await c.post(f"/users/{user.id}/tokens/vestaboard_panic_1/test",
                                       form={"csrf_token": csrf})  # fmt: skip
    assert "OpenAI API Token: does not work: OpenAI rejected the request (401)" in refused
    assert "OpenAI API Token: works" in works
    assert unknown.status_code == 404
    assert [r.path for r in openai_fake.requests] == ["/models", "/models"]


async def test_a_platform_described_by_one_record_reaches_the_form_the_settings_and_errors(
    tmp_path: Path, openai_fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new provider's record alone gives it a token row, a Test button that
    asks the URL its setting names, and its own name in the error."""
    acme = PlatformRecord(
        name="acme",
        display_name="Acme AI",
        tokens=(("acme", "Acme Key"),),
        base_url_setting="openai_base_url",  # any Settings field: here, the loopback fake
        probe=TokenProbe("/models", "bearer"),
    )
    monkeypatch.setitem(platform_records.RECORDS, "acme", acme)
    settings = make_settings(tmp_path, openai_base_url=openai_fake.url)
    with trio.fail_after(TIMEOUT):
        async with open_panic(settings) as panic:
            app = create_app(panic, settings, secret_key=SECRET)
            user = await panic.create_user("acme@example.org", "correct horse battery")
            async with app.test_app():
                c = app.test_client()
                token = await csrf_of(c, "/sign-in")
                await c.post(
                    "/sign-in",
                    form={
                        "email": "acme@example.org",
                        "password": "correct horse battery",
                        "csrf_token": token,
                    },
                )
                blank = await (await c.get(f"/users/{user.id}")).get_data(as_text=True)
                csrf = await csrf_of(c)
                await c.post(f"/users/{user.id}/tokens", form={"acme": "wrong", "csrf_token": csrf})
                stored = await panic.platform_token(user.id, "acme")
                await c.post(f"/users/{user.id}/tokens/acme/test", form={"csrf_token": csrf})
                refused = await (await c.get(f"/users/{user.id}")).get_data(as_text=True)
    assert 'data-token="acme"' in blank
    assert "Acme Key" in blank
    assert stored == "wrong"
    assert "Acme Key: does not work: Acme AI rejected the request (401)" in refused
    assert [r.path for r in openai_fake.requests] == ["/models"]
