"""X (Twitter) API v2 adapter, through tweepy's ``Client``.

Credentials (one set): ``api_key``, ``api_secret``, ``access_token``,
``access_token_secret`` (OAuth 1.0a); or ``oauth2_refresh_token`` and ``oauth2_client_id``
(and ``oauth2_client_secret`` for a confidential client): an OAuth 2.0 authorization with
the ``offline.access`` scope, whose 2-hour user tokens are renewed before they expire and
kept by the token store (:mod:`dissem.platforms.x_oauth2`); or a bare ``oauth2_user_token``,
which X lets live 2 hours and nothing can renew (a warning says so).

tweepy hard-codes ``https://api.twitter.com`` and passes no timeout, so a transport adapter
mounted on the adapter's session adds the timeout to every call and, when ``api_base`` is
not the real host (the sandbox), rewrites the host. X has no idempotency: a repeated text is
answered 403 "duplicate content" without the existing id, and :meth:`XPlatform.lookup`
matches the text among the account's recent posts. X builds the link card from the URL
itself.

An image (``part.media``) goes up first through the v2 one-shot upload, ``POST
/2/media/upload`` (multipart ``media``, ``media_category`` ``tweet_image``, needs the
``media.write`` scope with OAuth 2.0), signed like tweepy signs (OAuth 1.0a or the bearer
user token) and sent through the same session, so the sandbox redirect applies; its alt text
is set with ``POST /2/media/metadata``; the post names it in ``media.media_ids``. Images are
ready at once (only video and GIF need ``finalize``/``STATUS`` polling), so no chunked upload
is needed under X's 5 MB image cap. When the image cannot be attached the text goes out
alone (see :mod:`dissem.platforms.media`).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import requests
import tweepy
from requests.adapters import HTTPAdapter

from dissem.compose.types import Media, Part
from dissem.config.models import Channel
from dissem.errors import ContentRejected, Duplicate, PlatformError, TransientError
from dissem.platforms import text_match
from dissem.platforms.base import Capabilities, MetricSample, Platform, PublishContext, RemotePost
from dissem.platforms.http import call, error_for_response, transport_error
from dissem.platforms.media import ImageUnavailable, fit_alt, load_release_image, skip_image
from dissem.platforms.tokens import TokenStatus, TokenStore
from dissem.platforms.x_oauth2 import OAuth2UserToken
from dissem.settings import Settings

REAL_HOST = "https://api.twitter.com"
_URL = re.compile(r"https?://\S+")
#: X's limits for a post image and its alt text
IMAGE_MAX_BYTES = 5 * 1024 * 1024
ALT_LIMIT = 1000

log = logging.getLogger(__name__)


class _XTransport(HTTPAdapter):
    """Gives every request a timeout and, for a sandbox, sends it to ``target``."""

    def __init__(self, target: str | None, timeout: float) -> None:
        super().__init__()
        self.target = target
        self.default_timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if self.target and request.url and request.url.startswith(REAL_HOST):
            request.url = self.target + request.url[len(REAL_HOST) :]
        timeout = self.default_timeout if timeout is None else timeout
        return super().send(request, stream, timeout, verify, cert, proxies)


def comparable(text: str) -> str:
    """``text`` as X would echo it, for matching: URLs (X returns t.co links) and spacing
    removed, NFC-normalised."""
    return text_match.comparable(_URL.sub("<url>", unicodedata.normalize("NFC", text)))


class XPlatform(Platform):
    """Posts to X with ``create_tweet``; threads are reply chains."""

    name = "x"
    capabilities = Capabilities(
        threads=True,
        media_required=False,
        link_cards=True,
        native_idempotency=False,
        can_lookup=True,
        metrics=("likes", "reposts", "replies", "quotes", "bookmarks", "views", "link_clicks"),
        metrics_batch=100,
        text_limit=280,
    )
    required_credentials: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("api_key", "api_secret", "access_token", "access_token_secret"),
        ("oauth2_refresh_token", "oauth2_client_id", "oauth2_client_secret"),
        ("oauth2_refresh_token", "oauth2_client_id"),
        ("oauth2_user_token",),
    )
    default_api_base = REAL_HOST

    def __init__(
        self,
        channel: Channel,
        credentials: Mapping[str, str],
        settings: Settings,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(channel, credentials, settings, session)
        c = self.credentials
        self.user_auth = not any(name.startswith("oauth2_") for name in c)
        self.client = tweepy.Client(
            bearer_token=c.get("oauth2_user_token"),
            consumer_key=c.get("api_key"),
            consumer_secret=c.get("api_secret"),
            access_token=c.get("access_token"),
            access_token_secret=c.get("access_token_secret"),
            return_type=dict,
            wait_on_rate_limit=False,  # it would sleep inside the call
        )
        target = None if self.api_base == REAL_HOST else self.api_base
        self.session.mount(REAL_HOST + "/", _XTransport(target, self.timeout))
        self.client.session = self.session
        self._user_id: str | None = None
        #: the renewable OAuth 2.0 user token (None: OAuth 1.0a, or a bare user token)
        self.oauth2 = OAuth2UserToken.configured(
            channel.name,
            c,
            session=self.session,
            token_url=f"{REAL_HOST}/2/oauth2/token",
            timeout=self.timeout,
            clock=self.now,
        )
        if self.oauth2 is None and "oauth2_user_token" in c:
            log.warning(
                "x: channel %r: an OAuth 2.0 user token without oauth2_refresh_token and "
                "oauth2_client_id lasts 2 hours and cannot be renewed; authorize with the "
                "offline.access scope and set those (or use OAuth 1.0a)",
                channel.name,
            )

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """``POST /2/tweets``, with the part's image uploaded first; a 403 "duplicate content"
        is :class:`Duplicate` without an id."""
        media_id = self._upload_image(part.media[0]) if part.media else None
        result = self._call(
            "create_tweet",
            creates=True,
            text=part.text,
            in_reply_to_tweet_id=reply_to.remote_id if reply_to else None,
            media_ids=[media_id] if media_id else None,
            user_auth=self.user_auth,
        )
        return self._remote(str(result["data"]["id"]))

    def _upload_image(self, media: Media) -> str | None:
        """The media id of the uploaded image (alt text set); None, with a warning, when it
        cannot be loaded or X refuses it as content."""
        try:
            image = load_release_image(self, media, max_bytes=IMAGE_MAX_BYTES)
            response = call(
                self.session,
                "POST",
                f"{REAL_HOST}/2/media/upload",
                platform=self.name,
                timeout=self.timeout,
                files={"media": (image.filename, image.data, image.mime)},
                data={
                    "media_category": "tweet_gif" if image.mime == "image/gif" else "tweet_image"
                },
                **self._signed(),
            )
        except (ImageUnavailable, ContentRejected) as exc:
            skip_image(self.name, media, exc)
            return None
        try:
            media_id = str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise TransientError(
                "x: media upload answered without a media id", platform=self.name
            ) from None
        if media.alt:
            metadata = {"alt_text": {"text": fit_alt(media.alt, ALT_LIMIT)}}
            try:
                self._call(
                    "request",
                    "POST",
                    "/2/media/metadata",
                    json={"id": media_id, "metadata": metadata},
                    user_auth=self.user_auth,
                )
            except ContentRejected as exc:  # the image is still worth showing
                log.warning("x: image attached without its alt text: %s", exc)
        return media_id

    def _signed(self) -> dict[str, Any]:
        """How tweepy authenticates a request: OAuth 1.0a signing, or the user bearer token."""
        if self.user_auth:
            c = self.credentials
            handler = tweepy.OAuth1UserHandler(
                c["api_key"], c["api_secret"], c["access_token"], c["access_token_secret"]
            )
            return {"auth": handler.apply_auth()}
        return {"headers": {"Authorization": f"Bearer {self._bearer()}"}}

    def lookup(self, part: Part, ctx: PublishContext, *, since: datetime) -> RemotePost | None:
        """The account's most recent post since ``since`` whose text matches ``part``."""
        result = self._call(
            "get_users_tweets",
            self._me(),
            max_results=100,
            start_time=since,
            tweet_fields=["created_at"],
            user_auth=self.user_auth,
        )
        wanted = comparable(part.text)
        for tweet in result.get("data") or []:  # newest first
            if comparable(tweet["text"]) == wanted:
                return self._remote(str(tweet["id"]))
        return None

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """Public metrics, and non-public ones (impressions, link clicks) where X gives them."""
        if not remote_ids:
            return {}
        result = self._call(
            "get_tweets",
            list(remote_ids[: self.capabilities.metrics_batch]),
            tweet_fields=["public_metrics", "non_public_metrics"],
            user_auth=self.user_auth,
        )
        samples: dict[str, MetricSample] = {}
        for tweet in result.get("data") or []:
            public = tweet.get("public_metrics") or {}
            private = tweet.get("non_public_metrics") or {}
            values = {
                "likes": public.get("like_count"),
                "reposts": public.get("retweet_count"),
                "replies": public.get("reply_count"),
                "quotes": public.get("quote_count"),
                "bookmarks": public.get("bookmark_count"),
                "views": private.get("impression_count", public.get("impression_count")),
                "link_clicks": private.get("url_link_clicks"),
            }
            samples[str(tweet["id"])] = MetricSample(
                values={k: int(v) for k, v in values.items() if v is not None}, raw=tweet
            )
        return samples

    def _remote(self, tweet_id: str) -> RemotePost:
        handle = self.channel.account.lstrip("@")
        return RemotePost(remote_id=tweet_id, url=f"https://x.com/{handle}/status/{tweet_id}")

    def _me(self) -> str:
        if self._user_id is None:
            result = self._call("get_me", user_auth=self.user_auth)
            self._user_id = str(result["data"]["id"])
        return self._user_id

    def _call(self, method: str, *args: Any, creates: bool = False, **kwargs: Any) -> Any:
        """Runs one tweepy call, mapping its exceptions onto the error tree. A renewable OAuth
        2.0 token is renewed first when about to expire, and once more when X answers 401:
        the call then goes again (a 401 was applied to nothing)."""
        failure: PlatformError
        for attempt in range(2):
            if not self.user_auth:
                self._bearer(force=attempt > 0)
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except tweepy.Unauthorized as exc:
                if self.oauth2 is not None and attempt == 0:
                    continue
                failure = self._error(exc, creates)
            except tweepy.HTTPException as exc:
                failure = self._error(exc, creates)
            except requests.exceptions.RequestException as exc:
                failure = transport_error(exc, platform=self.name, creates=creates, what=method)
            break
        raise failure  # outside the handlers: no __context__ holding URLs or responses

    def _error(self, exc: tweepy.HTTPException, creates: bool) -> PlatformError:
        response: requests.Response = exc.response
        messages = " ".join(str(m) for m in exc.api_messages)
        if response.status_code == 403 and "duplicate content" in messages.lower():
            # X does not say which post it duplicates: no remote id
            return Duplicate(f"x: {messages}", platform=self.name, status=403)
        return error_for_response(response, platform=self.name, creates=creates)

    # --- the OAuth 2.0 user token (see dissem.platforms.x_oauth2) -------------------------
    def _bearer(self, *, force: bool = False) -> str:
        """The OAuth 2.0 user token to send (renewed when due, or ``force``), set on the
        tweepy client too."""
        if self.oauth2 is None:
            return self.credentials["oauth2_user_token"]
        token = self.oauth2.bearer(force=force)
        self.credentials["oauth2_user_token"] = token
        self.client.bearer_token = token
        return token

    def use_token_store(self, store: TokenStore) -> None:
        """Takes up the OAuth 2.0 token pair renewed earlier (a restart, another worker) and
        keeps the next renewals in ``store``."""
        if self.oauth2 is not None:
            self.oauth2.use_store(store)

    def refresh_credentials(self) -> None:
        """Renews the OAuth 2.0 user token now (and spends its refresh token)."""
        if self.oauth2 is not None:
            self._bearer(force=True)

    def maintain_credentials(self, now: datetime) -> list[TokenStatus]:
        """Renews the OAuth 2.0 token pair when the access token is about to expire."""
        return self.oauth2.maintain(now) if self.oauth2 is not None else []
