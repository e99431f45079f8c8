"""Alerts: each condition announced once (e-mail to a real SMTP server, webhook), recovery once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import trio
import trio.testing

from panic_trio import Panic, open_panic
from panic_trio.domain import Event, Invocation, InvocationState, RunnerStatus
from panic_trio.operations import AlertBook, Alerts
from panic_trio.settings import Settings
from tests.fakes import openai as openai_fake_module
from tests.fakes.openai import FakeOpenAI
from tests.fakes.smtp import Inbox
from tests.fakes.webhook import FakeWebhook
from tests.operations.conftest import GUARD, ops_settings, until
from tests.runs import completed_at_least, failed, start_and_wait

# The rules, without a clock


def test_a_condition_is_announced_once_and_its_end_once() -> None:
    book = AlertBook(cooldown=60)
    assert book.begin("auth:openai:network-1", now=0)
    assert not book.begin("auth:openai:network-1", now=1)  # still the same condition
    assert not book.begin("auth:openai:network-1", now=500)
    assert book.end("auth:openai:network-1")
    assert not book.end("auth:openai:network-1")  # recovery said once
    assert book.begin("auth:openai:network-1", now=600)  # a new occurrence, after the cool-down


def test_a_flapping_condition_waits_for_the_cool_down_and_so_does_its_recovery() -> None:
    book = AlertBook(cooldown=60)
    assert book.begin("archive", now=0)
    assert book.end("archive")
    assert not book.begin("archive", now=59.9)  # back within the cool-down: not again
    assert not book.end("archive")  # so its recovery is not announced either
    assert book.begin("archive", now=60)
    assert book.begin("disk:/", now=30)  # other keys are independent


# The whole path: engine → feed → alerts → SMTP and webhook


def alerting(tmp_path: Path, inbox: Inbox, webhook: FakeWebhook, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "alert_email_to": "ops@example.org, night@example.org",
        "alert_email_from": "panic@example.org",
        "alert_smtp_host": "127.0.0.1",
        "alert_smtp_port": inbox.port,
        "alert_webhook_url": webhook.hook_url,
        "alert_failures": 5,
        "alert_check_every": 3600.0,
    }
    values.update(overrides)
    return ops_settings(tmp_path, **values)


def posts(webhook: FakeWebhook) -> list[dict[str, object]]:
    return [r.json() for r in webhook.received("POST", "/hooks/panic")]


async def test_a_revoked_key_sends_one_email_and_one_post_then_one_recovery(
    tmp_path: Path, inbox: Inbox, webhook: FakeWebhook, openai_fake: FakeOpenAI
) -> None:
    settings = alerting(
        tmp_path, inbox, webhook, openai_base_url=openai_fake.url, platform_retries=2
    )
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        alerts = Alerts(panic, settings)
        await nursery.start(alerts.run)
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        await panic.set_platform_token(owner.id, "openai", "sk-revoked-0123456789")
        net = await panic.create_network(owner.id, "words", models=["gpt-5-chat"])
        # The first call is retried (503) before the 401: retries are not failures.
        openai_fake.fail("POST", "*chat/completions", status=503, times=1)
        with trio.fail_after(GUARD):
            rows: list[Invocation] = []
            for prompt in ("one", "two", "three"):
                _, event = await start_and_wait(panic, net.id, prompt, failed)
                assert event.status.current is not None
                rows.append(event.status.current)
            await until(lambda: alerts.failures_in_a_row(net.id) == 3)
            await until(lambda: len(alerts.sent) == 1)
            await trio.testing.wait_all_tasks_blocked(0.05)
        assert [r.metadata["error_kind"] for r in rows] == ["auth"] * 3
        assert len(openai_fake.received("POST", "*chat/completions")) == 4  # a 503, then three 401s
        assert [a.key for a in alerts.queued] == [f"auth:openai:network-{net.id}"]
        [(recipients, message)] = inbox.received()
        assert recipients == ["ops@example.org", "night@example.org"]
        assert message["From"] == "panic@example.org"
        assert (
            message["Subject"] == f"[PANIC! alert] OpenAI refused the API key of network {net.id}"
        )
        body = message.get_content()
        assert "OpenAI rejected the request (401)" in body
        assert "sk-revoked" not in body
        [post] = posts(webhook)
        assert post["alert"] == f"auth:openai:network-{net.id}"
        assert post["state"] == "firing"
        assert "OpenAI rejected the request (401)" in str(post["detail"])

        await panic.set_platform_token(owner.id, "openai", openai_fake_module.TOKEN)
        with trio.fail_after(GUARD):
            await start_and_wait(panic, net.id, "four", completed_at_least(0))
            await until(lambda: len(alerts.sent) == 2)
            await panic.stop_run(net.id)
            await start_and_wait(panic, net.id, "five", completed_at_least(0))
            await trio.testing.wait_all_tasks_blocked(0.05)
        assert [a.state for a in alerts.queued] == ["firing", "recovered"]
        assert len(inbox.received()) == 2
        assert inbox.received()[1][1]["Subject"] == (
            f"[PANIC! recovered] OpenAI accepts the API key of network {net.id} again"
        )
        assert [p["state"] for p in posts(webhook)] == ["firing", "recovered"]
        nursery.cancel_scope.cancel()


async def test_failures_in_a_row_alert_once_at_the_threshold(
    tmp_path: Path, webhook: FakeWebhook, openai_fake: FakeOpenAI
) -> None:
    settings = ops_settings(
        tmp_path,
        openai_base_url=openai_fake.url,
        platform_retries=0,
        alert_webhook_url=webhook.hook_url,
        alert_failures=2,
    )
    openai_fake.fail("POST", "*chat/completions", status=500, times=3)
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        alerts = Alerts(panic, settings)
        await nursery.start(alerts.run)
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        await panic.set_platform_token(owner.id, "openai", openai_fake_module.TOKEN)
        net = await panic.create_network(owner.id, "words", models=["gpt-5-chat"])
        with trio.fail_after(GUARD):
            _, first = await start_and_wait(panic, net.id, "one", failed)
            await until(lambda: alerts.failures_in_a_row(net.id) == 1)
            await trio.testing.wait_all_tasks_blocked(0.05)
            assert not alerts.queued  # one failure is not yet "in a row"
            for prompt in ("two", "three"):
                await start_and_wait(panic, net.id, prompt, failed)
            await until(lambda: alerts.failures_in_a_row(net.id) == 3)
            await until(lambda: len(posts(webhook)) == 1)
            await start_and_wait(panic, net.id, "four", completed_at_least(0))
            await until(lambda: len(posts(webhook)) == 2)
            await trio.testing.wait_all_tasks_blocked(0.05)
        assert first.status.current is not None
        assert first.status.current.metadata["error_kind"] == "unavailable"
        [firing, recovered] = posts(webhook)
        assert firing["alert"] == recovered["alert"] == f"failures:network-{net.id}"
        assert firing["title"] == f"network {net.id} failed 2 times in a row"
        assert recovered["state"] == "recovered"
        assert len(alerts.queued) == 2
        nursery.cancel_scope.cancel()


def capped_row(panic: Panic, network_id: int, row_id: int, state: InvocationState) -> Invocation:
    now = panic.store.now()
    metadata: dict[str, object] = {}
    if state == "failed":
        metadata = {
            "error": "daily spending cap of $0.05 reached",
            "cap": {
                "scope": "network-day",
                "limit": 0.05,
                "currency": "USD",
                "resumes_at": "2026-12-02T00:00:00+00:00",
            },
        }
    return Invocation(
        row_id, network_id, row_id, 2, "dummy-t2t", "x", None, state, metadata, now, now
    )


async def test_a_cap_alerts_once_and_the_next_completed_step_recovers(
    tmp_path: Path, webhook: FakeWebhook
) -> None:
    settings = ops_settings(tmp_path, alert_webhook_url=webhook.hook_url)
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        alerts = Alerts(panic, settings)
        await nursery.start(alerts.run)
        feed = panic.events.feed
        for row_id in (101, 102):  # a second capped run while the first is still announced
            feed.publish(
                Event("invocation", capped_row(panic, 7, row_id, "failed"), RunnerStatus())
            )
        feed.publish(Event("invocation", capped_row(panic, 7, 103, "completed"), RunnerStatus()))
        with trio.fail_after(GUARD):
            await until(lambda: len(posts(webhook)) == 2)
            await trio.testing.wait_all_tasks_blocked(0.05)
        firing, recovered = posts(webhook)
        assert firing["alert"] == recovered["alert"] == "cap:network-7"
        assert firing["title"] == "a spending cap stopped network 7"
        assert "daily spending cap of $0.05 reached" in str(firing["detail"])
        assert "2026-12-02T00:00:00+00:00" in str(firing["detail"])
        assert recovered["state"] == "recovered"
        assert len(alerts.queued) == 2
        nursery.cancel_scope.cancel()


async def test_an_archive_that_keeps_failing_and_a_full_disk_are_announced(
    tmp_path: Path, webhook: FakeWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("panic_trio.archive.archiver.RETRY_DELAYS_SECONDS", (0.01,))
    # Any disk is "nearly full" when 100% must be free: the real statvfs, a strict threshold.
    settings = ops_settings(
        tmp_path,
        alert_webhook_url=webhook.hook_url,
        alert_archive_failures=2,
        alert_disk_free_percent=100.0,
    )
    async with open_panic(settings) as panic, trio.open_nursery() as nursery:
        alerts = Alerts(panic, settings)
        await nursery.start(alerts.run)
        assert panic.archive is not None
        owner = await panic.create_user("owner@example.org", "correct horse battery")
        net = await panic.create_network(owner.id, "pictures", models=["dummy-t2i", "dummy-i2t"])
        with trio.fail_after(GUARD):
            for _ in range(2):  # outputs whose host refuses connections
                genesis = await panic.store.create_genesis(net.id, "dummy-t2i", "a prompt")
                done, _ = await panic.store.complete_and_prepare_next(
                    genesis.id, "http://127.0.0.1:9/gone.png", {}
                )
                assert await panic.archive.archive(done) is None
            await alerts.check()
            await until(lambda: len(posts(webhook)) == 2)
            firing = {str(p["alert"]): p for p in posts(webhook)}
            assert firing["archive"]["title"] == "the archive failed 2 times in a row"
            [disk] = [key for key in firing if key.startswith("disk:")]
            assert "nearly full" in str(firing[disk]["title"])

            await alerts.check()  # still true: nothing new
            await start_and_wait(panic, net.id, "a red balloon", completed_at_least(0))
            await until(lambda: panic.archive is not None and panic.archive.failures_in_a_row == 0)
            alerts.settings = dataclasses.replace(settings, alert_disk_free_percent=0.0)
            await alerts.check()
            await until(lambda: len(posts(webhook)) == 4)
            await trio.testing.wait_all_tasks_blocked(0.05)
        states = [(p["alert"], p["state"]) for p in posts(webhook)[2:]]
        assert sorted(states) == sorted([("archive", "recovered"), (disk, "recovered")])
        assert len(alerts.queued) == 4
        nursery.cancel_scope.cancel()
