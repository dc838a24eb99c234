"""X (API v2) stand-in: ``/x/2/tweets``, ``/x/2/users/me``, ``/x/2/users/:id/tweets``.

Accepts OAuth 1.0a (``Authorization: OAuth`` with non-empty ``oauth_consumer_key`` and
``oauth_token``; signatures are not checked) or an OAuth 2.0 user token (``Bearer``); the
access token decides the account. Enforces the weighted 280 limit, answers 403 "duplicate
content" when an account repeats a text, returns URLs rewritten to ``t.co`` like X does, and
throttles with 429 and ``x-rate-limit-reset`` (epoch seconds).

Media: the one-shot ``POST /x/2/media/upload`` (multipart ``media``, ``media_category``
``tweet_image``; or JSON with ``media`` base64-encoded) keeps an image of at most 5 MB for the
uploading account and answers ``{"data": {"id", "media_key", "size", ...}}``;
``POST /x/2/media/metadata`` sets its alt text (at most 1000 characters); ``POST /x/2/tweets``
with ``media.media_ids`` (at most 4, the caller's own, unexpired) attaches them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from dissem.sandbox import x_oauth2
from dissem.sandbox.core import (
    Reject,
    Request,
    Response,
    StandIn,
    account_for,
    json_response,
    route,
)
from dissem.sandbox.state import PostRecord, engagement
from dissem.sandbox.uploads import image_entry, image_size, multipart_fields, sniff_image

_URL = re.compile(r"https?://\S+")
_OAUTH_PAIR = re.compile(r'(\w+)="([^"]*)"')
_TWITTER_EPOCH_MS = 1288834974657
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
#: X's limits for a post image and its alt text; an upload expires after a day
IMAGE_LIMIT = 5 * 1024 * 1024
ALT_LIMIT = 1000
MAX_MEDIA = 4
MEDIA_TTL = timedelta(hours=24)
_CATEGORIES = ("tweet_image", "tweet_gif", "dm_image", "dm_gif")


def tco(text: str) -> str:
    """``text`` with every URL replaced by a ``t.co`` link, as X returns tweet texts."""
    return _URL.sub(
        lambda m: "https://t.co/" + hashlib.sha1(m.group().encode()).hexdigest()[:10], text
    )


class XStandIn(StandIn):
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
        text = self.require_text(body.get("text"))
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and self.env.state.get_post(self.name, str(reply_to)) is None:
            raise Reject(self.error(400, "The tweet you are replying to does not exist."))
        media = self._attached(body, user_id, req.now)
        with self.env.state.lock:
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
                    images=[image_entry(m["id"], m["alt"], m["mime"], m["size"]) for m in media],
                )
            )
        data = {"id": tweet_id, "text": tco(text), "edit_history_tweet_ids": [tweet_id]}
        return json_response({"data": data}, 201)

    @route("POST", r"/2/media/upload")
    def upload_media(self, req: Request) -> Response:
        """The one-shot upload of an image (multipart, or JSON with base64 ``media``)."""
        user_id, _ = self.user(req)
        fields = multipart_fields(req)
        if fields is not None:
            data = fields["media"].data if "media" in fields else b""
            category = fields["media_category"].text if "media_category" in fields else ""
        else:
            body = req.json()
            try:
                data = base64.b64decode(str(body.get("media") or ""), validate=True)
            except ValueError:
                data = b""
            category = str(body.get("media_category") or "")
        if category not in _CATEGORIES:
            raise Reject(self.error(400, f"media_category must be one of {', '.join(_CATEGORIES)}"))
        mime = sniff_image(data)
        if mime is None:
            raise Reject(self.error(400, "media is missing or not a supported image"))
        if len(data) > IMAGE_LIMIT:
            raise Reject(self.error(400, "File size exceeds 5242880 bytes."))
        with self.env.state.lock:
            media_id = str(self.env.serial(self.name) + 1_900_000_000_000_000_000)
            self.env.state.bucket(self.name).setdefault("media", {})[media_id] = {
                "id": media_id,
                "account": user_id,
                "mime": mime,
                "size": len(data),
                "alt": "",
                "at": req.now.isoformat(),
                "used": False,
            }
            self.env.state.changed()
        answer: dict[str, Any] = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": len(data),
            "expires_after_secs": int(MEDIA_TTL.total_seconds()),
        }
        size = image_size(data)
        if size:
            answer["image"] = {"image_type": mime, "w": size[0], "h": size[1]}
        return json_response({"data": answer})

    @route("POST", r"/2/media/metadata")
    def media_metadata(self, req: Request) -> Response:
        """Alt text for an uploaded image (``metadata.alt_text.text``)."""
        user_id, _ = self.user(req)
        body = req.json()
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(alt, str) or len(alt) > ALT_LIMIT:
            raise Reject(self.error(400, f"alt_text.text must be a string of at most {ALT_LIMIT}"))
        with self.env.state.lock:
            entry = self.env.state.bucket(self.name).get("media", {}).get(str(body.get("id")))
            if entry is None or entry["account"] != user_id:
                raise Reject(self.error(400, "media id not found"))
            entry["alt"] = alt
            self.env.state.changed()
        meta = {"alt_text": {"text": alt}}
        return json_response({"data": {"id": entry["id"], "associated_metadata": meta}})

    def _attached(self, body: dict[str, Any], user_id: str, now: datetime) -> list[dict[str, Any]]:
        """The uploads named by ``media.media_ids``, checked as X does; 400 otherwise."""
        media = body.get("media")
        ids = (media.get("media_ids") if isinstance(media, dict) else None) or []
        if not isinstance(ids, list) or len(ids) > MAX_MEDIA:
            raise Reject(self.error(400, f"media.media_ids must list at most {MAX_MEDIA} ids"))
        found: list[dict[str, Any]] = []
        with self.env.state.lock:
            stored = self.env.state.bucket(self.name).get("media", {})
            for media_id in ids:
                entry = stored.get(str(media_id))
                fresh = entry is not None and now - datetime.fromisoformat(entry["at"]) < MEDIA_TTL
                if entry is None or entry["account"] != user_id or not fresh:
                    raise Reject(self.error(400, "Your media IDs are invalid."))
                found.append(entry)
        return found

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
                errors.append({"resource_id": tweet_id, "title": "Not Found Error"})
            else:
                data.append(self._tweet(post, req, mine=post.account == user_id))
        return json_response({"data": data, **({"errors": errors} if errors else {})})

    def _tweet(self, post: PostRecord, req: Request, *, mine: bool) -> dict[str, Any]:
        fields = set((req.arg("tweet.fields") or "").split(","))
        tweet: dict[str, Any] = {
            "id": post.remote_id,
            "text": tco(post.text),
            "edit_history_tweet_ids": [post.remote_id],
        }
        if "created_at" in fields:
            tweet["created_at"] = post.created_at.isoformat().replace("+00:00", "Z")
        counts = engagement(post.remote_id, post.created_at, req.now)
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
        if "non_public_metrics" in fields and mine and req.now - post.created_at < timedelta(30):
            tweet["non_public_metrics"] = {
                "impression_count": counts["views"],
                "url_link_clicks": counts["link_clicks"],
                "user_profile_clicks": counts["link_clicks"] // 3,
            }
        return tweet


STAND_INS = (XStandIn,)
