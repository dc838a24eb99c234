"""Alerts for failures and paused channels: a webhook (JSON POST) and/or e-mail (SMTP).

Alerts are best effort: a failing alert channel is logged and never stops the worker. The
same alert (kind and key) is sent at most once per ``dedupe_seconds``.

The webhook URLs (alerts and reports) and the SMTP password are secrets
(:func:`register_delivery_secrets`): a webhook URL usually is its own credential (Slack's,
Discord's), and it would otherwise be printed with the error when delivery fails. A
failing delivery is reported by its kind and status only.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any, Protocol

import requests

from dissem.errors import AlertFailed
from dissem.redact import redact, register_secret, register_url
from dissem.settings import Settings

log = logging.getLogger(__name__)


class Alerter(Protocol):
    """Sends one alert. ``kind``: e.g. ``auth``, ``failed``, ``needs_review``,
    ``token_expiring`` (a token that could not be renewed expires soon; see
    :mod:`dissem.worker.tokens`)."""

    def send(self, kind: str, message: str, **fields: Any) -> None: ...


class NullAlerter:
    """Logs alerts only (no webhook or e-mail configured)."""

    def send(self, kind: str, message: str, **fields: Any) -> None:
        log.warning("alert %s: %s", kind, redact(message), extra=_extra(fields))


class WebhookAlerter:
    def __init__(self, url: str, timeout: float, session: requests.Session | None = None):
        register_url(url)
        self.url = url
        self.timeout = timeout
        self.session = session or requests.Session()

    def send(self, kind: str, message: str, **fields: Any) -> None:
        body = {"source": "dissem", "kind": kind, "message": redact(message)}
        body.update({k: redact(str(v)) for k, v in fields.items()})
        body["text"] = f"dissem {kind}: {body['message']}"  # Slack/Mattermost-compatible
        failure: str | None = None
        try:
            response = self.session.post(self.url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:  # its text holds the URL
            failure = f"webhook: cannot deliver ({type(exc).__name__})"
        else:
            if response.status_code >= 300:
                failure = f"webhook: HTTP {response.status_code}"
        if failure is not None:  # raised outside the handler: no __context__ with the URL
            raise AlertFailed(failure)


class EmailAlerter:
    def __init__(self, settings: Settings, recipients: Sequence[str]):
        self.settings = settings
        self.recipients = list(recipients)

    def send(self, kind: str, message: str, **fields: Any) -> None:
        msg = EmailMessage()
        msg["Subject"] = f"[dissem] {kind}: {redact(message)[:120]}"
        msg["From"] = self.settings.smtp_from
        msg["To"] = ", ".join(self.recipients)
        lines = [redact(message), ""] + [f"{k}: {redact(str(v))}" for k, v in fields.items()]
        msg.set_content("\n".join(lines))
        send_email(self.settings, msg)


def send_email(settings: Settings, msg: EmailMessage) -> None:
    """Sends ``msg`` through the configured SMTP server (STARTTLS and login when set)."""
    if not settings.smtp_host:
        raise RuntimeError("DISSEM_SMTP_HOST is not set")
    register_delivery_secrets(settings)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.http_timeout) as s:
        if settings.smtp_starttls:
            s.starttls()
        if settings.smtp_user and settings.smtp_password:
            s.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        s.send_message(msg)


class FanOutAlerter:
    """Sends to every configured alerter, de-duplicated, never raising."""

    def __init__(
        self,
        targets: Sequence[Alerter],
        *,
        dedupe_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.targets = list(targets)
        self.dedupe_seconds = dedupe_seconds
        self.clock = clock
        self._sent: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def send(self, kind: str, message: str, **fields: Any) -> None:
        key = (kind, str(fields.get("channel", "")) + "|" + str(fields.get("post_id", message)))
        now = self.clock()
        with self._lock:
            last = self._sent.get(key)
            if last is not None and now - last < self.dedupe_seconds:
                return
            self._sent[key] = now
        log.warning("alert %s: %s", kind, redact(message), extra=_extra(fields))
        for target in self.targets:
            try:
                target.send(kind, message, **fields)
            except Exception as exc:  # an alert channel failing must not stop the worker
                log.error("alert via %s failed: %s", type(target).__name__, redact(str(exc)))


def register_delivery_secrets(settings: Settings) -> None:
    """Registers the alert and report webhook URLs and the SMTP password as secrets."""
    register_url(settings.alert_webhook_url)
    register_url(settings.report_webhook_url)
    if settings.smtp_password is not None:
        register_secret(settings.smtp_password.get_secret_value())


def build_alerter(settings: Settings) -> Alerter:
    """The alerter the settings ask for (webhook and/or e-mail), or a logging-only one."""
    register_delivery_secrets(settings)
    targets: list[Alerter] = []
    if settings.alert_webhook_url:
        targets.append(WebhookAlerter(settings.alert_webhook_url, settings.http_timeout))
    if settings.alert_email_to and settings.smtp_host:
        recipients = [a.strip() for a in settings.alert_email_to.split(",") if a.strip()]
        targets.append(EmailAlerter(settings, recipients))
    return FanOutAlerter(targets)


def _extra(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k in ("post_id", "channel", "platform")}
