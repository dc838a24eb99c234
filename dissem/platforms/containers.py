"""Meta's two-step "container" publishing, shared by Instagram and Threads.

A post goes out in two calls: ``POST /{user}/{create_edge}`` makes a *container* (nothing
is visible yet), ``POST /{user}/{publish_edge} {creation_id}`` publishes it. The container
id is written to the database (``ctx.remember("container_id", ...)``) between the two, so
whatever happens afterwards can be settled by asking the container's status.

Meta processes a container before it can be published (both platforms document
``GET /{container}?fields=status`` for this; Threads recommends waiting before publishing,
https://developers.facebook.com/docs/threads/posts#step-2--publish-a-threads-media-container),
and publishing one too early is refused: Instagram answers code 9007 / subcode 2207027
("Media ID is not available"), Threads code 24 / subcode 4279009 ("Media Not Found",
https://github.com/fbsamples/threads_api/issues/70). So :meth:`ContainerPlatform.publish`
asks the status first and publishes only a FINISHED container:

=============  =====================================================================
status         what :meth:`ContainerPlatform.publish` does
=============  =====================================================================
PUBLISHED      (a remembered container) it went out: find the media among the
               account's recent posts
FINISHED       publish it (no second container)
IN_PROGRESS    ask again after a short pause, at most ``len(STATUS_WAITS)`` times
               (``pause`` is injectable); still processing then: :class:`TransientError`,
               and the retry finds the remembered container and carries on with it
ERROR          :class:`ContentRejected` with the platform's reason (Threads'
               ``error_message``, Instagram's ``status`` subcode): processing failed
EXPIRED        (a remembered container) make a new one: they expire 24 h after creation
=============  =====================================================================

The statuses and Threads' reasons (``FAILED_DOWNLOADING_VIDEO``, ..., ``UNKNOWN``) are
https://developers.facebook.com/docs/threads/troubleshooting#publishing-does-not-return-a-media-id;
Instagram's are the IG Container reference
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container).
The pauses are the one place an adapter waits: a few seconds in all, so that a container
Meta finishes at once (text, most images) goes out in the same attempt instead of a
backoff later.

Creating a container publishes nothing, so a lost answer there is a plain
:class:`TransientError`; only the publish step can end in :class:`OutcomeUnknown`.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from dissem.compose.types import Part
from dissem.errors import (
    ContentRejected,
    Duplicate,
    LookupAmbiguous,
    OutcomeUnknown,
    PlatformError,
    TransientError,
)
from dissem.platforms.base import MetricSample, PublishContext, RemotePost
from dissem.platforms.meta import GraphPlatform
from dissem.platforms.text_match import UNKNOWN, Candidate, listed_at, pick
from dissem.redact import redact

__all__ = ["CONTAINER_KEY", "STATUS_WAITS", "ContainerPlatform", "insight_values"]

#: the ``ctx.state`` key holding the container id of a post
CONTAINER_KEY = "container_id"
#: recent posts read when looking for a published container's media
LOOKUP_PAGE_SIZE = 50
#: seconds paused before each repeated status check of a container still IN_PROGRESS (7 s
#: in all: Threads' own advice, "once per minute, for no more than 5 minutes", is for
#: video; a container not ready by then waits for the scheduler's retry instead of holding
#: a publishing thread)
STATUS_WAITS: tuple[float, ...] = (1.0, 2.0, 4.0)


class ContainerPlatform(GraphPlatform):
    """Base of Instagram and Threads: subclasses name their edges and fields and build the
    container's parameters."""

    create_edge: ClassVar[str]  # "media" / "threads"
    publish_edge: ClassVar[str]  # "media_publish" / "threads_publish"
    status_field: ClassVar[str]  # "status_code" (Instagram) / "status" (Threads)
    #: the container field saying why it is in ERROR: Threads' ``error_message``;
    #: Instagram's ``status`` (an error subcode)
    error_field: ClassVar[str] = "error_message"
    text_field: ClassVar[str]  # "caption" / "text"
    #: the field of a listed reply naming the post it answers (read on a replies listing)
    parent_field: ClassVar[str] = "replied_to"
    #: insight metric name -> normalised name (:data:`~dissem.platforms.base.METRIC_NAMES`)
    insight_names: ClassVar[Mapping[str, str]]
    #: insight metrics asked for and kept only in the raw payload
    extra_insights: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def container_fields(self, part: Part, reply_to: RemotePost | None) -> dict[str, str]:
        """The form fields of the container-creating call; raises ContentRejected when the
        part cannot be posted here at all (Instagram without an image)."""

    def listing_edge(self, part: Part) -> str:
        """The edge listing the account's posts of this kind (Threads keeps replies apart)."""
        return self.create_edge

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """Publishes ``part``, reusing the container remembered in ``ctx.state`` (see the
        module table); a container already PUBLISHED is never published twice, and none is
        published before Meta reports it FINISHED."""
        container = ctx.state.get(CONTAINER_KEY)
        state: tuple[str, str] | None = None
        if container:
            state = self.container_state(container)
            if state[0] == "PUBLISHED":
                found = self.find_published(part, since=None, reply_to=reply_to)
                if found is None:
                    raise Duplicate(
                        f"{self.name}: container {container} is already published, but its "
                        "media is not among the account's recent posts",
                        platform=self.name,
                    )
                return found
            if state[0] == "EXPIRED":  # spent: a new container
                container, state = None, None
        if not container:
            fields = self.container_fields(part, reply_to)
            answer = self.graph("POST", f"{self.channel.account}/{self.create_edge}", data=fields)
            container = str(answer.get("id") or "")
            if not container:
                raise TransientError(
                    f"{self.name}: container answer without an id", platform=self.name
                )
            ctx.remember(CONTAINER_KEY, container)
        self.await_finished(container, state)
        answer = self.graph(
            "POST",
            f"{self.channel.account}/{self.publish_edge}",
            creates=True,
            data={"creation_id": container},
        )
        media_id = str(answer.get("id") or "")
        if not media_id:
            raise OutcomeUnknown(
                f"{self.name}: publish answer without a media id", platform=self.name
            )
        return RemotePost(remote_id=media_id, url=self.permalink(media_id))

    def await_finished(self, container: str, state: tuple[str, str] | None = None) -> None:
        """Returns once ``container`` is FINISHED, asking its status (``state`` is an answer
        already in hand) and pausing ``STATUS_WAITS`` between asks.

        Raises :class:`ContentRejected` with the platform's reason when it is in ERROR,
        :class:`TransientError` when it is still processing after the last ask (the
        container stays remembered: the retry goes on with it) or has any other status.
        """
        waits = iter(STATUS_WAITS)
        while True:
            status, reason = state or self.container_state(container)
            if status == "FINISHED":
                return
            if status == "ERROR":
                raise ContentRejected(
                    redact(
                        f"{self.name}: Meta could not process container {container}: "
                        f"{reason or 'no reason given'}"
                    ),
                    platform=self.name,
                )
            wait = next(waits, None) if status == "IN_PROGRESS" else None
            if wait is None:
                what = "still processing" if status == "IN_PROGRESS" else f"status {status!r}"
                raise TransientError(
                    f"{self.name}: container {container} is {what}; it is kept for the retry",
                    platform=self.name,
                )
            self.pause(wait)
            state = None

    def pause(self, seconds: float) -> None:
        """Waits between two status checks (tests replace it with a clock that jumps)."""
        time.sleep(seconds)

    def container_state(self, container: str) -> tuple[str, str]:
        """The container's status (``EXPIRED``, ``ERROR``, ``FINISHED``, ``IN_PROGRESS``,
        ``PUBLISHED``) and, in ERROR, the platform's reason ('' otherwise)."""
        answer = self.graph(
            "GET", container, params={"fields": f"id,{self.status_field},{self.error_field}"}
        )
        status = str(answer.get(self.status_field) or "")
        reason = str(answer.get(self.error_field) or "") if status == "ERROR" else ""
        return status, reason

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """Settles an unknown outcome by the remembered container: None when there is none
        or it is not PUBLISHED (publishing again is then safe); the media when it is.

        The container proves the post went out, not which media it became (neither
        platform names the media of a container), so the media is the one post since
        ``since`` with the part's text at its place (:meth:`find_published`). Raises
        :class:`LookupAmbiguous` when none or several fit: it went out, and a person
        should say which post it is.
        """
        container = ctx.state.get(CONTAINER_KEY)
        if not container or self.container_status(container) != "PUBLISHED":
            return None
        found = self.find_published(part, since=since, reply_to=reply_to, taken=taken)
        if found is None:
            raise LookupAmbiguous(
                f"{self.name}: container {container} is published, but no post since "
                f"{since.isoformat()} has its text and place (apart from posts recorded for "
                "other posts)",
                platform=self.name,
            )
        return found

    def container_status(self, container: str) -> str:
        """``EXPIRED``, ``ERROR``, ``FINISHED``, ``IN_PROGRESS`` or ``PUBLISHED``."""
        answer = self.graph("GET", container, params={"fields": f"id,{self.status_field}"})
        return str(answer.get(self.status_field) or "")

    def find_published(
        self,
        part: Part,
        *,
        since: datetime | None,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """The account's one recent post (since ``since``, when given) with ``part``'s text
        at its place: replying to ``reply_to``, or to nothing; never one in ``taken``. None
        when there is none; :class:`LookupAmbiguous` when several fit or a reply's parent
        is not shown (see :func:`dissem.platforms.text_match.pick`).

        A listing other than ``create_edge`` lists replies (Threads' ``/{user}/replies``),
        whose items name their parent in :attr:`parent_field` (``replied_to {id}``,
        https://developers.facebook.com/docs/threads/reference/user); the posts of the
        ``create_edge`` listing reply to nothing. The found post's URL is the listing's
        ``permalink``, else the one ``GET /{media}?fields=permalink`` gives (the field is
        left out now and then, e.g. for flagged media; Threads reference,
        https://developers.facebook.com/docs/threads/retrieve-and-manage-replies)."""
        edge = self.listing_edge(part)
        replies = edge != self.create_edge
        fields = f"id,{self.text_field},timestamp,permalink"
        params = {
            "fields": f"{fields},{self.parent_field}" if replies else fields,
            "limit": str(LOOKUP_PAGE_SIZE),
        }
        if since is not None:
            params["since"] = str(int(since.timestamp()))
        answer = self.graph("GET", f"{self.channel.account}/{edge}", params=params)
        candidates = [
            Candidate(
                post=RemotePost(
                    remote_id=str(item["id"]),
                    url=str(item["permalink"]) if item.get("permalink") else None,
                ),
                text=str(item.get(self.text_field) or ""),
                created_at=listed_at(item.get("timestamp")),
                parent=self._parent(item) if replies else None,
            )
            for item in answer.get("data") or []
            if isinstance(item, Mapping) and item.get("id")
        ]
        found = pick(
            part.text,
            candidates,
            since=since or datetime.min.replace(tzinfo=UTC),
            # where posts cannot reply (Instagram) publish ignores reply_to; lookup too
            reply_to=reply_to if self.traits.threads else None,
            taken=taken,
            platform=self.name,
        )
        if found is not None and found.url is None:
            found = RemotePost(remote_id=found.remote_id, url=self.permalink(found.remote_id))
        return found

    def _parent(self, item: Mapping[str, Any]) -> str:
        """The id a listed reply answers, or :data:`UNKNOWN` when the listing omits it."""
        parent = item.get(self.parent_field)
        if isinstance(parent, Mapping) and parent.get("id"):
            return str(parent["id"])
        return UNKNOWN

    def permalink(self, media_id: str) -> str | None:
        """The public URL of a just-published media, or None when it cannot be read now.

        Best effort: the post is already out, so no failure here may turn success into an
        error (the URL is cosmetic; the id is what counts).
        """
        try:
            answer = self.graph("GET", media_id, params={"fields": "permalink"})
        except PlatformError:
            return None
        url = answer.get("permalink")
        return str(url) if url else None

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """Insights of each media, one call each (the insights edge takes one id); media the
        platform refuses to report on (deleted, not this account's) are left out."""
        out: dict[str, MetricSample] = {}
        metrics = ",".join([*self.insight_names, *self.extra_insights])
        for media_id in remote_ids:
            try:
                answer = self.graph("GET", f"{media_id}/insights", params={"metric": metrics})
            except ContentRejected:
                continue
            raw = insight_values(answer)
            values = {norm: raw[name] for name, norm in self.insight_names.items() if name in raw}
            out[media_id] = MetricSample(values=values, raw=answer)
        return out


def insight_values(answer: Mapping[str, Any]) -> dict[str, int]:
    """``{metric: value}`` from an insights answer: each item of ``data`` carries either
    ``total_value.value`` or a ``values`` list whose last entry is the latest."""
    out: dict[str, int] = {}
    for item in answer.get("data") or []:
        if not isinstance(item, Mapping) or "name" not in item:
            continue
        value: Any = None
        total = item.get("total_value")
        if isinstance(total, Mapping):
            value = total.get("value")
        elif isinstance(item.get("values"), list) and item["values"]:
            last = item["values"][-1]
            value = last.get("value") if isinstance(last, Mapping) else None
        if isinstance(value, int | float):
            out[str(item["name"])] = int(value)
    return out
