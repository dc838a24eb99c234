"""Facebook Pages through the Graph API.

- publish: ``POST /{page-id}/feed {message, link?}`` with a Page token; the answer is
  ``{"id": "<page>_<post>"}``. There is no idempotency key and Graph has answered 500 for
  posts it did create, so a 5xx or a lost answer is :class:`~dissem.errors.OutcomeUnknown`,
  never a retry.
- images: a part with a link goes out as a link post even when it has an image. For a news
  portal the link preview is the point (it leads to the article, and Facebook builds it from
  the article's own ``og:image``), and a Page photo post cannot carry a link preview: its link
  would be plain text in the caption. Only a part *without* a link and with an image becomes
  a photo post, ``POST /{page-id}/photos {caption, alt_text_custom, url | source}``: ``url``
  for a public image (Graph downloads it), a multipart ``source`` upload for a file in the
  config folder. When that image cannot be used (unreadable file, Graph refuses the photo) the
  text goes out through ``/feed`` instead (see :mod:`dissem.platforms.media`). Photo posts
  answer ``{"id": <photo>, "post_id": "<page>_<post>"}``; the post id is kept, so lookup
  (their caption is the post's ``message``) and metrics work as for any post.
- lookup: the Page's recent posts (``/{page-id}/posts``) matched by their message and
  creation time, never one recorded for another post.
- metrics: ``/?ids=...&fields=reactions.summary(total_count),comments.summary(total_count),
  shares`` for up to 50 posts per call (post insights were mostly retired in 2025-2026).

Credentials: ``page_token`` (a Page access token; those obtained from a long-lived user
token do not expire). ``channel.account`` is the Page id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected, ImageUnavailable, OutcomeUnknown
from dissem.platforms.base import (
    MetricSample,
    PublishContext,
    RemotePost,
)
from dissem.platforms.http import call
from dissem.platforms.media import ImageData, load_release_image, skip_image
from dissem.platforms.meta import GraphPlatform
from dissem.platforms.text_match import Candidate, listed_at, pick
from dissem.traits import traits_for

__all__ = ["FacebookPage"]

_METRIC_FIELDS = "reactions.summary(total_count),comments.summary(total_count),shares"
#: posts read per lookup: a Page posting more than this between an unknown outcome and its
#: reconciliation is not the case this tool serves, and a bigger page costs Graph CPU time.
LOOKUP_PAGE_SIZE = 50
#: Graph takes photo files under 10 MB
PHOTO_MAX_BYTES = traits_for("facebook").image_max_bytes


class FacebookPage(GraphPlatform):
    """A Facebook Page."""

    name: ClassVar[str] = "facebook"
    default_api_base: ClassVar[str] = "https://graph.facebook.com"
    token_credential: ClassVar[str] = "page_token"

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """Posts ``part`` on the Page; ``reply_to`` is ignored (Pages have no threads).

        ``part.options["link"]`` becomes the link preview; without a link, the first image of
        ``part.media`` turns the post into a photo post with ``text`` as its caption (see the
        module doc for why a link wins).
        """
        page = self.channel.account
        link = part.options.get("link")
        post_id = self._photo(page, part.media[0], part.text) if part.media and not link else None
        if post_id is None:
            data = {"message": part.text}
            if link:
                data["link"] = str(link)
            post_id = self.graph("POST", f"{page}/feed", creates=True, data=data).get("id")
        if not post_id:
            raise OutcomeUnknown("facebook: success answer without a post id", platform=self.name)
        return self._remote(str(post_id))

    def _photo(self, page: str, media: Media, caption: str) -> str | None:
        """The post id of a new photo post; None (and a warning) when the image cannot be
        used, so the caller posts the text alone. Other failures are raised."""
        fields = {"caption": caption}
        if media.alt:
            fields["alt_text_custom"] = media.alt
        try:
            if media.src.startswith(("https://", "http://")):
                answer = self.graph(
                    "POST", f"{page}/photos", creates=True, data={**fields, "url": media.src}
                )
            else:
                image = load_release_image(self, media, max_bytes=PHOTO_MAX_BYTES)
                answer = self._upload_photo(page, fields, image)
        except (ImageUnavailable, ContentRejected) as exc:
            skip_image(self.name, media, exc)
            return None
        post_id = answer.get("post_id") or answer.get("id")
        return str(post_id) if post_id else None

    def _upload_photo(self, page: str, fields: dict[str, str], image: ImageData) -> dict[str, Any]:
        """``POST /{page}/photos`` with the file as multipart ``source``."""
        token = self.credentials.get(self.token_credential, "")
        response = call(
            self.session,
            "POST",
            self.graph_url(f"{page}/photos"),
            platform=self.name,
            timeout=self.timeout,
            creates=True,
            classify=lambda r: self.classify_error(r, creates=True),
            data=fields,
            files={"source": (image.filename, image.data, image.mime)},
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OutcomeUnknown(
                "facebook: photo upload answer is not a JSON object", platform=self.name
            )
        return body

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """The Page's post created at or after ``since`` whose message equals ``part.text``
        (up to whitespace) and that is not in ``taken``; None when there is none (see
        :func:`dissem.platforms.text_match.pick`). Page posts reply to nothing (publish
        ignores ``reply_to``), so the place is the Page and the time."""
        answer = self.graph(
            "GET",
            f"{self.channel.account}/posts",
            params={
                "fields": "id,message,created_time,permalink_url",
                "since": str(int(since.timestamp())),
                "limit": str(LOOKUP_PAGE_SIZE),
            },
        )
        candidates = [
            Candidate(
                post=self._remote(str(post["id"]), _text_or_none(post.get("permalink_url"))),
                text=str(post.get("message") or ""),
                created_at=listed_at(post.get("created_time")),
            )
            for post in answer.get("data") or []
            if isinstance(post, Mapping) and post.get("id")
        ]
        return pick(
            part.text, candidates, since=since, reply_to=None, taken=taken, platform=self.name
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """likes (all reactions), replies (comments) and shares of up to 50 posts; posts
        Graph no longer returns (deleted) are left out."""
        if not remote_ids:
            return {}
        answer = self.graph(
            "GET", "", params={"ids": ",".join(remote_ids), "fields": _METRIC_FIELDS}
        )
        out: dict[str, MetricSample] = {}
        for remote_id in remote_ids:
            raw = answer.get(remote_id)
            if isinstance(raw, Mapping):
                out[remote_id] = MetricSample(values=_engagement(raw), raw=dict(raw))
        return out

    def _remote(self, post_id: str, url: str | None = None) -> RemotePost:
        return RemotePost(remote_id=post_id, url=url or f"https://www.facebook.com/{post_id}")


def _text_or_none(value: Any) -> str | None:
    return str(value) if value else None


def _engagement(raw: Mapping[str, Any]) -> dict[str, int]:
    def summary(edge: str) -> int:
        value = raw.get(edge)
        if isinstance(value, Mapping) and isinstance(value.get("summary"), Mapping):
            return int(value["summary"].get("total_count") or 0)
        return 0

    shares = raw.get("shares")  # absent, not zero, when nobody shared
    return {
        "likes": summary("reactions"),
        "replies": summary("comments"),
        "shares": int(shares.get("count") or 0) if isinstance(shares, Mapping) else 0,
    }
