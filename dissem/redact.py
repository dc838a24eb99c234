"""Keeps secrets out of logs and error texts.

Every credential an adapter holds is registered here (:func:`register_secret`); then
:func:`redact` replaces each registered value in any text with ``***``, and
:class:`RedactingFilter` does the same to every log record (message, arguments and
exception text). :func:`install_log_redaction` applies it process-wide, including to log
handlers added later (pytest's ``caplog``), by wrapping the log record factory.

Registering the first secret installs the log redaction, so no caller can forget it.

Values shorter than :data:`MIN_SECRET_LENGTH` are not registered: redacting ``"a"`` would
mangle every text and such a value is no secret anyway.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "forget_secrets",
    "install_log_redaction",
    "redact",
    "register_secret",
]

MIN_SECRET_LENGTH = 4
MASK = "***"

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first, so a secret containing another goes whole


def register_secret(value: str | None) -> None:
    """Adds ``value`` to the secrets :func:`redact` removes; short or empty values are ignored."""
    global _secrets
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))
    install_log_redaction()  # once a secret exists, no log record may carry it


def forget_secrets() -> None:
    """Clears the registry (tests)."""
    global _secrets
    with _lock:
        _secrets = ()


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _secrets:  # a tuple read once: safe against concurrent registration
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record so no registered secret survives in it.

    The message is formatted with its arguments first (a secret may sit in either), and the
    exception text is rendered and redacted here, so handlers print the redacted copy.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redacts ``record`` in place (message, args, exception and stack text) and returns it."""
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what we can, never raise from logging
        message = f"{record.msg!r} {record.args!r}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
        # the formatter would otherwise re-render the traceback from exc_info only when
        # exc_text is empty; keeping exc_info lets handlers know an error was attached
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


_installed = False


def install_log_redaction() -> None:
    """Redacts every log record created from now on, whatever handler receives it.

    Idempotent. Wraps :func:`logging.getLogRecordFactory` rather than adding a filter to
    today's handlers, because handlers attached later (and those of libraries) must be
    covered too. Exception text is rendered at record creation for that reason.
    """
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
