"""What Facebook Pages, Instagram and Threads share: the Graph API's error codes and usage
headers, mapped into :mod:`dissem.errors`, and :class:`GraphPlatform`, the adapters' common
base (versioned URLs, the bearer token, one call through :func:`dissem.platforms.http.call`).

Graph answers almost every failure with HTTP 400 and a body
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``; the *code*
says what happened, not the HTTP status. :func:`classify_graph_error` sorts them:

- throttling (codes 4, 17, 32, 613, 80001-80014; Instagram's publishing quota) ->
  :class:`RateLimited`, ``retry_at`` from the usage headers (:func:`usage_wait`);
- 368 ("temporarily blocked for policy violations": the account may not post for a while,
  nothing was created) -> :class:`AccountBlocked`, so the channel pauses and a person is
  told; it is not a duplicate;
- 506 (already posted: "Duplicate Post") -> :class:`Duplicate`;
- 190, 102, 2500, 10, 200-299 (and an ``OAuthException`` without a code) ->
  :class:`AuthError`;
- 1 / 2 (Graph's "unknown" and "temporarily unavailable") and every 5xx ->
  :class:`OutcomeUnknown` on a create (Graph has answered 500 for posts it did create),
  :class:`TransientError` on a read;
- 100 (invalid parameter) and anything else Graph refused -> :class:`ContentRejected`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from dissem.errors import (
    AccountBlocked,
    AuthError,
    ContentRejected,
    Duplicate,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.platforms.base import Platform
from dissem.platforms.http import call
from dissem.redact import redact

__all__ = [
    "DEFAULT_THROTTLE_WAIT",
    "GraphError",
    "GraphPlatform",
    "classify_graph_error",
    "graph_error_for",
    "usage_wait",
]

#: Graph's throttling codes: app (4), user (17), page (32), "calls within one hour" (613) and
#: the business-use-case family 80001-80014 (Pages, Instagram, ...).
THROTTLE_CODES = frozenset(
    {4, 17, 32, 613, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014}
)
#: Instagram: "the account has reached its content publishing limit" (code 9).
PUBLISH_QUOTA_SUBCODES = frozenset({2207042})
#: Instagram: "media is not ready to be published" (code 9007); the container is still
#: IN_PROGRESS, so a later try with the same container will succeed.
NOT_READY_CODES = frozenset({9007})
NOT_READY_SUBCODES = frozenset({2207027})
#: codes from https://developers.facebook.com/docs/graph-api/guides/error-handling: 506
#: "Duplicate Post" (subcode 1455006, "Duplicate status message"); 368 "Temporarily blocked
#: for policy violations" (subcode 1390008: "misusing this feature by going too fast")
DUPLICATE_CODES = frozenset({506})
BLOCKED_CODES = frozenset({368})
#: invalid/expired token (190, 102, 2500 "an active access token must be used"), missing
#: permission (10, 200-299).
AUTH_CODES = frozenset({10, 102, 190, 2500, *range(200, 300)})
#: Graph's "an unknown error occurred" and "service temporarily unavailable".
UNKNOWN_CODES = frozenset({1, 2})

#: Wait when Graph throttles without an estimate. Its throttling windows are rolling one
#: hour, so an hour is the documented worst case; pausing a little long only delays posts,
#: while knocking again during a block keeps the usage at its cap.
DEFAULT_THROTTLE_WAIT = timedelta(hours=1)
_USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage", "x-ad-account-usage")


@dataclass(frozen=True)
class GraphError:
    """The ``error`` object of a Graph response (every field optional in practice)."""

    message: str = ""
    type: str = ""
    code: int | None = None
    subcode: int | None = None
    user_title: str = ""
    user_message: str = ""
    fbtrace_id: str = ""

    @classmethod
    def from_body(cls, body: Any) -> GraphError | None:
        """Parses ``{"error": {...}}``; None when the body is not a Graph error."""
        if not isinstance(body, Mapping) or not isinstance(body.get("error"), Mapping):
            return None
        err = body["error"]
        return cls(
            message=str(err.get("message") or ""),
            type=str(err.get("type") or ""),
            code=_int_or_none(err.get("code")),
            subcode=_int_or_none(err.get("error_subcode")),
            user_title=str(err.get("error_user_title") or ""),
            user_message=str(err.get("error_user_msg") or ""),
            fbtrace_id=str(err.get("fbtrace_id") or ""),
        )

    def describe(self) -> str:
        """One line for people: message, the user-facing text when given, code/subcode."""
        parts = [self.message or "Graph API error"]
        if self.user_message and self.user_message not in self.message:
            parts.append(self.user_message)
        code = f"code {self.code}" if self.code is not None else "no code"
        if self.subcode is not None:
            code += f"/{self.subcode}"
        trace = f", fbtrace_id {self.fbtrace_id}" if self.fbtrace_id else ""
        return f"{': '.join(parts)} ({code}{trace})"

    def mentions(self, token: str) -> bool:
        """True when ``token`` appears in any text field (Threads names errors in text)."""
        return any(token in t for t in (self.message, self.user_title, self.user_message))


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _usage_entries(value: Any) -> Iterator[Mapping[str, Any]]:
    """Flattens a usage header: a flat object (X-App-Usage) or ``{id: [objects]}`` (BUC)."""
    if isinstance(value, Mapping):
        if any(not isinstance(v, list | Mapping) for v in value.values()):
            yield value
        for v in value.values():
            yield from _usage_entries(v)
    elif isinstance(value, list):
        for v in value:
            yield from _usage_entries(v)


def usage_wait(headers: Mapping[str, str]) -> timedelta | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) across Graph's usage
    headers, or None when no header gives a positive estimate. ``headers`` must be
    case-insensitive (``requests`` headers are) or use lower-case keys."""
    minutes = 0.0
    for name in _USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        for entry in _usage_entries(parsed):
            try:
                minutes = max(minutes, float(entry.get("estimated_time_to_regain_access", 0)))
            except (TypeError, ValueError):
                continue
    return timedelta(minutes=minutes) if minutes > 0 else None


def classify_graph_error(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    platform: str,
    creating: bool,
    now: datetime,
) -> PlatformError:
    """The error for a failed Graph response (``status`` >= 400 or an ``error`` body).

    ``creating`` is True for the call that makes a post appear (Facebook's ``/feed``, the
    ``*_publish`` step): only there can an unclear answer mean the post exists. The message
    starts with the platform name and holds no registered secret.
    """
    err = GraphError.from_body(body) or GraphError(message=f"HTTP {status}")
    kw: dict[str, Any] = {"platform": platform, "status": status}

    def say(what: str) -> str:
        return redact(f"{platform}: {what}{err.describe()}")

    if err.code in THROTTLE_CODES or err.subcode in PUBLISH_QUOTA_SUBCODES or status == 429:
        wait = usage_wait(headers) or DEFAULT_THROTTLE_WAIT
        return RateLimited(say("throttled: "), retry_at=now + wait, **kw)
    if err.code in NOT_READY_CODES or err.subcode in NOT_READY_SUBCODES:
        return TransientError(say("container not ready yet: "), **kw)
    if err.code in BLOCKED_CODES:
        return AccountBlocked(say("the account is blocked from posting for now: "), **kw)
    if err.code in DUPLICATE_CODES:
        return Duplicate(say("already posted: "), **kw)
    if status >= 500 or err.code in UNKNOWN_CODES:
        if creating:
            return OutcomeUnknown(say("Graph failed and may have posted anyway: "), **kw)
        return TransientError(say(""), **kw)
    if err.code in AUTH_CODES or status in (401, 403):
        return AuthError(say("credentials refused: "), **kw)
    if err.code is None and err.type == "OAuthException":
        # Graph labels many non-auth errors (100, Instagram's 9004...) OAuthException too, so
        # the type decides only when there is no code.
        return AuthError(say("credentials refused: "), **kw)
    # 100 (invalid parameter) and every other refusal: nothing was created and sending the
    # same content again would fail the same way.
    return ContentRejected(say(""), **kw)


class GraphPlatform(Platform):
    """Plumbing the three Graph adapters share: versioned URLs, the bearer token, one call.

    The token goes in the ``Authorization`` header, never the query string, so it cannot
    leak through a URL in an error text or a proxy log.
    """

    token_credential: ClassVar[str] = "access_token"

    @property
    def api_version(self) -> str:
        """The version path segment (``v23.0``); Threads versions separately."""
        return self.settings.graph_api_version

    def graph_url(self, path: str) -> str:
        """``{api_base}/{version}/{path}``; an empty path addresses the root (``/?ids=``)."""
        return f"{self.api_base}/{self.api_version}/{path.lstrip('/')}"

    def graph(
        self,
        method: str,
        path: str,
        *,
        creates: bool = False,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        versioned: bool = True,
    ) -> dict[str, Any]:
        """One Graph call; the parsed JSON object, or the error tree (see the module doc).

        A 2xx answer that is not a JSON object is :class:`OutcomeUnknown` when ``creates``
        (something answered success) and :class:`TransientError` otherwise.
        """
        url = self.graph_url(path) if versioned else f"{self.api_base}/{path.lstrip('/')}"
        token = self.credentials.get(self.token_credential, "")
        response = call(
            self.session,
            method,
            url,
            platform=self.name,
            timeout=self.timeout,
            creates=creates,
            classify=lambda r: self.classify_error(r, creates=creates),
            params=dict(params or {}),
            data=dict(data or {}) or None,
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            kind = OutcomeUnknown if creates else TransientError
            raise kind(
                f"{self.name}: {method} {path}: answer is not a JSON object",
                platform=self.name,
                status=response.status_code,
            )
        return body

    def classify_error(self, response: requests.Response, *, creates: bool) -> PlatformError:
        """The error for a failed answer; a platform with extra signals overrides this."""
        # a relative wait starts now on the adapter's clock (the demo's simulated one)
        return graph_error_for(response, platform=self.name, creates=creates, now=self.now())


def graph_error_for(
    response: requests.Response, *, platform: str, creates: bool, now: datetime | None = None
) -> PlatformError:
    """:func:`classify_graph_error` for a ``requests`` response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return classify_graph_error(
        response.status_code,
        response.headers,
        body,
        platform=platform,
        creating=creates,
        now=now or datetime.now(UTC),
    )
