"""The one HTTP helper every requests-based adapter uses, and the mapping of HTTP failures
onto the error tree.

:func:`call` sends one request with the adapter's timeout and either returns a 2xx
response or raises:

====================================================  ====================  ==============
what happened                                         create (``creates``)  read / lookup
====================================================  ====================  ==============
connection refused / DNS / TLS / connect timeout      TransientError        TransientError
read timeout, connection dropped after sending        OutcomeUnknown        TransientError
HTTP 429                                              RateLimited           RateLimited
HTTP 401, 403                                         AuthError             AuthError
HTTP 5xx, 408                                         OutcomeUnknown        TransientError
other HTTP 4xx                                        ContentRejected       ContentRejected
====================================================  ====================  ==============

An adapter passes ``classify`` to handle its platform's own signals first (Mastodon 422,
Bluesky ``ExpiredToken``, Telegram's JSON ``ok: false``); returning ``None`` falls back to the
table. ``retry_at`` of :class:`RateLimited` comes from :func:`parse_retry_at`. Every message
goes through :func:`dissem.redact.redact` and no requests exception is chained, not even
as ``__context__``: their text holds URLs, and Telegram's URLs hold the bot token.

:class:`PlatformSession` is the ``requests.Session`` adapters use: it reads the proxy and CA
bundle environment once per host instead of on every request.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from dissem.errors import (
    AuthError,
    ContentRejected,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.redact import redact

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "PlatformSession",
    "call",
    "error_for_response",
    "parse_retry_at",
    "short_body",
    "transport_error",
]

#: wait assumed when a 429 carries no usable signal
DEFAULT_RETRY_AFTER = timedelta(seconds=60)

Classifier = Callable[[requests.Response], PlatformError | None]

_EPOCH_HEADERS = ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset")
#: how requests merges a call's setting with its session's (untyped in the stubs)
_merge_setting: Callable[[Any, Any], Any] = merge_setting


class PlatformSession(requests.Session):
    """A ``requests.Session`` that reads the environment's proxy settings (``HTTPS_PROXY``,
    ``NO_PROXY``, ...) and CA bundle variables once per scheme and host, not per request.

    requests re-reads them on every call (``get_environ_proxies`` walks all of
    ``os.environ`` twice and matches ``NO_PROXY``): about a fifth of the CPU of one small
    request. Users behind a proxy keep it (``trust_env`` stays on); a change to those
    variables reaches a session made after it (adapters are rebuilt when their channel
    changes, and at every worker start). Proxies passed to a call win, as in requests.
    """

    def __init__(self) -> None:
        super().__init__()
        self._env: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {}
        # adapters share one session between the publishing threads
        self._env_lock = threading.Lock()

    def _environment(self, url: str) -> tuple[dict[str, str], str | None]:
        split = urlsplit(url)
        key = (split.scheme, split.netloc)
        with self._env_lock:
            found = self._env.get(key)
        if found is None:
            ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            found = (dict(get_environ_proxies(str(url))), ca_bundle)
            with self._env_lock:
                self._env[key] = found
        return found

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if not self.trust_env or (proxies and "no_proxy" in proxies):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        env_proxies, ca_bundle = self._environment(url)
        # requests adds the environment's proxies under the ones passed (setdefault)
        proxies = {**env_proxies, **(proxies or {})}
        if verify is True or verify is None:
            verify = ca_bundle or verify
        return {
            "proxies": _merge_setting(proxies, self.proxies),
            "stream": _merge_setting(stream, self.stream),
            "verify": _merge_setting(verify, self.verify),
            "cert": _merge_setting(cert, self.cert),
        }


def call(
    session: requests.Session,
    method: str,
    url: str,
    *,
    platform: str,
    timeout: float,
    creates: bool = False,
    classify: Classifier | None = None,
    now: datetime | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Sends one request; returns the response when its status is 2xx, raises otherwise.

    ``creates`` marks a non-idempotent write: failures after the request may have reached the
    platform become :class:`OutcomeUnknown` instead of :class:`TransientError`. ``now`` is
    only used to resolve relative rate-limit signals (tests pass it).
    """
    failure: PlatformError | None = None
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.exceptions.RequestException as exc:
        failure = transport_error(
            exc, platform=platform, creates=creates, what=f"{method} {_path_of(url)}"
        )
    if failure is not None:  # raised outside the handler: no __context__ holding the URL
        raise failure
    if 200 <= response.status_code < 300:
        return response
    error = classify(response) if classify else None
    raise error or error_for_response(response, platform=platform, creates=creates, now=now)


def transport_error(
    exc: requests.exceptions.RequestException, *, platform: str, creates: bool, what: str
) -> PlatformError:
    """The error tree's answer to a requests exception (no HTTP status was received).

    Raise the result outside the ``except`` block (so it has no ``__context__``): the
    original's text holds the URL, and maybe a token.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransientError(redact(f"{platform}: {what}: connect timeout"), platform=platform)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return _after_send(platform, creates, f"{what}: no answer in time")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _failed_before_sending(exc):
            return TransientError(
                redact(f"{platform}: {what}: cannot connect ({_reason(exc)})"), platform=platform
            )
        return _after_send(platform, creates, f"{what}: connection lost ({_reason(exc)})")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return TransientError(redact(f"{platform}: {what}: bad URL"), platform=platform)
    # chunked or decoding errors in the middle of an answer: the request was sent
    return _after_send(platform, creates, f"{what}: broken answer ({_reason(exc)})")


def error_for_response(
    response: requests.Response,
    *,
    platform: str,
    creates: bool,
    now: datetime | None = None,
) -> PlatformError:
    """The error tree's answer to a non-2xx ``response`` (see the module table)."""
    status = response.status_code
    message = redact(f"{platform}: HTTP {status}: {short_body(response)}")
    if status == 429:
        return RateLimited(
            message, retry_at=parse_retry_at(response, now), platform=platform, status=status
        )
    if status in (401, 403):
        return AuthError(message, platform=platform, status=status)
    if status >= 500 or status == 408:
        kind = OutcomeUnknown if creates else TransientError
        return kind(message, platform=platform, status=status)
    return ContentRejected(message, platform=platform, status=status)


def parse_retry_at(response: requests.Response | None, now: datetime | None = None) -> datetime:
    """When a throttled account may call again, from the platform's own signal.

    Reads, in order: epoch-second headers (``x-rate-limit-reset`` of X, ``RateLimit-Reset`` of
    Bluesky), ISO 8601 ``X-RateLimit-Reset`` (Mastodon), ``Retry-After`` (seconds or HTTP
    date), and Telegram's body ``parameters.retry_after`` (seconds). A small number in a
    reset header is read as seconds from now (the IETF draft's meaning). Without any
    signal: ``now`` + :data:`DEFAULT_RETRY_AFTER`. Always timezone-aware UTC.
    """
    now = now or datetime.now(UTC)
    if response is None:
        return now + DEFAULT_RETRY_AFTER
    headers = response.headers
    for name in _EPOCH_HEADERS:
        value = headers.get(name)
        if value:
            parsed = _parse_reset(value.strip(), now)
            if parsed:
                return parsed
    retry_after = headers.get("retry-after")
    if retry_after:
        parsed = _parse_retry_after(retry_after.strip(), now)
        if parsed:
            return parsed
    body = _json_or_none(response)
    if isinstance(body, dict):
        params = body.get("parameters")
        if isinstance(params, dict) and isinstance(params.get("retry_after"), int | float):
            return now + timedelta(seconds=float(params["retry_after"]))
    return now + DEFAULT_RETRY_AFTER


def short_body(response: requests.Response, limit: int = 300) -> str:
    """The platform's error text, shortened: the JSON ``error``/``message``/``description``
    fields when present, else the raw body."""
    body = _json_or_none(response)
    if isinstance(body, dict):
        parts = [
            str(body[k])
            for k in ("error", "error_description", "message", "description", "detail", "title")
            if body.get(k)
        ]
        if parts:
            return " - ".join(parts)[:limit]
    text = response.text.strip() if response.content else ""
    return (text or response.reason or "no body")[:limit]


def _parse_reset(value: str, now: datetime) -> datetime | None:
    try:
        number = float(value)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    if number < 1_000_000_000:  # seconds to wait, not an epoch
        return now + timedelta(seconds=number)
    return datetime.fromtimestamp(number, UTC)


def _parse_retry_after(value: str, now: datetime) -> datetime | None:
    try:
        return now + timedelta(seconds=float(value))
    except ValueError:
        pass
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _failed_before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection never opened (so the request cannot have been applied)."""
    reason: object = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError | ConnectTimeoutError | NameResolutionError)


def _after_send(platform: str, creates: bool, detail: str) -> PlatformError:
    if creates:
        return OutcomeUnknown(
            redact(f"{platform}: {detail}; the post may have been created"), platform=platform
        )
    return TransientError(redact(f"{platform}: {detail}"), platform=platform)


def _reason(exc: Exception) -> str:
    """The innermost cause's class name: informative, and free of URLs (and tokens)."""
    inner: object = exc.args[0] if exc.args else exc
    inner = getattr(inner, "reason", inner)
    if isinstance(inner, Exception) and inner.args and isinstance(inner.args[-1], Exception):
        inner = inner.args[-1]
    return type(inner).__name__


def _path_of(url: str) -> str:
    """Scheme, host and path without query: enough to say what failed. Redacted by callers."""
    return url.split("?", 1)[0]
