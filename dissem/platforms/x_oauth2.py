"""X OAuth 2.0 user tokens, renewed with their refresh token before they expire.

An OAuth 2.0 user access token (Authorization Code Flow with PKCE) stays valid for two
hours; with the ``offline.access`` scope the authorization also gives a refresh token, and
``POST /2/oauth2/token`` (form ``grant_type=refresh_token``, ``refresh_token``,
``client_id``) answers a new access token and a new refresh token
(https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code). A
confidential client authenticates there with HTTP Basic ``client_id:client_secret``
(https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token). The refresh
token sent is spent: X answers its reuse 400 ``invalid_request`` "Value passed for the token
was invalid" (reference clients store the rotated one: tweepy#2156, httr2#197), so the new
pair is kept at once (:mod:`dissem.platforms.tokens`) and two workers never send the same
one (the store's lock).

Credentials: ``oauth2_refresh_token`` and ``oauth2_client_id``, plus
``oauth2_client_secret`` for a confidential client. The first access token is minted at
first use. :class:`OAuth2UserToken` renews the pair when the access token is within
:data:`REFRESH_AHEAD` of expiry, and again when X answers 401 (the caller sends the
refused request once more: a 401 means nothing was applied).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import requests

from dissem.errors import AuthError, PlatformError, TransientError
from dissem.platforms.http import call, error_for_response, short_body
from dissem.platforms.tokens import (
    KeptToken,
    RenewableToken,
    TokenStatus,
    TokenStore,
    fingerprint,
)
from dissem.redact import redact, register_secret

__all__ = ["ACCESS_LIFETIME", "REFRESH_AHEAD", "REFRESH_CREDENTIALS", "OAuth2UserToken"]

log = logging.getLogger(__name__)

#: how long an access token lives when X does not say (``expires_in`` is 7200)
ACCESS_LIFETIME = timedelta(hours=2)
#: renew this long before the access token expires
REFRESH_AHEAD = timedelta(minutes=5)
#: the credentials that make an OAuth 2.0 token renewable
REFRESH_CREDENTIALS = ("oauth2_refresh_token", "oauth2_client_id")
#: the name the renewed pair is kept under
NAME = "oauth2_user_token"


class OAuth2UserToken:
    """The renewable OAuth 2.0 user token of one X channel.

    ``session`` is the adapter's (its transport adds the timeout and, for a sandbox, the
    host); ``clock`` is the adapter's :meth:`~dissem.platforms.base.Platform.now`.
    """

    def __init__(
        self,
        channel: str,
        credentials: Mapping[str, str],
        *,
        session: requests.Session,
        token_url: str,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.session = session
        self.token_url = token_url
        self.timeout = timeout
        self.clock = clock
        self.client_id = credentials["oauth2_client_id"]
        self.client_secret = credentials.get("oauth2_client_secret")
        refresh = credentials["oauth2_refresh_token"]
        configured = KeptToken(
            {"refresh_token": refresh},
            origin=fingerprint(refresh, self.client_id),
        )
        self.token = RenewableToken(channel, NAME, configured, self._refresh)

    @classmethod
    def configured(
        cls,
        channel: str,
        credentials: Mapping[str, str],
        *,
        session: requests.Session,
        token_url: str,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> OAuth2UserToken | None:
        """The renewable token when the credentials hold a refresh token, else None."""
        if not all(credentials.get(name) for name in REFRESH_CREDENTIALS):
            return None
        return cls(
            channel,
            credentials,
            session=session,
            token_url=token_url,
            timeout=timeout,
            clock=clock,
        )

    def use_store(self, store: TokenStore) -> None:
        self.token.use_store(store)

    def bearer(self, *, force: bool = False) -> str:
        """The access token to send: renewed first when there is none yet, when it is about
        to expire, or when ``force`` (X answered 401 to it), unless another worker renewed it
        meanwhile. Raises the error tree when the renewal is refused."""
        now = self.clock()
        held = self.token.current
        if force or self.due(held, now):
            self.token.reload()
            fresh = self.token.current
            if fresh is held or self.due(fresh, now):
                fresh = self.token.renew(now)
            held = fresh
        access = held.get("access_token")
        if not access:  # a renewal always carries one (see _refresh)
            raise TransientError("x: no OAuth 2.0 access token", platform="x")
        return access

    @staticmethod
    def due(token: KeptToken, now: datetime) -> bool:
        return token.expires_at is None or token.expires_within(now, REFRESH_AHEAD)

    def maintain(self, now: datetime) -> list[TokenStatus]:
        """Renews the pair when the access token is about to expire; a refusal is logged and
        reported (the next use tries again)."""
        self.token.reload()
        if self.due(self.token.current, now) and not self.token.waiting(now):
            try:
                self.token.renew(now)
            except PlatformError as exc:
                log.warning(
                    "x: channel %r: OAuth 2.0 token not renewed: %s",
                    self.token.channel,
                    redact(str(exc)),
                )
        return [self.token.status()]

    def _refresh(self, held: KeptToken) -> KeptToken:
        """``POST /2/oauth2/token`` with the held refresh token; the new pair."""
        refresh = held.get("refresh_token")
        if not refresh:
            raise AuthError(
                "x: no OAuth 2.0 refresh token to renew with; authorize again (scope "
                "offline.access) and set oauth2_refresh_token",
                platform="x",
            )
        now = self.clock()
        form = {"grant_type": "refresh_token", "refresh_token": refresh}
        auth = None
        if self.client_secret:
            auth = (self.client_id, self.client_secret)  # a confidential client
        else:
            form["client_id"] = self.client_id  # a public client names itself
        response = call(
            self.session,
            "POST",
            self.token_url,
            platform="x",
            timeout=self.timeout,
            classify=_classify,
            data=form,
            auth=auth,
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        access = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(access, str) or not access:
            raise TransientError("x: OAuth 2.0 token answer without an access token", platform="x")
        assert isinstance(answer, dict)
        register_secret(access)
        rotated = answer.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            register_secret(rotated)
        else:
            rotated = refresh  # X always rotates it; keep the old if it did not
        lifetime = answer.get("expires_in")
        expires_at = now + ACCESS_LIFETIME
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
            expires_at = now + timedelta(seconds=float(lifetime))
        return KeptToken(
            {"access_token": access, "refresh_token": rotated},
            origin=held.origin,
            expires_at=expires_at,
            refreshed_at=now,
        )


def _classify(response: requests.Response) -> PlatformError | None:
    """The token endpoint's refusals: a spent, revoked or unknown refresh token (400
    ``invalid_request`` / ``invalid_grant``) or a client X does not accept (401) cannot be
    retried: a person must authorize again."""
    if response.status_code in (400, 401):
        return AuthError(
            redact(
                f"x: OAuth 2.0 refresh refused (HTTP {response.status_code}: "
                f"{short_body(response)}); the refresh token is spent or revoked: authorize "
                "again (scope offline.access) and set oauth2_refresh_token"
            ),
            platform="x",
            status=response.status_code,
        )
    return error_for_response(response, platform="x", creates=False)
