"""Keeps secrets out of logs and error texts.

Every credential an adapter holds is registered here (:func:`register_secret`); then
:func:`redact` replaces each registered value in any text with ``***``, and
:class:`RedactingFilter` does the same to every log record (message, arguments and
exception text). :func:`install_log_redaction` applies it process-wide, including to log
handlers added later (pytest's ``caplog``), by wrapping the log record factory.

Registering the first secret installs the log redaction, so no caller can forget it.

Values shorter than :data:`MIN_SECRET_LENGTH` are not registered: redacting ``"a"`` would
mangle every text and such a value is no secret anyway.

Encoded forms
-------------
A secret rarely travels as typed: OAuth 1.0a percent-encodes it in the ``Authorization``
header (RFC 5849 3.5.1, 3.6) and again in the signature base string (3.4.1.1), forms and
query strings encode it ``application/x-www-form-urlencoded`` (``+`` for a space), JSON
escapes it, and some platforms echo such a header back in an error. Registering a secret
registers its :func:`encoded_forms` too, so wherever the raw value is redacted those are.
An HTTP Basic credential (``Basic`` and base64 of ``user:password``, RFC 7617 2; an OAuth
2.0 client form-encodes each part first, RFC 6749 2.3.1) is masked whole when it decodes to
text holding a secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "encoded_forms",
    "forget_secrets",
    "install_log_redaction",
    "redact",
    "register_secret",
    "register_url",
]

MIN_SECRET_LENGTH = 4
MASK = "***"
_lock = threading.Lock()
_raw: frozenset[str] = frozenset()  # the values as registered
_secrets: tuple[str, ...] = ()  # forms without "%", longest first (a secret inside another)
_percent: re.Pattern[str] | None = None  # forms with %XX escapes, hex digits in any case
#: a URL path shorter than this is not registered on its own (see :func:`register_url`)
URL_PATH_MIN = 12
#: ``Basic <base64>``: an HTTP Basic credential (RFC 7617), standard or URL-safe alphabet
_BASIC = re.compile(r"(?i)\b(basic)(\s+)([A-Za-z0-9+/_-]{6,}={0,2})")
_ESCAPE = re.compile(r"%([0-9A-Fa-f])([0-9A-Fa-f])")


def encoded_forms(value: str) -> set[str]:
    """``value`` and the ways it is written on the wire: percent-encoded (RFC 3986, as
    OAuth 1.0a does; with ``/`` kept, as in a path; twice, as in an OAuth signature base
    string), form-encoded (``+`` for a space) and JSON-escaped. :func:`redact` matches the
    hex digits of ``%XX`` escapes in either case."""
    once = quote(value, safe="")
    return {
        value,
        once,
        quote(value, safe="/"),
        quote(once, safe=""),
        quote_plus(value, safe=""),
        quote_plus(value, safe="/"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


def _any_case_hex(form: str) -> str:
    """A pattern for ``form`` whose ``%XX`` escapes match with hex digits in any case."""
    out, last = [], 0
    for m in _ESCAPE.finditer(form):
        out.append(re.escape(form[last : m.start()]))
        out.append("%" + "".join(f"[{d.upper()}{d.lower()}]" for d in m.groups()))
        last = m.end()
    out.append(re.escape(form[last:]))
    return "".join(out)


def register_secret(value: str | None) -> None:
    """Adds ``value`` (and its :func:`encoded_forms`) to the secrets :func:`redact` removes;
    short or empty values are ignored."""
    global _secrets, _raw, _percent
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _raw:
            return
        _raw = _raw | {value}
        forms = set().union(*(encoded_forms(v) for v in _raw))
        escaped = sorted((f for f in forms if "%" in f), key=len, reverse=True)
        _percent = re.compile("|".join(map(_any_case_hex, escaped))) if escaped else None
        _secrets = tuple(sorted((f for f in forms if "%" not in f), key=len, reverse=True))
    install_log_redaction()  # once a secret exists, no log record may carry it


def register_url(url: str | None) -> None:
    """Registers a URL that is itself a credential (a webhook: Slack's, Discord's, a chat
    server's, or any with a token in it): the URL, and the parts that show up alone in
    logs and errors: its path with the query (HTTP client logs print the request line,
    ``POST /services/T0/B0/XXXX``) when at least :data:`URL_PATH_MIN` characters long, the
    path alone likewise, each query value, and the password in ``user:password@``."""
    if not url:
        return
    register_secret(url)
    try:
        split = urlsplit(url)
        password = split.password
    except ValueError:  # a malformed URL: the whole of it is registered, that is all
        return
    register_secret(password)
    target = split.path + (f"?{split.query}" if split.query else "")
    for part in (target, split.path):
        if len(part) >= URL_PATH_MIN:
            register_secret(part)
    for _, value in parse_qsl(split.query, keep_blank_values=False):
        register_secret(value)


def forget_secrets() -> None:
    """Clears the registry (tests)."""
    global _secrets, _raw, _percent
    with _lock:
        _secrets, _raw, _percent = (), frozenset(), None


def redact(text: str) -> str:
    """``text`` with every registered secret, in any of its :func:`encoded_forms`, replaced
    by ``***``, and every HTTP Basic credential that holds one masked whole."""
    secrets, percent = _secrets, _percent  # read once: safe against concurrent registration
    if not secrets and percent is None:
        return text
    text = _BASIC.sub(lambda m: _basic(m, secrets, percent), text)
    if percent is not None and "%" in text:
        text = percent.sub(MASK, text)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _basic(match: re.Match[str], secrets: tuple[str, ...], percent: re.Pattern[str] | None) -> str:
    """The ``Basic`` credential of ``match`` masked when it decodes to a secret."""
    token = match.group(3)
    try:
        raw = base64.b64decode(token.replace("-", "+").replace("_", "/") + "==", validate=False)
    except (binascii.Error, ValueError):
        return match.group(0)
    decoded = raw.decode("utf-8", errors="replace")
    if any(s in decoded for s in secrets) or (percent is not None and percent.search(decoded)):
        return f"{match.group(1)}{match.group(2)}{MASK}"
    return match.group(0)


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
    if not _raw:
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
