"""Delivering a generated report: by e-mail (SMTP) and to a webhook (JSON summary).

The folder is written by :mod:`dissem.reports.weekly` itself; these functions only send.
Nothing secret goes out: the webhook body is the summary figures and the file names, the
e-mail carries the report files; the SMTP password and the webhook URL are never part of a
message or an error text (errors pass through :func:`dissem.redact.redact`).
"""

from __future__ import annotations

import mimetypes
import smtplib
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import requests

from dissem.errors import DeliveryError
from dissem.redact import redact, register_secret, register_url
from dissem.settings import Settings

__all__ = ["SmtpClient", "post_webhook", "send_email"]


class SmtpClient(Protocol):
    """The part of :class:`smtplib.SMTP` delivery uses (a seam for tests)."""

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> Any: ...

    def starttls(self) -> Any: ...

    def login(self, user: str, password: str) -> Any: ...

    def send_message(self, msg: EmailMessage) -> Any: ...


def recipients(value: str | None) -> list[str]:
    """``"a@x, b@y"`` -> ``["a@x", "b@y"]``."""
    return [r.strip() for r in (value or "").split(",") if r.strip()]


def send_email(
    settings: Settings,
    to: Sequence[str],
    subject: str,
    html: str,
    attachments: Sequence[Path],
    *,
    smtp_factory: Callable[[str, int, float], SmtpClient] | None = None,
) -> None:
    """Sends ``html`` as the body with ``attachments`` through ``settings.smtp_host``.

    Raises :class:`DeliveryError` when SMTP is not configured or the server refuses.
    """
    if not settings.smtp_host:
        raise DeliveryError("e-mail: DISSEM_SMTP_HOST is not set")
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    register_secret(password)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(to)
    msg.set_content(subject + "\n\n(HTML report attached and in the HTML part of this message)")
    msg.add_alternative(html, subtype="html")
    for path in attachments:
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    factory = smtp_factory or _smtp
    try:
        with factory(settings.smtp_host, settings.smtp_port, settings.http_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and password:
                smtp.login(settings.smtp_user, password)
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(redact(f"e-mail: {type(exc).__name__}: {exc}")) from None


def _smtp(host: str, port: int, timeout: float) -> SmtpClient:
    return smtplib.SMTP(host, port, timeout=timeout)


def post_webhook(
    url: str,
    summary: Mapping[str, Any],
    *,
    timeout: float = 15.0,
    session: requests.Session | None = None,
) -> None:
    """POSTs ``summary`` as JSON to ``url``. Raises :class:`DeliveryError` on failure; the
    URL (which often embeds a token) is a secret: not in the error, nor in any log line
    (its path and query are masked too, :func:`dissem.redact.register_url`)."""
    register_url(url)
    http = session or requests.Session()
    try:
        response = http.post(url, json=dict(summary), timeout=timeout)
    except requests.RequestException as exc:
        raise DeliveryError(redact(f"webhook: {type(exc).__name__}")) from None
    finally:
        if session is None:
            http.close()
    if response.status_code >= 300:
        raise DeliveryError(f"webhook: HTTP {response.status_code}")
