"""The X stand-in's media endpoints (mixed into :class:`dissem.sandbox.x.XStandIn`): the
one-shot upload of a still image, the chunked upload (GIFs), processing and ``STATUS``, alt
text, and the checks ``POST /2/tweets`` makes on ``media.media_ids``.

- One-shot, ``POST /x/2/media/upload`` (multipart ``media``, or JSON with ``media``
  base64-encoded): a still image of at most 5 MB, ``media_category`` ``tweet_image`` or
  ``dm_image``. X lists no GIF category or type for it
  (https://docs.x.com/x-api/media/upload-media: categories ``tweet_image``, ``dm_image``,
  ``subtitles``; types without ``image/gif``) and calls it "images only", GIFs going through
  the chunked upload (https://docs.x.com/x-api/media), so a GIF (by its category or its
  bytes) is refused with X's 400 "Invalid Request" naming the parameter. The same path with
  a ``command`` field (``INIT``, ``APPEND``, ``FINALIZE``: the form of X's chunked quickstart,
  https://docs.x.com/x-api/media/quickstart/media-upload-chunked) runs the chunked steps.
- Chunked (https://docs.x.com/x-api/media/media-upload-append and its siblings):
  ``POST /x/2/media/upload/initialize`` JSON ``{media_type, total_bytes, media_category}``
  -> ``{"data": {"id", "media_key", "expires_after_secs"}}``; ``POST .../{id}/append``
  ``segment_index`` (0-999) and ``media`` (multipart bytes or JSON base64, at most 5 MB) ->
  ``{"data": {"expires_at"}}``; ``POST .../{id}/finalize`` checks the segments add up to
  ``total_bytes`` and answers the media, with ``processing_info`` while it is processed.
- Processing: a ``tweet_gif`` is processed for ``gif_processing_seconds`` (a key of the X
  state bucket; 0 by default, so ready at once): until then ``FINALIZE`` answers
  ``processing_info`` ``{"state": "pending", "check_after_secs": 1}`` and
  ``GET /x/2/media/upload?command=STATUS&media_id=`` answers ``in_progress``, then
  ``succeeded``. Bytes that are no GIF end ``failed`` with ``InvalidMedia``, as X reports a
  processing failure (the v1.1 STATUS reference shows the shape).
- ``POST /x/2/media/metadata`` sets alt text (at most 1000 characters).
- Attaching: at most 4 media, a GIF alone; each the caller's, unexpired (24 h), processed.
"""

from __future__ import annotations

import base64
from abc import abstractmethod
from datetime import datetime, timedelta
from typing import Any

from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response, route
from dissem.sandbox.uploads import image_entry, image_size, multipart_fields, sniff_image

__all__ = ["ALT_LIMIT", "GIF_LIMIT", "IMAGE_LIMIT", "MEDIA_TTL", "XMediaRoutes"]

#: X's caps: a still image 5 MB, an animated GIF 15 MB (https://docs.x.com/x-api/media)
IMAGE_LIMIT = 5 * 1024 * 1024
GIF_LIMIT = 15 * 1024 * 1024
#: most bytes in one APPEND segment, and the segment indexes allowed
SEGMENT_LIMIT = 5 * 1024 * 1024
MAX_SEGMENTS = 1000
ALT_LIMIT = 1000
MAX_MEDIA = 4
#: an upload must be used within a day
MEDIA_TTL = timedelta(hours=24)
#: categories of the one-shot upload, and of the chunked one with their caps
ONE_SHOT_CATEGORIES = ("tweet_image", "dm_image")
CHUNKED_CATEGORIES = {
    "tweet_image": IMAGE_LIMIT,
    "dm_image": IMAGE_LIMIT,
    "tweet_gif": GIF_LIMIT,
    "dm_gif": GIF_LIMIT,
}
#: media_key prefixes: 3 a photo, 16 an animated GIF
_KEY_PREFIX = {"image": "3", "gif": "16"}


class XMediaRoutes(StandIn):
    """The media routes of the X stand-in; it supplies :meth:`user` and :meth:`error`."""

    @abstractmethod
    def user(self, req: Request) -> tuple[str, str]:
        """(id, username) of the caller, or a 401 :class:`Reject`."""

    def invalid(self, parameter: str, value: Any, message: str) -> Reject:
        """X's 400 for a bad parameter: ``errors`` naming it, "Invalid Request"."""
        body = {
            "errors": [{"parameters": {parameter: [str(value)]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }
        return Reject(json_response(body, 400))

    def media(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self.env.state.bucket(self.name).setdefault("media", {})
        return found

    # --- one-shot (and the command form of the chunked upload) ----------------------------
    @route("POST", r"/2/media/upload")
    def upload_media(self, req: Request) -> Response:
        """The one-shot upload of a still image (multipart, or JSON with base64 ``media``);
        with a ``command`` field, a step of the chunked upload."""
        user_id, _ = self.user(req)
        fields = multipart_fields(req)
        form = {k: f.text for k, f in (fields or {}).items() if f.filename is None}
        if fields is None:
            form = {k: str(v) for k, v in req.json().items()}
        command = form.get("command", "").upper()
        if command == "INIT":
            return self._initialize(req, user_id, form)
        if command in ("APPEND", "FINALIZE"):
            entry = self._own(user_id, form.get("media_id", ""))
            if command == "FINALIZE":
                return self._finalize(req, entry)
            data = fields["media"].data if fields and "media" in fields else None
            return self._append(req, entry, form, data)
        if command:
            raise self.invalid("command", command, "command must be INIT, APPEND or FINALIZE")
        category = form.get("media_category", "")
        data = fields["media"].data if fields and "media" in fields else _b64(form.get("media"))
        if category not in ONE_SHOT_CATEGORIES:
            raise self.invalid(
                "media_category",
                category,
                f"The `media_category` value [{category}] is not one of "
                "[tweet_image,dm_image,subtitles]",
            )
        mime = sniff_image(data)
        if mime is None:
            raise Reject(self.error(400, "media is missing or not a supported image"))
        if mime == "image/gif":
            raise self.invalid(
                "media_type",
                mime,
                "The `media_type` value [image/gif] is not one of [text/srt,text/vtt,"
                "image/jpeg,image/bmp,image/png,image/webp,image/pjpeg,image/tiff]",
            )
        if len(data) > IMAGE_LIMIT:
            raise Reject(self.error(400, f"File size exceeds {IMAGE_LIMIT} bytes."))
        entry = self._new_entry(req, user_id, category, mime, len(data), state="ready")
        answer: dict[str, Any] = self._describe(entry)
        size = image_size(data)
        if size:
            answer["image"] = {"image_type": mime, "w": size[0], "h": size[1]}
        return json_response({"data": answer})

    # --- chunked --------------------------------------------------------------------------
    @route("POST", r"/2/media/upload/initialize")
    def initialize(self, req: Request) -> Response:
        user_id, _ = self.user(req)
        return self._initialize(req, user_id, req.json())

    @route("POST", r"/2/media/upload/(?P<id>\d+)/append")
    def append(self, req: Request) -> Response:
        user_id, _ = self.user(req)
        entry = self._own(user_id, req.params["id"])
        fields = multipart_fields(req)
        if fields is not None:
            form = {k: f.text for k, f in fields.items() if f.filename is None}
            return self._append(
                req, entry, form, fields["media"].data if "media" in fields else None
            )
        body = req.json()
        return self._append(req, entry, {k: str(v) for k, v in body.items()}, None)

    @route("POST", r"/2/media/upload/(?P<id>\d+)/finalize")
    def finalize(self, req: Request) -> Response:
        user_id, _ = self.user(req)
        return self._finalize(req, self._own(user_id, req.params["id"]))

    @route("GET", r"/2/media/upload")
    def status(self, req: Request) -> Response:
        """``?command=STATUS&media_id=``: the upload and its ``processing_info``."""
        user_id, _ = self.user(req)
        if (req.arg("command") or "").upper() != "STATUS":
            raise self.invalid("command", req.arg("command") or "", "command must be STATUS")
        entry = self._own(user_id, req.arg("media_id") or "")
        if self._phase(entry, req.now) == "uploading":
            raise self.invalid("media_id", entry["id"], "The upload has not been finalized.")
        answer = self._describe(entry)
        answer["processing_info"] = self._processing(entry, req.now)
        return json_response({"data": answer})

    def _initialize(self, req: Request, user_id: str, form: dict[str, Any]) -> Response:
        category = str(form.get("media_category") or "")
        if category not in CHUNKED_CATEGORIES:
            raise self.invalid(
                "media_category",
                category,
                f"media_category must be one of {', '.join(CHUNKED_CATEGORIES)}",
            )
        try:
            total = int(form.get("total_bytes") or 0)
        except (TypeError, ValueError):
            total = 0
        if total <= 0:
            raise self.invalid(
                "total_bytes", form.get("total_bytes"), "total_bytes must be positive"
            )
        if total > CHUNKED_CATEGORIES[category]:
            raise Reject(
                self.error(400, f"File size exceeds {CHUNKED_CATEGORIES[category]} bytes.")
            )
        mime = str(form.get("media_type") or "")
        if not mime.startswith("image/"):
            raise self.invalid("media_type", mime, "media_type must be an image type")
        entry = self._new_entry(req, user_id, category, mime, total, state="uploading")
        return json_response({"data": self._describe(entry)})

    def _append(
        self, req: Request, entry: dict[str, Any], form: dict[str, str], data: bytes | None
    ) -> Response:
        if data is None:
            data = _b64(form.get("media"))
        try:
            index = int(form.get("segment_index", ""))
        except ValueError:
            index = -1
        if not 0 <= index < MAX_SEGMENTS:
            raise self.invalid(
                "segment_index", form.get("segment_index"), "segment_index must be 0-999"
            )
        if not data or len(data) > SEGMENT_LIMIT:
            raise self.invalid("media", len(data), f"a segment holds 1 to {SEGMENT_LIMIT} bytes")
        with self.env.state.lock:
            if entry["state"] != "uploading":
                raise self.invalid("media_id", entry["id"], "The upload is already finalized.")
            entry["segments"][str(index)] = len(data)
            if index == 0:
                entry["head"] = base64.b64encode(data[:16]).decode()
            self.env.state.changed()
        expires = datetime.fromisoformat(entry["at"]) + MEDIA_TTL
        return json_response({"data": {"expires_at": int(expires.timestamp())}})

    def _finalize(self, req: Request, entry: dict[str, Any]) -> Response:
        with self.env.state.lock:
            if entry["state"] != "uploading":
                raise self.invalid("media_id", entry["id"], "The upload is already finalized.")
            received = sum(entry["segments"].values())
            if received != entry["size"]:
                raise Reject(self.error(400, "Segments do not add up to provided total file size."))
            head = sniff_image(base64.b64decode(entry.get("head") or ""))
            gif = entry["category"].endswith("_gif")
            if not gif and (head is None or head == "image/gif"):
                raise Reject(self.error(400, "media is not a supported still image"))
            entry["mime"] = head or entry["mime"]
            entry["finalized_at"] = req.now.isoformat()
            entry["state"] = "processing" if gif else "ready"
            if gif and head != "image/gif":
                entry["state"] = "failed"
            self.env.state.changed()
        answer = self._describe(entry)
        processing = self._processing(entry, req.now, first=True)
        if processing:
            answer["processing_info"] = processing
        return json_response({"data": answer})

    def _phase(self, entry: dict[str, Any], now: datetime) -> str:
        """``uploading``, ``processing``, ``succeeded`` or ``failed`` at ``now``."""
        state = str(entry.get("state", "ready"))
        if state in ("uploading", "failed"):
            return state
        if state == "processing":
            seconds = float(self.env.state.bucket(self.name).get("gif_processing_seconds", 0))
            elapsed = (now - datetime.fromisoformat(entry["finalized_at"])).total_seconds()
            if elapsed < seconds:
                return "processing"
        return "succeeded"

    def _processing(
        self, entry: dict[str, Any], now: datetime, *, first: bool = False
    ) -> dict[str, Any] | None:
        """``processing_info`` of a finalized upload at ``now``; for the FINALIZE answer
        (``first``), None when it is ready at once."""
        phase = self._phase(entry, now)
        if phase == "failed":
            error = {"code": 1, "name": "InvalidMedia", "message": "Unsupported image format"}
            return {"state": "failed", "progress_percent": 0, "error": error}
        if phase == "succeeded":
            return None if first else {"state": "succeeded", "progress_percent": 100}
        seconds = float(self.env.state.bucket(self.name).get("gif_processing_seconds", 0))
        elapsed = (now - datetime.fromisoformat(entry["finalized_at"])).total_seconds()
        return {
            "state": "pending" if first else "in_progress",
            "check_after_secs": 1,
            "progress_percent": int(100 * elapsed / seconds),
        }

    def _new_entry(
        self, req: Request, user_id: str, category: str, mime: str, size: int, *, state: str
    ) -> dict[str, Any]:
        with self.env.state.lock:
            media_id = str(self.env.serial(self.name) + 1_900_000_000_000_000_000)
            entry = {
                "id": media_id,
                "account": user_id,
                "category": category,
                "mime": mime,
                "size": size,
                "alt": "",
                "at": req.now.isoformat(),
                "state": state,
                "segments": {},
            }
            self.media()[media_id] = entry
            self.env.state.changed()
        return entry

    def _own(self, user_id: str, media_id: str) -> dict[str, Any]:
        entry = self.media().get(str(media_id))
        if entry is None or entry["account"] != user_id:
            raise self.invalid("media_id", media_id, f"Could not find media with id: [{media_id}].")
        return entry

    def _describe(self, entry: dict[str, Any]) -> dict[str, Any]:
        kind = "gif" if entry.get("category", "").endswith("_gif") else "image"
        return {
            "id": entry["id"],
            "media_key": f"{_KEY_PREFIX[kind]}_{entry['id']}",
            "size": entry["size"],
            "expires_after_secs": int(MEDIA_TTL.total_seconds()),
        }

    # --- alt text and attaching -----------------------------------------------------------
    @route("POST", r"/2/media/metadata")
    def media_metadata(self, req: Request) -> Response:
        """Alt text for an uploaded image (``metadata.alt_text.text``)."""
        user_id, _ = self.user(req)
        body = req.json()
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(alt, str) or len(alt) > ALT_LIMIT:
            raise Reject(self.error(400, f"alt_text.text must be a string of at most {ALT_LIMIT}"))
        with self.env.state.lock:
            entry = self.media().get(str(body.get("id")))
            if entry is None or entry["account"] != user_id:
                raise Reject(self.error(400, "media id not found"))
            entry["alt"] = alt
            self.env.state.changed()
        meta = {"alt_text": {"text": alt}}
        return json_response({"data": {"id": entry["id"], "associated_metadata": meta}})

    def attached(self, body: dict[str, Any], user_id: str, now: datetime) -> list[dict[str, Any]]:
        """The uploads named by ``media.media_ids``, checked as X does; 400 otherwise."""
        media = body.get("media")
        ids = (media.get("media_ids") if isinstance(media, dict) else None) or []
        if not isinstance(ids, list) or len(ids) > MAX_MEDIA:
            raise Reject(self.error(400, f"media.media_ids must list at most {MAX_MEDIA} ids"))
        found: list[dict[str, Any]] = []
        with self.env.state.lock:
            stored = self.media()
            for media_id in ids:
                entry = stored.get(str(media_id))
                fresh = entry is not None and now - datetime.fromisoformat(entry["at"]) < MEDIA_TTL
                ready = entry is not None and self._phase(entry, now) == "succeeded"
                if entry is None or entry["account"] != user_id or not fresh or not ready:
                    raise Reject(self.error(400, "Your media IDs are invalid."))
                found.append(entry)
        if len(found) > 1 and any(e.get("category", "").endswith("_gif") for e in found):
            raise Reject(self.error(400, "A GIF must be the only media of a post."))
        return found

    @staticmethod
    def image_entries(media: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """How a stored post describes its attached uploads."""
        return [image_entry(m["id"], m["alt"], m["mime"], m["size"]) for m in media]


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except ValueError:
        return b""
