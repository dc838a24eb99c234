"""What the Facebook, Instagram and Threads stand-ins share: Graph's auth, error shapes,
throttling signal and two-step media containers.

- Auth: any non-empty token, as ``Authorization: Bearer`` or an ``access_token`` query or
  form field; none -> HTTP 400 with code 190 (``OAuthException``), as Graph answers.
- Errors: ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``;
  validation failures are HTTP 400 code 100, server errors HTTP 500 code 1.
- Throttling is an error code with HTTP 400 (never 429) plus an
  ``X-Business-Use-Case-Usage`` header carrying ``estimated_time_to_regain_access``.
- Containers (:class:`ContainerStandIn`): made by one call, published by another; their
  status goes IN_PROGRESS (images, for ``processing_seconds`` kept in the platform's state
  bucket; 0 by default) -> FINISHED -> PUBLISHED, or EXPIRED 24 h after creation. A
  container whose ``image_url`` is a key of the bucket's ``failing_images`` goes to ERROR
  instead, its reason (the value) in the platform's error field (Threads'
  ``error_message``, Instagram's ``status``), as ``GET /{container}`` answers it.
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any, ClassVar

from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response, route
from dissem.sandbox.state import PostRecord, engagement

__all__ = ["CONTAINER_TTL", "ContainerStandIn", "GraphStandIn", "graph_time"]

#: a container not published within this time expires
CONTAINER_TTL = timedelta(hours=24)
#: path prefix of a versioned Graph call (``/v23.0``, ``/v1.0``)
V = r"/v\d+(?:\.\d+)?"


def graph_time(moment: datetime) -> str:
    """Graph's timestamp format: ``2026-11-30T10:00:00+0000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


class GraphStandIn(StandIn):
    """Base of the Graph stand-ins: auth, Graph error bodies, code-based throttling."""

    #: the code a throttled call answers with
    throttle_code: ClassVar[int] = 4
    throttle_message: ClassVar[str] = "(#4) Application request limit reached"
    #: the ``type`` of the usage entry in X-Business-Use-Case-Usage
    usage_type: ClassVar[str] = "pages"
    #: minutes in ``estimated_time_to_regain_access`` of a throttled answer
    regain_minutes: ClassVar[int] = 10

    def graph_error(
        self,
        message: str,
        *,
        code: int,
        status: int = 400,
        subcode: int | None = None,
        type_: str = "OAuthException",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        """A Graph error answer."""
        body: dict[str, Any] = {"message": message, "type": type_, "code": code}
        if subcode is not None:
            body["error_subcode"] = subcode
        body.update(extra)
        body["fbtrace_id"] = uuid.uuid4().hex[:11].upper()
        return json_response({"error": body}, status, headers)

    def error(self, status: int, message: str) -> Response:
        if status == 401:
            return self.graph_error(message, code=190)
        if status >= 500:
            return self.graph_error(message, code=1, status=status, is_transient=True)
        return self.graph_error(message, code=100, status=status)

    def server_error(self) -> Response:
        return self.error(500, "An unknown error has occurred.")

    def throttled(self, now: datetime) -> Response:
        usage = {
            "type": self.usage_type,
            "call_count": 100,
            "total_cputime": 100,
            "total_time": 100,
            "estimated_time_to_regain_access": self.regain_minutes,
        }
        headers = {"X-Business-Use-Case-Usage": json.dumps({"1000": [usage]})}
        return self.graph_error(self.throttle_message, code=self.throttle_code, headers=headers)

    def too_long(self, text: str) -> Response:
        return self.graph_error(f"(#100) The text is longer than {self.name} allows", code=100)

    def invalid(self, message: str, *, subcode: int | None = None) -> Reject:
        """A :class:`Reject` with Graph's "invalid parameter" (code 100)."""
        return Reject(self.graph_error(f"(#100) {message}", code=100, subcode=subcode))

    def token(self, req: Request, form: dict[str, Any] | None = None) -> str:
        """The caller's token (header, query or form), or :class:`Reject` with code 190."""
        token = req.bearer() or req.arg("access_token") or (form or {}).get("access_token")
        if not token or not str(token).strip():
            raise Reject(
                self.graph_error(
                    "An active access token must be used to query information.", code=190
                )
            )
        return str(token)

    def new_id(self) -> str:
        """A fresh numeric object id (Graph ids are long digit strings)."""
        return str(17_841_400_000_000_000 + self.env.serial(self.name))

    def counts(self, post: PostRecord, now: datetime) -> dict[str, int]:
        """The post's engagement at ``now`` (grows with the post's age)."""
        return engagement(post.remote_id, post.created_at, now, post.audience)

    def missing(self, node: str) -> Reject:
        return self.invalid(
            f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation",
            subcode=33,
        )


class ContainerStandIn(GraphStandIn, ABC):
    """Instagram's and Threads' containers; subclasses validate and name things."""

    create_edge: ClassVar[str]
    publish_edge: ClassVar[str]
    status_field: ClassVar[str]
    #: the field holding why a container is in ERROR
    error_field: ClassVar[str]
    text_field: ClassVar[str]
    #: insight metric name -> the :func:`~dissem.sandbox.state.engagement` keys it sums
    insights: ClassVar[dict[str, tuple[str, ...]]]

    @abstractmethod
    def container_from(self, req: Request, account: str, form: dict[str, Any]) -> dict[str, Any]:
        """Validates a create call; the container's fields (``text``, ``image_url``, ...).
        Raises :class:`Reject` with the platform's answer when the call is invalid."""

    def permalink(self, account: str, media_id: str) -> str:
        return f"{self.env.platform_url(self.name)}/{account}/p/{media_id}"

    def containers(self) -> dict[str, dict[str, Any]]:
        bucket = self.env.state.bucket(self.name)
        found: dict[str, dict[str, Any]] = bucket.setdefault("containers", {})
        return found

    def status_of(self, container: dict[str, Any], now: datetime) -> str:
        """IN_PROGRESS, FINISHED, ERROR, PUBLISHED or EXPIRED at ``now``."""
        if container.get("media_id"):
            return "PUBLISHED"
        created = datetime.fromisoformat(container["created_at"])
        if now - created >= CONTAINER_TTL:
            return "EXPIRED"
        delay = float(self.env.state.bucket(self.name).get("processing_seconds", 0))
        if self.processed(container) and (now - created).total_seconds() < delay:
            return "IN_PROGRESS"
        return "ERROR" if container.get("error") else "FINISHED"

    def processed(self, container: dict[str, Any]) -> bool:
        """Whether the container takes ``processing_seconds`` to become FINISHED (images)."""
        return bool(container.get("image_url"))

    def create_container(self, req: Request) -> Response:
        form = req.form()
        self.token(req, form)
        account = req.params["account"]
        fields = self.container_from(req, account, form)
        container_id = self.new_id()
        with self.env.state.lock:
            failing = self.env.state.bucket(self.name).get("failing_images", {})
            self.containers()[container_id] = {
                **fields,
                "account": account,
                "created_at": req.now.isoformat(),
                "media_id": None,
                "error": failing.get(fields.get("image_url")),
            }
            self.env.state.changed()
        return json_response({"id": container_id})

    def publish_container(self, req: Request) -> Response:
        form = req.form()
        self.token(req, form)
        account = req.params["account"]
        creation_id = str(form.get("creation_id") or req.arg("creation_id") or "")
        with self.env.state.lock:
            container = self.containers().get(creation_id)
            if container is None or container["account"] != account:
                raise self.invalid(f"The parameter creation_id is invalid: '{creation_id}'")
            status = self.publish_status(container, req.now)
            if status != "FINISHED":
                raise self.not_publishable(creation_id, status)
            media_id = self.new_id()
            self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=account,
                    remote_id=media_id,
                    text=str(container.get("text") or ""),
                    created_at=req.now,
                    url=self.permalink(account, media_id),
                    reply_to=container.get("reply_to_id"),
                    media=[container["image_url"]] if container.get("image_url") else [],
                    extra={"container_id": creation_id},
                )
            )
            container["media_id"] = media_id
            self.env.state.changed()
        return json_response({"id": media_id})

    def publish_status(self, container: dict[str, Any], now: datetime) -> str:
        """The status the publish step sees (the one ``GET /{container}`` answers)."""
        return self.status_of(container, now)

    def not_publishable(self, creation_id: str, status: str) -> Reject:
        """The answer to publishing a container that is not FINISHED."""
        if status == "IN_PROGRESS":
            return Reject(
                self.graph_error(  # as the IG error-codes reference has it
                    "Media ID is not available",
                    code=9007,
                    subcode=2207027,
                    type_="OAuthException",
                    is_transient=False,
                    error_user_title="Media not ready for publishing",
                    error_user_msg=(
                        "The media is not ready for publishing, please wait for a moment"
                    ),
                )
            )
        return self.invalid(f"The media container {creation_id} cannot be published: {status}")

    def list_media(self, req: Request, *, replies: bool | None = None) -> Response:
        """The account's media, newest first, optionally ``since`` (unix seconds); only the
        ``fields`` asked for when the request names some."""
        self.token(req)
        since = req.arg("since")
        limit = min(int(req.arg("limit") or 25), 100)
        posts = [
            p
            for p in reversed(self.env.state.posts(self.name, req.params["account"]))
            if (since is None or p.created_at.timestamp() >= float(since))
            and (replies is None or bool(p.reply_to) == replies)
        ]
        fields = {f for f in (req.arg("fields") or "").split(",") if f}
        data = [self.media_json(p) for p in posts[:limit]]
        if fields:  # Graph answers the fields asked for (``id`` always)
            data = [{k: v for k, v in d.items() if k in fields or k == "id"} for d in data]
        return json_response({"data": data})

    def media_json(self, post: PostRecord) -> dict[str, Any]:
        return {
            "id": post.remote_id,
            self.text_field: post.text,
            "timestamp": graph_time(post.created_at),
            "permalink": post.url,
        }

    @route("GET", V + r"/(?P<node>\d+)")
    def node(self, req: Request) -> Response:
        """A container (id, status) or a published media (id, text, timestamp, permalink)."""
        self.token(req)
        node = req.params["node"]
        container = self.containers().get(node)
        if container is not None:
            status = self.status_of(container, req.now)
            answer = {"id": node, self.status_field: status}
            if status == "ERROR":
                answer[self.error_field] = container["error"]
            return json_response(answer)
        post = self.env.state.get_post(self.name, node)
        if post is None:
            raise self.missing(node)
        return json_response(self.media_json(post))

    @route("GET", V + r"/(?P<node>\d+)/insights")
    def insights_of(self, req: Request) -> Response:
        """Lifetime insights of a media: ``{"data": [{name, period, values: [{value}]}]}``."""
        self.token(req)
        post = self.env.state.get_post(self.name, req.params["node"])
        if post is None:
            raise self.missing(req.params["node"])
        wanted = [m for m in (req.arg("metric") or "").split(",") if m]
        unknown = [m for m in wanted if m not in self.insights]
        if not wanted or unknown:
            raise self.invalid(
                f"metric must be one of the following values: {', '.join(self.insights)}"
            )
        counts = self.counts(post, req.now)
        data = [
            {
                "name": m,
                "period": "lifetime",
                "values": [{"value": sum(counts[k] for k in self.insights[m])}],
                "title": m.replace("_", " ").title(),
                "id": f"{post.remote_id}/insights/{m}/lifetime",
            }
            for m in wanted
        ]
        return json_response({"data": data})
