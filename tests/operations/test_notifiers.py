"""Delivering alerts: one channel failing does not stop the other."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import trio

from panic_trio.domain import utc_now
from panic_trio.operations import Alert, Notifiers
from tests.fakes.smtp import Inbox, free_port
from tests.fakes.webhook import FakeWebhook
from tests.operations.conftest import GUARD, ops_settings


async def test_an_alert_reaches_the_smtp_server_as_a_plain_e_mail(
    tmp_path: Path, inbox: Inbox
) -> None:
    settings = ops_settings(
        tmp_path,
        alert_email_to="ops@example.org",
        alert_smtp_host="127.0.0.1",
        alert_smtp_port=inbox.port,
    )
    alert = Alert("disk:/srv", "firing", "the disk of /srv is nearly full", "Free some.", utc_now())
    async with httpx.AsyncClient() as http:
        with trio.fail_after(GUARD):
            assert await Notifiers.from_settings(settings, http).send(alert) == 1
    [(recipients, message)] = inbox.received()
    assert recipients == ["ops@example.org"]
    assert message["Subject"] == "[PANIC! alert] the disk of /srv is nearly full"
    assert message.get_content_type() == "text/plain"
    assert "Free some." in message.get_content()


async def test_an_unreachable_smtp_server_does_not_stop_the_webhook(
    tmp_path: Path, webhook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ops_settings(
        tmp_path,
        alert_email_to="ops@example.org",
        alert_smtp_host="127.0.0.1",
        alert_smtp_port=free_port(),  # nobody listens
        alert_webhook_url=webhook.hook_url,
    )
    alert = Alert("archive", "firing", "the archive failed 3 times in a row", "…", utc_now())
    async with httpx.AsyncClient() as http:
        notifiers = Notifiers.from_settings(settings, http)
        with trio.fail_after(GUARD), caplog.at_level(logging.ERROR):
            assert await notifiers.send(alert) == 1
    assert [r.json()["alert"] for r in webhook.received("POST", "/hooks/panic")] == ["archive"]
    assert any("could not e-mail the alert through 127.0.0.1" in r.message for r in caplog.records)
