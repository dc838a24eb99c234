"""X's OAuth 2.0 token endpoint in the sandbox: ``POST /x/2/oauth2/token``, the refresh grant.

As documented (https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code,
https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token): a form with
``grant_type=refresh_token``, ``refresh_token`` and ``client_id`` (a public client) or HTTP
Basic ``client_id:client_secret`` (a confidential one) answers ``{token_type, expires_in:
7200, access_token, scope, refresh_token}``. The access token lives 2 hours; the refresh
token sent is spent, and its reuse answers 400 ``invalid_request`` "Value passed for the
token was invalid." (the body X sends). No client authentication answers 401
``unauthorized_client``.

A refresh token this sandbox never issued counts as one from an authorization made
elsewhere (a test's configured credential): its first use is granted, and every access
token minted from it acts for the account its text stands for (``account_for``), as a bare
OAuth 2.0 user token does. An expired access token is answered 401.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response

__all__ = ["ACCESS_TTL", "SCOPE", "grant", "subject"]

#: an OAuth 2.0 user access token lives two hours
ACCESS_TTL = timedelta(hours=2)
SCOPE = "tweet.read tweet.write users.read media.write offline.access"
_SPENT = "Value passed for the token was invalid."


def _refusal(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _basic_client(req: Request) -> str | None:
    """The client id of an ``Authorization: Basic`` header (form-urlencoded, then base64,
    as RFC 6749 2.3.1 says), or None."""
    scheme, _, value = (req.header("Authorization") or "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:
        return None
    client, sep, secret = decoded.partition(":")
    return unquote_plus(client) if sep and client and secret else None


def _book(stand_in: StandIn) -> dict[str, dict[str, Any]]:
    """``{"access": {token: {sub, expires}}, "refresh": {token: {sub, client, spent}}}``;
    call with the state lock held."""
    bucket = stand_in.env.state.bucket(stand_in.name)
    book: dict[str, dict[str, Any]] = bucket.setdefault("oauth2", {})
    book.setdefault("access", {})
    book.setdefault("refresh", {})
    return book


def grant(stand_in: StandIn, req: Request) -> Response:
    """The refresh grant: a new access token (2 hours) and a new refresh token; the one sent
    is spent."""
    form = req.form()
    client = _basic_client(req) or str(form.get("client_id") or "")
    if not client:
        return _refusal(401, "unauthorized_client", "Missing valid authorization header")
    if form.get("grant_type") != "refresh_token":
        return _refusal(400, "invalid_request", "Value passed for the grant_type was invalid.")
    sent = str(form.get("refresh_token") or "")
    if not sent:
        return _refusal(400, "invalid_request", "Missing required parameter [refresh_token].")
    state = stand_in.env.state
    with state.lock:
        book = _book(stand_in)
        entry = book["refresh"].get(sent) or {"sub": sent, "client": client, "spent": False}
        if entry["spent"] or entry["client"] != client:
            return _refusal(400, "invalid_request", _SPENT)
        book["refresh"][sent] = {**entry, "spent": True}
        access = secrets.token_urlsafe(48)
        rotated = secrets.token_urlsafe(48)
        expires = req.now + ACCESS_TTL
        book["access"][access] = {"sub": entry["sub"], "expires": expires.timestamp()}
        book["refresh"][rotated] = {"sub": entry["sub"], "client": client, "spent": False}
        state.changed()
    return json_response(
        {
            "token_type": "bearer",
            "expires_in": int(ACCESS_TTL.total_seconds()),
            "access_token": access,
            "scope": SCOPE,
            "refresh_token": rotated,
        }
    )


def subject(stand_in: StandIn, token: str, now: datetime) -> str:
    """What decides the account of a bearer ``token``: for an access token minted here, the
    refresh token it descends from (:class:`Reject` 401 once expired); else the token."""
    with stand_in.env.state.lock:
        entry = _book(stand_in)["access"].get(token)
    if entry is None:
        return token
    if now.timestamp() >= float(entry["expires"]):
        raise Reject(stand_in.error(401, "Unauthorized"))
    return str(entry["sub"])
