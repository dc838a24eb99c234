"""LinkedIn organization pages through the Posts API (``/rest/posts``).

- publish: ``POST /rest/posts`` with ``LinkedIn-Version`` (a setting: versions retire about
  yearly) and ``X-Restli-Protocol-Version: 2.0.0``; the new post's URN comes back in the
  ``x-restli-id`` header. ``commentary`` must already be escaped for LinkedIn's "little"
  format (the composer does it): unescaped, LinkedIn may cut the post and still succeed.
- duplicates: LinkedIn answers 422 with the code nested in
  ``errorDetails.inputErrors[].code == "DUPLICATE_POST"`` and the existing post's URN only in
  the message (``"... Content is a duplicate of urn:li:share:N"``; a top-level ``code`` is
  read too). The adapter then reads that URN back (``GET /rest/posts/{urn}``): found ->
  :class:`~dissem.errors.Duplicate` with the URN (published); 404/410 -> a ``Duplicate``
  without one, so the post is unconfirmed and reconcile looks it up (LinkedIn keeps naming
  a post for a while after it was deleted). When the read-back itself fails (no
  ``r_organization_social``, throttled), LinkedIn's word stands.
- version: ``LinkedIn-Version`` must name a version LinkedIn released and still serves
  (monthly, but some months are skipped, and each is served about a year); otherwise every
  call answers 426 ``NONEXISTENT_VERSION``, which becomes an :class:`~dissem.errors.AuthError`
  naming ``DISSEM_LINKEDIN_VERSION`` (the channel pauses: every post would fail alike).
- throttling: 429 without headers; see :func:`retry_at_after_429`.
- lookup: the organization's recent posts (``q=author``) matched by commentary and
  creation time, never one recorded for another post.
- metrics: ``organizationalEntityShareStatistics`` for shares and ugcPosts.
- images (Images API): ``POST /rest/images?action=initializeUpload
  {initializeUploadRequest: {owner}}`` gives an image URN and an ``uploadUrl``; the bytes go
  there with ``PUT``. The post then names the URN: as ``content.article.thumbnail`` (with
  ``thumbnailAltText``) when the part has an article card, since LinkedIn no longer scrapes
  the page for one, else as ``content.media {id, altText}``. The post follows the upload
  directly: LinkedIn processes still images while taking the bytes, and the adapter never
  sleeps. An image that cannot be loaded or that LinkedIn refuses leaves the post without it
  (see :mod:`dissem.platforms.media`). The access token goes along with the ``PUT`` only when
  the upload URL is on a LinkedIn host (or the adapter's own API host: the sandbox).

Credentials: ``access_token`` (scope ``w_organization_social``; metrics need
``r_organization_social``). ``channel.account`` is the organization URN
(``urn:li:organization:N``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import requests

from dissem.compose.types import Media, Part
from dissem.errors import (
    AuthError,
    ContentRejected,
    Duplicate,
    ImageUnavailable,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.platforms.base import (
    MetricSample,
    Platform,
    PublishContext,
    RemotePost,
)
from dissem.platforms.http import call, short_body
from dissem.platforms.media import fit_alt, load_release_image, skip_image
from dissem.platforms.text_match import Candidate, listed_at, pick
from dissem.redact import redact
from dissem.traits import traits_for

__all__ = ["LinkedInOrganization", "post_url", "retry_at_after_429"]

_URN_RE = re.compile(r"urn:li:(?:share|ugcPost|activity):\d+")
#: posts read per lookup (the Posts API pages by ``count``)
LOOKUP_PAGE_SIZE = 20
#: dissem's cap on an image file (LinkedIn limits pixels, 36 MP, rather than bytes) and
#: LinkedIn's on alt text
IMAGE_MAX_BYTES = traits_for("linkedin").image_max_bytes
ALT_LIMIT = 4086
#: where LinkedIn lists the versions it serves and when each is sunset
VERSIONS_URL = "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations"
#: wait after a 429; see :func:`retry_at_after_429`
THROTTLE_WAIT = timedelta(hours=1)
_STATISTICS = {
    "impressionCount": "views",
    "uniqueImpressionsCount": "reach",
    "clickCount": "link_clicks",
    "likeCount": "likes",
    "commentCount": "replies",
    "shareCount": "shares",
}


def post_url(urn: str) -> str:
    """The public address of a post URN."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


def retry_at_after_429(now: datetime) -> datetime:
    """When to try again after a 429, which LinkedIn sends without any header: an hour on.

    LinkedIn's documented limits are daily and reset at 00:00 UTC, so a spent quota frees
    up only at midnight. But a 429 can also come from short-term protection, and pausing a
    channel until midnight over a burst would hold back up to a day of news. An hour costs
    at most one refused request an hour while a daily quota is spent, and an hour's delay
    after a burst.
    """
    return now.astimezone(UTC) + THROTTLE_WAIT


class LinkedInOrganization(Platform):
    """A LinkedIn organization page."""

    name: ClassVar[str] = "linkedin"
    default_api_base: ClassVar[str] = "https://api.linkedin.com"

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """Posts ``part`` as the organization; ``part.options["article"]`` (``source``,
        ``title``, ``description``) becomes the link card, and the first image of
        ``part.media`` its thumbnail (or the post's image without a card). ``reply_to`` is
        ignored."""
        body: dict[str, Any] = {
            "author": self.channel.account,
            "commentary": part.text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        article = part.options.get("article")
        card = isinstance(article, Mapping) and bool(article.get("source"))
        image = self._upload_image(part.media[0]) if part.media else None
        alt = fit_alt(part.media[0].alt, ALT_LIMIT) if part.media else ""
        if card and isinstance(article, Mapping):
            fields = {k: str(v) for k, v in article.items() if k in _ARTICLE_KEYS and v}
            if image:
                fields["thumbnail"] = image
                if alt:
                    fields["thumbnailAltText"] = alt
            body["content"] = {"article": fields}
        elif image:
            body["content"] = {"media": {"id": image, **({"altText": alt} if alt else {})}}
        try:
            response = self._call("POST", "/rest/posts", creates=True, json=body)
        except Duplicate as duplicate:
            raise self._confirmed(duplicate) from None
        urn = response.headers.get("x-restli-id", "").strip()
        if not urn:
            raise OutcomeUnknown(
                f"linkedin: HTTP {response.status_code} without an x-restli-id header",
                platform=self.name,
                status=response.status_code,
            )
        return RemotePost(remote_id=urn, url=post_url(urn))

    def _confirmed(self, duplicate: Duplicate) -> Duplicate:
        """``duplicate`` when the post it names can be read back (or cannot be checked);
        without its URN when that post answers 404 or 410, so the post goes to lookup.

        Source: the Posts API reads one post with ``GET /rest/posts/{encoded urn}``
        (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api);
        DUPLICATE_POST naming a URN that answers 404 after a deletion is reported in
        https://github.com/ComposioHQ/composio/issues/2710.
        """
        urn = duplicate.remote_id
        if not urn:
            return duplicate
        try:
            self._call("GET", f"/rest/posts/{quote(urn, safe='')}")
        except PlatformError as exc:
            if exc.status in (404, 410):
                return Duplicate(
                    f"{duplicate} (but {urn} answers HTTP {exc.status}: the post LinkedIn "
                    "names is gone; looking it up)",
                    platform=self.name,
                    status=duplicate.status,
                )
        return duplicate

    def _upload_image(self, media: Media) -> str | None:
        """The URN of the uploaded image; None (and a warning) when the image cannot be loaded
        or LinkedIn refuses it as content."""
        try:
            image = load_release_image(self, media, max_bytes=IMAGE_MAX_BYTES)
            request = {"initializeUploadRequest": {"owner": self.channel.account}}
            answer = _json(
                self._call(
                    "POST", "/rest/images", params={"action": "initializeUpload"}, json=request
                )
            ).get("value")
            if not isinstance(answer, Mapping) or not answer.get("uploadUrl"):
                raise TransientError(
                    "linkedin: initializeUpload answered without an upload URL",
                    platform=self.name,
                )
            upload_url, urn = str(answer["uploadUrl"]), str(answer.get("image") or "")
            call(
                self.session,
                "PUT",
                upload_url,
                platform=self.name,
                timeout=self.timeout,
                classify=self._classify,
                data=image.data,
                headers={"Content-Type": image.mime, **self._upload_auth(upload_url)},
            )
        except (ImageUnavailable, ContentRejected) as exc:
            skip_image(self.name, media, exc)
            return None
        return urn or None

    def _upload_auth(self, upload_url: str) -> dict[str, str]:
        """The bearer header for an upload URL on a LinkedIn host or on the API's own host;
        none elsewhere, so a strange answer cannot lead the token away."""
        host = (urlsplit(upload_url).hostname or "").lower()
        trusted = host == "linkedin.com" or host.endswith(".linkedin.com")
        if trusted or host == (urlsplit(self.api_base).hostname or "").lower():
            return {"Authorization": f"Bearer {self.credentials.get('access_token', '')}"}
        return {}

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """The organization's post created at or after ``since`` whose commentary equals
        ``part.text`` (up to whitespace) and that is not in ``taken``; None when there is
        none (see :func:`dissem.platforms.text_match.pick`). Organization posts reply to
        nothing (publish ignores ``reply_to``), so the place is the organization and the
        time."""
        response = self._call(
            "GET",
            "/rest/posts",
            params={"author": self.channel.account, "q": "author", "count": LOOKUP_PAGE_SIZE},
            extra_headers={"X-RestLi-Method": "FINDER"},
        )
        candidates = [
            Candidate(
                post=RemotePost(remote_id=str(post["id"]), url=post_url(str(post["id"]))),
                text=str(post.get("commentary") or ""),
                created_at=listed_at(post.get("publishedAt") or post.get("createdAt")),
            )
            for post in _json(response).get("elements") or []
            if isinstance(post, Mapping) and post.get("id")
        ]
        return pick(
            part.text, candidates, since=since, reply_to=None, taken=taken, platform=self.name
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """Lifetime statistics of up to 20 posts (share and ugcPost URNs); posts LinkedIn
        does not report on are left out."""
        if not remote_ids:
            return {}
        # Rest.li 2.0 lists: List(a,b) with each URN encoded but the syntax left as is, which
        # requests' own parameter encoding would escape; so the query is built here.
        query = [
            "q=organizationalEntity",
            f"organizationalEntity={quote(self.channel.account, safe='')}",
        ]
        for kind, param in (("share", "shares"), ("ugcPost", "ugcPosts")):
            urns = [u for u in remote_ids if u.startswith(f"urn:li:{kind}:")]
            if urns:
                query.append(f"{param}=List({','.join(quote(u, safe='') for u in urns)})")
        path = "/rest/organizationalEntityShareStatistics?" + "&".join(query)
        out: dict[str, MetricSample] = {}
        for element in _json(self._call("GET", path)).get("elements") or []:
            if not isinstance(element, Mapping):
                continue
            urn = element.get("share") or element.get("ugcPost")
            stats = element.get("totalShareStatistics")
            if urn in remote_ids and isinstance(stats, Mapping):
                values = {
                    norm: int(stats[name])
                    for name, norm in _STATISTICS.items()
                    if isinstance(stats.get(name), int | float)
                }
                out[str(urn)] = MetricSample(values=values, raw=dict(element))
        return out

    def _call(
        self,
        method: str,
        path: str,
        *,
        creates: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {self.credentials.get('access_token', '')}",
            "LinkedIn-Version": self.settings.linkedin_version,
            "X-Restli-Protocol-Version": "2.0.0",
            **(extra_headers or {}),
        }
        return call(
            self.session,
            method,
            f"{self.api_base}{path}",
            platform=self.name,
            timeout=self.timeout,
            creates=creates,
            classify=self._classify,
            headers=headers,
            **kwargs,
        )

    def _classify(self, response: requests.Response) -> PlatformError | None:
        """LinkedIn's own signals; None leaves the rest to the shared table."""
        status = response.status_code
        body = _json(response)
        message = redact(f"linkedin: HTTP {status}: {short_body(response)}")
        if status == 422 and _is_duplicate(body):
            found = _URN_RE.search(str(body.get("message", "")))
            urn = found.group(0) if found else None
            return Duplicate(
                message,
                remote_id=urn,
                url=post_url(urn) if urn else None,
                platform=self.name,
                status=status,
            )
        if status == 429:
            now = self.now()  # the adapter's clock (the demo's simulated one)
            return RateLimited(
                message, retry_at=retry_at_after_429(now), platform=self.name, status=status
            )
        if status == 426:  # NONEXISTENT_VERSION: every post would fail alike
            return AuthError(
                f"{message} (LinkedIn-Version {self.settings.linkedin_version} was never "
                "released or is no longer served; set DISSEM_LINKEDIN_VERSION to a version "
                f"listed as active at {VERSIONS_URL})",
                platform=self.name,
                status=status,
            )
        return None


_ARTICLE_KEYS = frozenset({"source", "title", "description", "thumbnail"})


def _is_duplicate(body: Mapping[str, Any]) -> bool:
    """Whether a 422 body says DUPLICATE_POST: nested, as LinkedIn answers
    (``{"errorDetailType": "com.linkedin.common.error.BadRequest", "message": "...Content is a
    duplicate of urn:li:share:N", "errorDetails": {"inputErrors": [{"description": "Duplicate
    post is detected", "input": {}, "code": "DUPLICATE_POST"}]}, "status": 422}``, seen in
    https://github.com/Arisamiga/Linkedin-RSS/issues/5), or as a top-level ``code``."""
    if body.get("code") == "DUPLICATE_POST":
        return True
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, Mapping) else None
    return isinstance(errors, list) and any(
        isinstance(e, Mapping) and e.get("code") == "DUPLICATE_POST" for e in errors
    )


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
