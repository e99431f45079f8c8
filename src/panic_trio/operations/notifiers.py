"""Delivering alerts: e-mail over SMTP and a JSON webhook.

smtplib is blocking, so it runs behind its own thread seam ("smtp", one at a
time); the webhook uses httpx. Both libraries' errors become
:class:`~panic_trio.errors.NotifyError` here and nowhere else, and one
channel failing never stops the other.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Final, Literal

import httpx

from panic_trio.blocking import ThreadSeam
from panic_trio.domain import iso
from panic_trio.errors import NotifyError
from panic_trio.settings import Settings

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS: Final = 30.0
WEBHOOK_TIMEOUT_SECONDS: Final = 10.0
AlertState = Literal["firing", "recovered"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One announcement: a condition began (``firing``) or ended (``recovered``).

    ``key`` names the condition (``auth:openai:network-3``); the same key
    fires and recovers.
    """

    key: str
    state: AlertState
    title: str
    detail: str
    at: datetime

    @property
    def subject(self) -> str:
        """The e-mail subject line."""
        prefix = "PANIC! alert" if self.state == "firing" else "PANIC! recovered"
        return f"[{prefix}] {self.title}"

    def to_json(self) -> dict[str, Any]:
        """The webhook body."""
        return {
            "alert": self.key,
            "state": self.state,
            "title": self.title,
            "detail": self.detail,
            "at": iso(self.at),
        }


class EmailNotifier:
    """Sends alerts to ``alert_email_to`` (comma-separated) through ``alert_smtp_host``."""

    def __init__(self, settings: Settings, *, inline: bool = False) -> None:
        self._settings = settings
        self._seam = ThreadSeam("smtp", 1, inline=inline)
        to = settings.alert_email_to or ""
        self.recipients = [address.strip() for address in to.split(",") if address.strip()]

    async def send(self, alert: Alert) -> None:
        """Deliver one alert (``NotifyError`` if the server refuses or cannot be reached)."""
        await self._seam.run(self._send, alert)

    def _send(self, alert: Alert) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.alert_email_from
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = alert.subject
        message.set_content(f"{alert.detail}\n\nAt {iso(alert.at)} (condition {alert.key}).\n")
        host = s.alert_smtp_host or "localhost"
        try:
            with smtplib.SMTP(host, s.alert_smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
                if s.alert_smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.alert_smtp_user:
                    smtp.login(s.alert_smtp_user, s.alert_smtp_password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(
                f"could not e-mail the alert through {host}:{s.alert_smtp_port}: {exc}"
            ) from exc


class WebhookNotifier:
    """POSTs each alert as JSON to ``alert_webhook_url``; any 2xx is delivered."""

    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url
        self._http = http

    async def send(self, alert: Alert) -> None:
        """Deliver one alert (``NotifyError`` on a transport error or a non-2xx)."""
        for attempt in range(2):  # a pooled connection the receiver closed fails once
            try:
                response = await self._http.post(
                    self.url, json=alert.to_json(), timeout=WEBHOOK_TIMEOUT_SECONDS
                )
                break
            except httpx.TransportError as exc:
                if attempt:
                    raise NotifyError(f"could not post the alert to the webhook: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise NotifyError(f"could not post the alert to the webhook: {exc!r}") from exc
        if not response.is_success:
            raise NotifyError(f"the alert webhook answered {response.status_code}")


class Notifiers:
    """Every configured channel; :meth:`send` tries each and logs what failed."""

    def __init__(self, channels: list[EmailNotifier | WebhookNotifier]) -> None:
        self.channels = channels

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, *, inline: bool = False
    ) -> Notifiers:
        """E-mail if ``alert_email_to`` is set, webhook if ``alert_webhook_url`` is."""
        channels: list[EmailNotifier | WebhookNotifier] = []
        if settings.alert_email_to:
            channels.append(EmailNotifier(settings, inline=inline))
        if settings.alert_webhook_url:
            channels.append(WebhookNotifier(settings.alert_webhook_url, http))
        return cls(channels)

    async def send(self, alert: Alert) -> int:
        """Deliver ``alert`` on every channel; returns how many accepted it."""
        delivered = 0
        for channel in self.channels:
            try:
                await channel.send(alert)
            except NotifyError as exc:
                logger.error("alert %s (%s) not delivered: %s", alert.key, alert.state, exc)
            else:
                delivered += 1
        return delivered
