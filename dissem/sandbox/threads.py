"""Threads stand-in under ``/threads``: ``/{uid}/threads`` (containers),
``/{uid}/threads_publish``, container ``status``, ``/{uid}/threads`` and ``/{uid}/replies``
listings, insights, ``threads_publishing_limit`` and ``/refresh_access_token``.

Text must fit 500 characters as Threads counts them; more than 5 distinct links is refused
with ``THREADS_API__LINK_LIMIT_EXCEEDED``; ``link_attachment`` is taken on TEXT posts
only; ``reply_to_id`` must name a published post. Containers follow
:mod:`dissem.sandbox.graph`, with Threads' differences:

- every container, text too, takes the bucket's ``processing_seconds`` to be FINISHED;
  ``GET /{container}?fields=status,error_message`` answers ``{"id", "status"}`` and, in
  ERROR, ``error_message`` (``FAILED_DOWNLOADING_VIDEO`` ... ``UNKNOWN``), as
  https://developers.facebook.com/docs/threads/troubleshooting shows;
- publishing a container Threads has not made available answers HTTP 400 code 24, subcode
  4279009, "The requested resource does not exist" / "Media Not Found" (the body Threads
  sends, https://github.com/fbsamples/threads_api/issues/70). That is its answer while
  the container is IN_PROGRESS, and for ``publish_lag_seconds`` (bucket; 0 by default)
  after creation even once the status says FINISHED, as production logs show
  (https://github.com/trypostit/trypost/pull/280).

Throttling is code 4.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from dissem.compose import counting
from dissem.sandbox.core import Reject, Request, Response, json_response, route
from dissem.sandbox.graph import ContainerStandIn, V
from dissem.sandbox.state import PostRecord
from dissem.traits import traits_for

__all__ = ["MAX_LINKS", "ThreadsStandIn"]

MAX_LINKS = traits_for("threads").max_links or 0
#: the lifetime of a refreshed long-lived token, seconds (60 days), and the age a token must
#: reach before it can be refreshed (24 hours), as documented:
#: https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/
TOKEN_LIFETIME = 60 * 86400
MIN_REFRESH_AGE = 86400


def distinct_links(text: str, attachment: str | None = None) -> int:
    """How many distinct links a post carries: those in the text (counted as the composer
    counts them) plus the link attachment when it is not one of them."""
    return counting.distinct_links(f"{text} {attachment}" if attachment else text)


class ThreadsStandIn(ContainerStandIn):
    """Stands in for ``https://graph.threads.net`` under ``/threads``."""

    name = "threads"
    throttle_code: ClassVar[int] = 4
    throttle_message: ClassVar[str] = "(#4) Application request limit reached"
    usage_type: ClassVar[str] = "threads"
    create_edge: ClassVar[str] = "threads"
    publish_edge: ClassVar[str] = "threads_publish"
    status_field: ClassVar[str] = "status"
    error_field: ClassVar[str] = "error_message"
    text_field: ClassVar[str] = "text"
    insights: ClassVar[dict[str, tuple[str, ...]]] = {
        name: (name,) for name in ("views", "likes", "replies", "reposts", "quotes", "shares")
    }

    def permalink(self, account: str, media_id: str) -> str:
        return f"{self.env.platform_url(self.name)}/@{account}/post/{media_id}"

    def media_json(self, post: PostRecord) -> dict[str, Any]:
        """A reply also names its parent and the top of its thread, ``replied_to`` and
        ``root_post`` (``{"id"}`` each), and says ``is_reply``, as Threads' reply listings
        do (https://developers.facebook.com/docs/threads/retrieve-and-manage-replies)."""
        item = {**super().media_json(post), "is_reply": bool(post.reply_to)}
        if post.reply_to:
            root = post
            while root.reply_to:
                parent = self.env.state.get_post(self.name, root.reply_to)
                if parent is None:
                    break
                root = parent
            item["replied_to"] = {"id": post.reply_to}
            item["root_post"] = {"id": root.remote_id}
        return item

    def processed(self, container: dict[str, Any]) -> bool:
        return True  # text containers are processed too

    def publish_status(self, container: dict[str, Any], now: datetime) -> str:
        status = self.status_of(container, now)
        lag = float(self.env.state.bucket(self.name).get("publish_lag_seconds", 0))
        created = datetime.fromisoformat(container["created_at"])
        if status == "FINISHED" and (now - created).total_seconds() < lag:
            return "IN_PROGRESS"
        return status

    def not_publishable(self, creation_id: str, status: str) -> Reject:
        if status == "IN_PROGRESS":
            return Reject(
                self.graph_error(
                    "The requested resource does not exist",
                    code=24,
                    subcode=4279009,
                    is_transient=False,
                    error_user_title="Media Not Found",
                    error_user_msg=f"The media with id {creation_id} cannot be found.",
                )
            )
        return super().not_publishable(creation_id, status)

    def container_from(self, req: Request, account: str, form: dict[str, Any]) -> dict[str, Any]:
        media_type = str(form.get("media_type") or "")
        text = str(form.get("text") or "")
        attachment = str(form.get("link_attachment") or "") or None
        fields: dict[str, Any] = {"text": text, "media_type": media_type}
        if media_type == "TEXT":
            if not text.strip():
                raise self.invalid("The parameter text is required for TEXT posts.")
            fields["link_attachment"] = attachment
        elif media_type == "IMAGE":
            image_url = str(form.get("image_url") or "")
            if not image_url.startswith(("http://", "https://")):
                raise self.invalid("The parameter image_url is required for IMAGE posts.")
            if attachment:
                raise self.invalid("link_attachment is only supported on TEXT posts.")
            fields.update(image_url=image_url, alt_text=form.get("alt_text"))
        else:
            raise self.invalid("The parameter media_type must be one of TEXT or IMAGE.")
        if text:
            self.require_text(text)
        if distinct_links(text, attachment) > MAX_LINKS:
            raise Reject(
                self.graph_error(
                    "THREADS_API__LINK_LIMIT_EXCEEDED: the post has more than "
                    f"{MAX_LINKS} distinct links",
                    code=100,
                    type_="THApiException",
                    error_user_title="Link limit exceeded",
                    error_user_msg=f"Posts can include up to {MAX_LINKS} links.",
                )
            )
        reply_to = form.get("reply_to_id")
        if reply_to:
            if self.env.state.get_post(self.name, str(reply_to)) is None:
                raise self.missing(str(reply_to))
            fields["reply_to_id"] = str(reply_to)
        return fields

    @route("POST", V + r"/(?P<account>[^/]+)/threads")
    def create(self, req: Request) -> Response:
        return self.create_container(req)

    @route("POST", V + r"/(?P<account>[^/]+)/threads_publish", write=True)
    def publish(self, req: Request) -> Response:
        return self.publish_container(req)

    @route("GET", V + r"/(?P<account>[^/]+)/threads")
    def threads(self, req: Request) -> Response:
        return self.list_media(req, replies=False)

    @route("GET", V + r"/(?P<account>[^/]+)/replies")
    def replies(self, req: Request) -> Response:
        return self.list_media(req, replies=True)

    @route("GET", V + r"/(?P<account>[^/]+)/threads_publishing_limit")
    def publishing_limit(self, req: Request) -> Response:
        """Posts and replies published in the last 24 hours against their quotas (reported,
        not enforced)."""
        self.token(req)
        since = req.now - timedelta(hours=24)
        recent = [
            p
            for p in self.env.state.posts(self.name, req.params["account"])
            if p.created_at >= since
        ]
        replies = sum(1 for p in recent if p.reply_to)
        day = 86400
        return json_response(
            {
                "data": [
                    {
                        "quota_usage": len(recent) - replies,
                        "config": {"quota_total": 250, "quota_duration": day},
                        "reply_quota_usage": replies,
                        "reply_config": {"quota_total": 1000, "quota_duration": day},
                    }
                ]
            }
        )

    def token(self, req: Request, form: dict[str, Any] | None = None) -> str:
        """The caller's token; one this sandbox minted is refused once expired (code 190,
        subcode 463, "Session has expired", as Graph answers an expired token)."""
        token = super().token(req, form)
        self._unexpired(token, req)
        return token

    def _unexpired(self, token: str, req: Request) -> dict[str, float] | None:
        """The bookkeeping of a token this sandbox minted (None for any other token, which
        counts as a valid long-lived token of unknown age); :class:`Reject` when expired."""
        with self.env.state.lock:
            minted = self.env.state.bucket(self.name).get("tokens", {}).get(token)
        if minted is not None and req.now.timestamp() >= minted["expires"]:
            raise Reject(
                self.graph_error(
                    "Error validating access token: Session has expired.", code=190, subcode=463
                )
            )
        return dict(minted) if minted is not None else None

    @route("GET", r"/refresh_access_token")
    def refresh(self, req: Request) -> Response:
        """``GET /refresh_access_token?grant_type=th_refresh_token&access_token=...``, as
        documented: the token is the ``access_token`` query parameter (not a header); it must
        be unexpired and at least 24 hours old (tokens this sandbox minted; any other counts
        as old enough); the answer is ``{access_token, token_type, expires_in}``, the new
        token valid 60 days."""
        token = req.arg("access_token")
        if not token or not token.strip():
            raise Reject(
                self.graph_error(
                    "An active access token must be used to query information.", code=190
                )
            )
        if req.arg("grant_type") != "th_refresh_token":
            raise self.invalid("grant_type must be th_refresh_token")
        minted = self._unexpired(token, req)
        if minted is not None and req.now.timestamp() - minted["issued"] < MIN_REFRESH_AGE:
            raise self.invalid("The access token can be refreshed once it is 24 hours old")
        fresh = "THAA" + uuid.uuid4().hex
        issued = req.now.timestamp()
        with self.env.state.lock:
            tokens = self.env.state.bucket(self.name).setdefault("tokens", {})
            tokens[fresh] = {"issued": issued, "expires": issued + TOKEN_LIFETIME}
            self.env.state.changed()
        return json_response(
            {"access_token": fresh, "token_type": "bearer", "expires_in": TOKEN_LIFETIME}
        )
