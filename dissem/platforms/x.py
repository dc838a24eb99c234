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
matches the text and the place (what it replies to) among the account's recent posts. X
builds the link card from the URL itself.

An image (``part.media``) goes up first (:mod:`dissem.platforms.x_media`: the one-shot
upload for a still image, the chunked one for a GIF, which the one-shot upload does not
take), through :meth:`XPlatform.api_request`: signed like tweepy signs (OAuth 1.0a or the
bearer user token) and sent through the same session, so the sandbox redirect applies; the
post names it in ``media.media_ids``. When the image cannot be attached the text goes out
alone (see :mod:`dissem.platforms.media`).

Throttling: a 429 is :class:`RateLimited` until the end of what is exhausted. Besides the
15-minute window (``x-rate-limit-*``), X caps posts per 24 hours per user and per app, and
a 429 from those carries ``x-user-limit-24hour-remaining: 0`` (or ``x-app-limit-24hour-*``)
with ``-reset`` in epoch seconds, while ``x-rate-limit-reset`` still names the 15-minute
window: waiting for that one would knock again all day (:func:`throttled_until`).

Metrics: ``non_public_metrics`` (impressions, link clicks) exist only for posts younger than
30 days (https://developer.x.com/en/docs/x-api/metrics), and asking for them for an older
post makes X leave that post out of ``data`` and answer "Field Authorization Error" entries
in ``errors`` instead (type ``.../problems/not-authorized-for-field``). So
:meth:`XPlatform.fetch_metrics` asks for them only for posts younger than that, by the time
in their snowflake id (:func:`posted_at`), and asks again without them for any post X still
refuses them for.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter

from dissem.compose.types import Part
from dissem.config.models import Channel
from dissem.errors import CredentialsMissing, Duplicate, PlatformError, RateLimited
from dissem.platforms import text_match, x_media
from dissem.platforms.base import MetricSample, Platform, PublishContext, RemotePost
from dissem.platforms.http import call, error_for_response, parse_retry_at, transport_error
from dissem.platforms.tokens import TokenStatus, TokenStore
from dissem.platforms.x_oauth2 import OAuth2UserToken
from dissem.settings import Settings

REAL_HOST = "https://api.twitter.com"
_URL = re.compile(r"https?://\S+")
#: the t.co link X appends to the text of a post with media
_MEDIA_LINK_AT_END = re.compile(r"\s*https://t\.co/\w+\s*$")
#: the three characters X escapes in echoed texts
_ESCAPED = re.compile(r"&(amp|lt|gt);")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}
#: X's ids are snowflakes: the bits above the 22nd count milliseconds since this instant
#: (https://developer.x.com/en/docs/x-ids; twitter/snowflake, IdWorker.scala: twepoch)
X_EPOCH_MS = 1288834974657
#: non-public metrics exist for posts younger than this (developer.x.com/en/docs/x-api/metrics)
NON_PUBLIC_WINDOW = timedelta(days=30)
#: ... asked for only this much before, so a post turning 30 on the way is not refused
NON_PUBLIC_MARGIN = timedelta(hours=1)
_FIELD_REFUSED = "/problems/not-authorized-for-field"
#: an OAuth 1.0a request is signed with all four: the signing key is the consumer secret
#: and the token secret (https://docs.x.com/fundamentals/authentication/oauth-1-0a/creating-a-signature)
OAUTH1_CREDENTIALS = ("api_key", "api_secret", "access_token", "access_token_secret")

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


def sent_text(tweet: Mapping[str, Any]) -> str:
    """The text a tweet was sent with, as far as X's echo of it shows.

    X returns ``text`` with ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;``
    (https://kbravh.dev/html-entities-twitter-api-v2; twitter-ruby #348 for v1.1) and, for
    attached media, a ``https://t.co/...`` link appended at the end whose ``entities.urls``
    entry carries a ``media_key`` (display ``pic.x.com/...``; example payloads,
    https://developer.twitter.com/en/docs/twitter-api/data-dictionary/example-payloads).
    Both are undone: media links removed (the last t.co link when the tweet has
    ``attachments.media_keys`` but no entities), the three entities unescaped.
    """
    text = str(tweet.get("text") or "")
    entities = tweet.get("entities")
    urls = entities.get("urls") if isinstance(entities, Mapping) else None
    media_links = {
        str(u["url"])
        for u in (urls if isinstance(urls, list) else [])
        if isinstance(u, Mapping) and u.get("url") and u.get("media_key")
    }
    attachments = tweet.get("attachments")
    if media_links:
        for link in media_links:
            text = re.sub(r"\s*" + re.escape(link), "", text)
    elif isinstance(attachments, Mapping) and attachments.get("media_keys"):
        text = _MEDIA_LINK_AT_END.sub("", text)
    return _ESCAPED.sub(lambda m: _UNESCAPED[m.group(1)], text)


def _replied_to(tweet: Mapping[str, Any]) -> str | None:
    """The id of the tweet this one replies to (``referenced_tweets`` of type
    ``replied_to``), None when it replies to nothing."""
    for ref in tweet.get("referenced_tweets") or []:
        if isinstance(ref, Mapping) and ref.get("type") == "replied_to" and ref.get("id"):
            return str(ref["id"])
    return None


class XPlatform(Platform):
    """Posts to X with ``create_tweet``; threads are reply chains."""

    name = "x"
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
        if self.user_auth:
            # without one, tweepy would sign with an empty secret, which X refuses only when
            # a post is sent (an empty value is sent as it is, and refused as any wrong one)
            missing = [name for name in OAUTH1_CREDENTIALS if name not in c]
            if missing:
                var = channel.credentials.get(missing[0], f"<credentials.{missing[0]} not mapped>")
                raise CredentialsMissing(channel.name, var)

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
        media_id = x_media.attach(self, part.media[0], ctx) if part.media else None
        result = self._call(
            "create_tweet",
            creates=True,
            text=part.text,
            in_reply_to_tweet_id=reply_to.remote_id if reply_to else None,
            media_ids=[media_id] if media_id else None,
            user_auth=self.user_auth,
        )
        return self._remote(str(result["data"]["id"]))

    def pause(self, seconds: float) -> None:
        """Waits before asking X again whether a GIF is processed (see
        :mod:`dissem.platforms.x_media`; tests replace it with a clock that jumps)."""
        time.sleep(seconds)

    def api_request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One signed call to X's API outside tweepy (media uploads), through the adapter's
        session; a 2xx answer, or the error tree (a 429 read by :func:`throttled_until`)."""
        return call(
            self.session,
            method,
            f"{REAL_HOST}{path}",
            platform=self.name,
            timeout=self.timeout,
            classify=lambda r: self._throttled(r) if r.status_code == 429 else None,
            **kwargs,
            **self._signed(),
        )

    def _signed(self) -> dict[str, Any]:
        """How tweepy authenticates a request: OAuth 1.0a signing, or the user bearer token."""
        if self.user_auth:
            c = self.credentials
            handler = tweepy.OAuth1UserHandler(
                c["api_key"], c["api_secret"], c["access_token"], c["access_token_secret"]
            )
            return {"auth": handler.apply_auth()}
        return {"headers": {"Authorization": f"Bearer {self._bearer()}"}}

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """The account's post since ``since`` with ``part``'s text, replying to ``reply_to``
        (or to nothing) and not in ``taken`` (see :func:`dissem.platforms.text_match.pick`).

        X has no idempotency key, so text and place are all there is: the parent is the
        ``replied_to`` entry of ``referenced_tweets`` (X API v2 data dictionary,
        https://docs.x.com/x-api/fundamentals/data-dictionary), and the echoed text is
        undone by :func:`sent_text` before comparing."""
        result = self._call(
            "get_users_tweets",
            self._me(),
            max_results=100,
            start_time=since,
            tweet_fields=["created_at", "referenced_tweets", "attachments", "entities"],
            user_auth=self.user_auth,
        )
        candidates = [
            text_match.Candidate(
                post=self._remote(str(tweet["id"])),
                text=comparable(sent_text(tweet)),
                created_at=text_match.listed_at(tweet.get("created_at")),
                parent=_replied_to(tweet),
            )
            for tweet in result.get("data") or []
            if isinstance(tweet, Mapping) and tweet.get("id")
        ]
        return text_match.pick(
            comparable(part.text),
            candidates,
            since=since,
            reply_to=reply_to,
            taken=taken,
            platform=self.name,
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """Public metrics of up to 100 posts, and the non-public ones (impressions, link
        clicks) of those younger than 30 days, in a separate request (see the module doc):
        one refused post must not cost the others their numbers. A post X still refuses
        them for is asked again without them; posts X does not return are left out."""
        ids = [str(i) for i in remote_ids[: self.traits.metrics_batch]]
        now = self.now()
        young = [i for i in ids if young_enough(i, now)]
        samples, refused = self._metrics(young, private=True) if young else ({}, [])
        rest = [i for i in ids if i not in young] + refused
        if rest:
            samples.update(self._metrics(rest, private=False)[0])
        return samples

    def _metrics(
        self, ids: list[str], *, private: bool
    ) -> tuple[dict[str, MetricSample], list[str]]:
        """One lookup of ``ids``: their samples, and the ids X refused the non-public
        fields for (left out of ``data``)."""
        fields = ["public_metrics", "non_public_metrics"] if private else ["public_metrics"]
        result = self._call("get_tweets", ids, tweet_fields=fields, user_auth=self.user_auth)
        if not isinstance(result, Mapping):
            return {}, []
        samples: dict[str, MetricSample] = {}
        for tweet in result.get("data") or []:
            sample = _sample(tweet)
            if sample is not None:
                samples[str(tweet["id"])] = sample
        refused = [i for i in _refused_ids(result.get("errors")) if i in ids and i not in samples]
        return samples, list(dict.fromkeys(refused))

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
        if response.status_code == 429:
            return self._throttled(response)
        return error_for_response(response, platform=self.name, creates=creates)

    def _throttled(self, response: requests.Response) -> RateLimited:
        base = error_for_response(response, platform=self.name, creates=False)
        until, cap = throttled_until(response, self.now())
        message = f"{base}; the 24-hour {cap} cap is used up" if cap else str(base)
        return RateLimited(message, retry_at=until, platform=self.name, status=429)

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


def posted_at(tweet_id: str) -> datetime | None:
    """When the post ``tweet_id`` was made, read from the id: the bits above the 22nd are
    milliseconds since :data:`X_EPOCH_MS`. None for an id that is not a number."""
    try:
        number = int(tweet_id)
    except ValueError:
        return None
    if number <= 0:
        return None
    millis = (number >> 22) + X_EPOCH_MS
    return datetime.fromtimestamp(millis // 1000, UTC) + timedelta(milliseconds=millis % 1000)


def young_enough(tweet_id: str, now: datetime) -> bool:
    """Whether X still has non-public metrics for ``tweet_id`` at ``now``."""
    made = posted_at(tweet_id)
    return made is not None and now - made < NON_PUBLIC_WINDOW - NON_PUBLIC_MARGIN


def throttled_until(response: requests.Response, now: datetime) -> tuple[datetime, str | None]:
    """When a throttled X account may post again, and which 24-hour cap (``"user"``,
    ``"app"``) is used up, if one is.

    A 24-hour cap at ``remaining: 0`` wins: its ``-reset`` (epoch seconds), the later of the
    two when both are; a cap without a usable reset waits a day. Otherwise the 15-minute
    window (:func:`dissem.platforms.http.parse_retry_at`). Header names as X sends them and
    the node client twitter-api-v2 reads them (``x-user-limit-24hour-limit/-remaining/-reset``
    as ``rateLimit.userDay``, ``x-app-limit-24hour-*`` as ``rateLimit.day``;
    src/client-mixins/request-handler.helper.ts).
    """
    found: list[tuple[datetime, str]] = []
    for scope in ("user", "app"):
        if (response.headers.get(f"x-{scope}-limit-24hour-remaining") or "").strip() != "0":
            continue
        reset = (response.headers.get(f"x-{scope}-limit-24hour-reset") or "").strip()
        try:
            until = datetime.fromtimestamp(float(reset), UTC)
        except (ValueError, OverflowError, OSError):
            until = now + timedelta(hours=24)
        found.append((until, scope))
    if found:
        return max(found)
    return parse_retry_at(response, now), None


def _sample(tweet: Any) -> MetricSample | None:
    """The normalised metrics of one tweet of a lookup answer; None when it is not one."""
    if not isinstance(tweet, Mapping) or not tweet.get("id"):
        return None
    public = tweet.get("public_metrics")
    public = public if isinstance(public, Mapping) else {}
    private = tweet.get("non_public_metrics")
    private = private if isinstance(private, Mapping) else {}
    values = {
        "likes": public.get("like_count"),
        "reposts": public.get("retweet_count"),
        "replies": public.get("reply_count"),
        "quotes": public.get("quote_count"),
        "bookmarks": public.get("bookmark_count"),
        "views": private.get("impression_count", public.get("impression_count")),
        "link_clicks": private.get("url_link_clicks"),
    }
    counts = {
        k: int(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return MetricSample(values=counts, raw=tweet)


def _refused_ids(errors: Any) -> list[str]:
    """Ids of posts X left out of ``data`` for a "Field Authorization Error" on a
    non-public metric."""
    found: list[str] = []
    for error in errors if isinstance(errors, list) else []:
        if (
            isinstance(error, Mapping)
            and str(error.get("type") or "").endswith(_FIELD_REFUSED)
            and str(error.get("field") or "non_public_metrics").startswith("non_public_metrics")
            and (error.get("resource_id") or error.get("value"))
        ):
            found.append(str(error.get("resource_id") or error.get("value")))
    return found
