"""X (API v2) stand-in: ``/x/2/tweets``, ``/x/2/users/me``, ``/x/2/users/:id/tweets``, and
the media endpoints of :mod:`dissem.sandbox.x_media`.

Accepts OAuth 1.0a (``Authorization: OAuth`` with non-empty ``oauth_consumer_key`` and
``oauth_token``; signatures are not checked) or an OAuth 2.0 user token (``Bearer``); the
access token decides the account. Enforces the weighted 280 limit, answers 403 "You are not
allowed to create a Tweet with duplicate content." when an account repeats a text, echoes
texts as X does (URLs rewritten to ``t.co``, ``&<>`` HTML-escaped, a ``t.co`` link appended
for attached media: :func:`echoed`), answers the ``tweet.fields`` ``created_at``,
``author_id``, ``referenced_tweets`` (``replied_to``), ``in_reply_to_user_id``,
``attachments`` and ``entities.urls``, and throttles with 429 and ``x-rate-limit-reset``
(epoch seconds).

The 24-hour posting caps: with ``user_24h_limit`` (posts per account) or ``app_24h_limit``
(posts of all accounts) set in the X state bucket, ``POST /2/tweets`` answers with
``x-user-limit-24hour-limit/-remaining/-reset`` (and ``x-app-limit-24hour-*``) headers, and
a post over a cap is refused with 429, those headers at ``remaining: 0`` and ``reset`` the
epoch second when the oldest post of the window leaves it; ``x-rate-limit-*`` keep
describing the 15-minute window, which is not what is exhausted. X sends these headers
(undocumented on docs.x.com; the node client twitter-api-v2 reads them as ``rateLimit.day``
and ``rateLimit.userDay``, src/client-mixins/request-handler.helper.ts).

Lookup (``GET /2/tweets``) gives ``non_public_metrics`` only for the
caller's own posts younger than 30 days (https://developer.x.com/en/docs/x-api/metrics:
"Non-public, organic, and promoted metrics are only available for Posts created within the
last 30 days"). Asked for any other post, X answers 200 without that post in ``data`` and one
``errors`` entry per field ("Field Authorization Error", type
``https://api.twitter.com/2/problems/not-authorized-for-field``, section ``data``), so the
stand-in does the same; an unknown id is a "Not Found Error" entry.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from dissem.sandbox import lengths, x_oauth2
from dissem.sandbox.core import (
    Reject,
    Request,
    Response,
    account_for,
    json_response,
    route,
)
from dissem.sandbox.state import PostRecord, engagement
from dissem.sandbox.x_media import XMediaRoutes

_URL = re.compile(r"https?://\S+")
_OAUTH_PAIR = re.compile(r'(\w+)="([^"]*)"')
_TWITTER_EPOCH_MS = 1288834974657
#: X's 403 for a repeated text, body {"detail", "type": "about:blank", "title": "Forbidden",
#: "status": 403}, naming no post (akrherz/iembot#163; plhery/node-twitter-api-v2#469)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
#: the windows of X's caps on posting
WINDOW_15_MIN = timedelta(minutes=15)
DAY = timedelta(hours=24)
#: non-public metrics exist for this long after a post
NON_PUBLIC_WINDOW = timedelta(days=30)
_NON_PUBLIC_FIELDS = ("impression_count", "url_link_clicks", "user_profile_clicks")
_PROBLEMS = "https://api.twitter.com/2/problems/"


def tco(text: str) -> str:
    """``text`` with every URL replaced by a ``t.co`` link, as X returns tweet texts."""
    return _URL.sub(lambda m: _tco_link(m.group()), text)


def _tco_link(url: str) -> str:
    return "https://t.co/" + hashlib.sha1(url.encode()).hexdigest()[:10]


def echoed(post: PostRecord) -> tuple[str, list[dict[str, Any]]]:
    """A tweet's ``text`` as X answers it, and its ``entities.urls``.

    X wraps every URL in a ``t.co`` link, escapes ``&``, ``<`` and ``>`` as HTML entities
    (https://kbravh.dev/html-entities-twitter-api-v2;
    https://twittercommunity.com/t/tweet-text-html-encoding-clarity/68810) and, when media
    is attached, appends one more ``t.co`` link whose entity carries the ``media_key`` and
    shows as ``pic.x.com/...`` (X API v2 example payloads,
    https://developer.twitter.com/en/docs/twitter-api/data-dictionary/example-payloads).
    """
    urls: list[dict[str, Any]] = []
    pieces: list[str] = []
    last = 0
    for m in _URL.finditer(post.text):
        pieces.append(_escape(post.text[last : m.start()]))
        link = _tco_link(m.group())
        start = sum(len(p) for p in pieces)
        pieces.append(link)
        urls.append(
            {
                "start": start,
                "end": start + len(link),
                "url": link,
                "expanded_url": m.group(),
                "display_url": m.group().split("://", 1)[-1][:26],
            }
        )
        last = m.end()
    pieces.append(_escape(post.text[last:]))
    text = "".join(pieces)
    if post.media:
        link = _tco_link(f"media:{post.remote_id}")
        text = f"{text} {link}" if text else link
        username = post.extra.get("username", "i")
        for media_id in post.media:
            urls.append(
                {
                    "start": len(text) - len(link),
                    "end": len(text),
                    "url": link,
                    "expanded_url": f"https://x.com/{username}/status/{post.remote_id}/photo/1",
                    "display_url": "pic.x.com/" + link.rsplit("/", 1)[-1],
                    "media_key": f"3_{media_id}",
                }
            )
    return text, urls


def _escape(text: str) -> str:
    """X's escaping of a tweet's text: ``&``, ``<`` and ``>`` only (quotes stay)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class XStandIn(XMediaRoutes):
    """Stands in for ``https://api.twitter.com`` under ``/x``."""

    name = "x"

    def error(self, status: int, message: str) -> Response:
        titles = {400: "Invalid Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
        title = titles.get(status, "Service Unavailable" if status >= 500 else "Error")
        return json_response(
            {"title": title, "detail": message, "type": "about:blank", "status": status}, status
        )

    def throttled(self, now: datetime) -> Response:
        reset = int((now + timedelta(minutes=15)).timestamp())
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"}
        headers = {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        }
        return json_response({**body, "status": 429}, 429, headers)

    def too_long(self, text: str) -> Response:
        return json_response(
            {
                "errors": [{"parameters": {"text": [text]}, "message": "Tweet text is too long"}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
            400,
        )

    def user(self, req: Request) -> tuple[str, str]:
        """(id, username) of the caller, or a 401."""
        auth = req.header("Authorization") or ""
        token = req.bearer()
        if auth.startswith("OAuth "):
            pairs = dict(_OAUTH_PAIR.findall(auth))
            if pairs.get("oauth_consumer_key") and pairs.get("oauth_token"):
                token = pairs["oauth_token"]
        if not token:
            raise Reject(self.error(401, "Unauthorized"))
        if not auth.startswith("OAuth "):  # an OAuth 2.0 token minted here: its account
            token = x_oauth2.subject(self, token, req.now)
        return account_for(token)

    @route("POST", r"/2/oauth2/token")
    def oauth2_token(self, req: Request) -> Response:
        """OAuth 2.0's refresh grant, rotating the refresh token (:mod:`.x_oauth2`)."""
        return x_oauth2.grant(self, req)

    @route("POST", r"/2/tweets", write=True)
    def create(self, req: Request) -> Response:
        user_id, username = self.user(req)
        body = req.json()
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Reject(self.error(400, "text is missing or empty"))
        if not lengths.x_valid(text):  # counted apart from dissem: dissem.sandbox.lengths
            raise Reject(self.too_long(text))
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and self.env.state.get_post(self.name, str(reply_to)) is None:
            raise Reject(self.error(400, "The tweet you are replying to does not exist."))
        media = self.attached(body, user_id, req.now)
        with self.env.state.lock:
            caps = self._daily_caps(user_id, req.now)
            if any(left <= 0 for _, left, _ in caps.values()):
                raise Reject(self._over_daily_cap(caps, req.now))
            if any(p.text == text for p in self.env.state.posts(self.name, user_id)):
                raise Reject(self.error(403, DUPLICATE))
            millis = int(req.now.timestamp() * 1000) - _TWITTER_EPOCH_MS
            tweet_id = str((millis << 22) | (self.env.serial(self.name) & 0x3FFFFF))
            self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=user_id,
                    remote_id=tweet_id,
                    text=text,
                    created_at=req.now,
                    url=f"https://x.com/{username}/status/{tweet_id}",
                    reply_to=str(reply_to) if reply_to else None,
                    media=[m["id"] for m in media],
                    extra={"username": username},
                    images=self.image_entries(media),
                )
            )
        created = self.env.state.get_post(self.name, tweet_id)
        echo = echoed(created)[0] if created is not None else tco(text)
        data = {"id": tweet_id, "text": echo, "edit_history_tweet_ids": [tweet_id]}
        caps = {k: (limit, left - 1, reset) for k, (limit, left, reset) in caps.items()}
        return json_response({"data": data}, 201, _cap_headers(caps))

    def _daily_caps(self, user_id: str, now: datetime) -> dict[str, tuple[int, int, datetime]]:
        """``{"user"|"app": (limit, remaining, reset)}`` for the 24-hour caps set in the
        state bucket (``user_24h_limit``, ``app_24h_limit``), before a new post."""
        bucket = self.env.state.bucket(self.name)
        caps: dict[str, tuple[int, int, datetime]] = {}
        for scope, account in (("user", user_id), ("app", None)):
            limit = bucket.get(f"{scope}_24h_limit")
            if limit is None:
                continue
            recent = sorted(
                p.created_at
                for p in self.env.state.posts(self.name, account)
                if now - p.created_at < DAY
            )
            reset = recent[0] + DAY if recent else now + DAY
            caps[scope] = (int(limit), int(limit) - len(recent), reset)
        return caps

    def _over_daily_cap(
        self, caps: dict[str, tuple[int, int, datetime]], now: datetime
    ) -> Response:
        """X's 429 for an exhausted 24-hour cap: the problem body, the 15-minute window's
        headers (not exhausted) and the 24-hour ones at zero."""
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"}
        headers = {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "99",
            "x-rate-limit-reset": str(int((now + WINDOW_15_MIN).timestamp())),
            **_cap_headers(caps),
        }
        return json_response({**body, "status": 429}, 429, headers)

    @route("GET", r"/2/users/me")
    def me(self, req: Request) -> Response:
        user_id, username = self.user(req)
        return json_response({"data": {"id": user_id, "name": username, "username": username}})

    @route("GET", r"/2/users/(?P<id>\d+)/tweets")
    def user_tweets(self, req: Request) -> Response:
        self.user(req)
        limit = int(req.arg("max_results") or 10)
        if not 5 <= limit <= 100:
            raise Reject(self.error(400, "max_results must be between 5 and 100"))
        start = req.arg("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        posts = [
            p
            for p in reversed(self.env.state.posts(self.name, req.params["id"]))
            if since is None or p.created_at >= since
        ][:limit]
        if not posts:
            return json_response({"meta": {"result_count": 0}})
        data = [self._tweet(p, req, mine=True) for p in posts]
        meta = {"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        return json_response({"data": data, "meta": meta})

    @route("GET", r"/2/tweets")
    def lookup(self, req: Request) -> Response:
        user_id, _ = self.user(req)
        ids = [i for i in (req.arg("ids") or "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            raise Reject(self.error(400, "ids must name between 1 and 100 tweets"))
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for tweet_id in ids:
            post = self.env.state.get_post(self.name, tweet_id)
            if post is None:
                errors.append(_not_found(tweet_id))
                continue
            refused = self._refused_fields(post, req, mine=post.account == user_id)
            if refused:  # X drops the whole post, not just the field
                errors.extend(refused)
            else:
                data.append(self._tweet(post, req, mine=post.account == user_id))
        return json_response({**({"data": data} if data else {}), **_errors(errors)})

    def _refused_fields(
        self, post: PostRecord, req: Request, *, mine: bool
    ) -> list[dict[str, Any]]:
        """X's "Field Authorization Error" entries when ``non_public_metrics`` is asked for
        a post that is not the caller's or is 30 days old or older; [] when it may be read."""
        fields = set((req.arg("tweet.fields") or "").split(","))
        if "non_public_metrics" not in fields or (
            mine and req.now - post.created_at < NON_PUBLIC_WINDOW
        ):
            return []
        parameter = "ids" if req.arg("ids") is not None else "id"
        return [
            {
                "value": post.remote_id,
                "detail": f"Sorry, you are not authorized to access 'non_public_metrics.{field}' "
                f"on the Tweet with {parameter} : [{post.remote_id}].",
                "title": "Field Authorization Error",
                "resource_type": "tweet",
                "parameter": parameter,
                "resource_id": post.remote_id,
                "type": _PROBLEMS + "not-authorized-for-field",
                "field": f"non_public_metrics.{field}",
                "section": "data",
            }
            for field in _NON_PUBLIC_FIELDS
        ]

    def _tweet(self, post: PostRecord, req: Request, *, mine: bool) -> dict[str, Any]:
        fields = set((req.arg("tweet.fields") or "").split(","))
        text, urls = echoed(post)
        tweet: dict[str, Any] = {
            "id": post.remote_id,
            "text": text,
            "edit_history_tweet_ids": [post.remote_id],
        }
        if "created_at" in fields:
            tweet["created_at"] = post.created_at.isoformat().replace("+00:00", "Z")
        if "author_id" in fields:
            tweet["author_id"] = post.account
        if post.reply_to and "referenced_tweets" in fields:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": post.reply_to}]
        if post.reply_to and "in_reply_to_user_id" in fields:
            parent = self.env.state.get_post(self.name, post.reply_to)
            if parent is not None:
                tweet["in_reply_to_user_id"] = parent.account
        if post.media and "attachments" in fields:
            tweet["attachments"] = {"media_keys": [f"3_{m}" for m in post.media]}
        if urls and "entities" in fields:
            tweet["entities"] = {"urls": urls}
        counts = engagement(post.remote_id, post.created_at, req.now, post.audience)
        if "public_metrics" in fields:
            tweet["public_metrics"] = {
                "retweet_count": counts["reposts"],
                "reply_count": counts["replies"],
                "like_count": counts["likes"],
                "quote_count": counts["quotes"],
                "bookmark_count": counts["bookmarks"],
                "impression_count": counts["views"],
            }
        # non-public metrics exist only for one's own tweets of the last 30 days
        if "non_public_metrics" in fields and not self._refused_fields(post, req, mine=mine):
            tweet["non_public_metrics"] = {
                "impression_count": counts["views"],
                "url_link_clicks": counts["link_clicks"],
                "user_profile_clicks": counts["link_clicks"] // 3,
            }
        return tweet


def _cap_headers(caps: dict[str, tuple[int, int, datetime]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for scope, (limit, left, reset) in caps.items():
        headers[f"x-{scope}-limit-24hour-limit"] = str(limit)
        headers[f"x-{scope}-limit-24hour-remaining"] = str(max(left, 0))
        headers[f"x-{scope}-limit-24hour-reset"] = str(int(reset.timestamp()))
    return headers


def _not_found(tweet_id: str) -> dict[str, Any]:
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with ids: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "ids",
        "resource_id": tweet_id,
        "type": _PROBLEMS + "resource-not-found",
    }


def _errors(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"errors": errors} if errors else {}


STAND_INS = (XStandIn,)
