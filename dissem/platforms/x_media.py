"""Putting a release image on an X post: the one-shot upload for a still image, the chunked
one for a GIF, and the alt text.

A still image (JPEG, PNG, WebP; at most 5 MB) goes up in one call, ``POST /2/media/upload``
(multipart ``media``, ``media_category=tweet_image``; needs the ``media.write`` scope with
OAuth 2.0). That endpoint takes images only: its categories are ``tweet_image``, ``dm_image``
and ``subtitles`` and its types leave out ``image/gif``
(https://docs.x.com/x-api/media/upload-media), and X's media overview calls it "images only",
GIFs (at most 15 MB) going through the chunked upload (https://docs.x.com/x-api/media). So a
GIF goes up in steps, on the dedicated v2 endpoints (the reference client twapi-v2-rs,
src/upload_v2.rs, does the same):

1. ``POST /2/media/upload/initialize`` JSON ``{media_type, total_bytes, media_category:
   "tweet_gif"}`` -> ``data.id``;
2. ``POST /2/media/upload/{id}/append``, multipart ``segment_index`` and ``media``, in
   segments of :data:`SEGMENT_BYTES` (X takes at most 5 MB a segment, indexes 0-999);
3. ``POST /2/media/upload/{id}/finalize`` -> ``data.processing_info`` while X processes it
   (GIFs are processed asynchronously);
4. ``GET /2/media/upload?command=STATUS&media_id={id}``, after ``check_after_secs``, until
   ``processing_info.state`` is ``succeeded`` (``pending`` -> ``in_progress`` ->
   ``succeeded`` | ``failed``); a media id cannot be attached before.

Waiting is bounded. Within one publish the adapter waits at most :data:`WAIT_LIMIT` seconds
in all (X asks for a second or two at a time), through ``XPlatform.pause`` (tests pass one
that moves their clock); with the container polls of Instagram and Threads, these are the
only waits in an adapter. A GIF still processing after that is remembered in the post's
publish state (``ctx.remember``) and the publish raises :class:`TransientError`: the
scheduler tries again after its backoff, and that try only asks ``STATUS`` (nothing is
uploaded twice). A GIF X failed to process, or has not processed :data:`PROCESSING_LIMIT`
after its upload, is dropped with a warning and the text goes out alone, like any image that
cannot be attached (:mod:`dissem.platforms.media`).

Alt text (up to 1000 characters) is set with ``POST /2/media/metadata`` once the media is
ready; X refusing it leaves the image attached without it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from dissem.compose.types import Media
from dissem.errors import ContentRejected, ImageUnavailable, TransientError
from dissem.platforms.base import PublishContext
from dissem.platforms.media import (
    ImageData,
    fit_alt,
    load_release_image,
    skip_image,
)
from dissem.traits import traits_for

if TYPE_CHECKING:
    from dissem.platforms.x import XPlatform

__all__ = [
    "ALT_LIMIT",
    "GIF_MAX_BYTES",
    "GIF_STATE_KEY",
    "IMAGE_MAX_BYTES",
    "PROCESSING_LIMIT",
    "SEGMENT_BYTES",
    "WAIT_LIMIT",
    "attach",
]

log = logging.getLogger(__name__)

#: X's caps on a still image and an animated GIF (https://docs.x.com/x-api/media)
IMAGE_MAX_BYTES = traits_for("x").image_max_bytes
GIF_MAX_BYTES = 15 * 1024 * 1024
ALT_LIMIT = 1000
#: bytes per APPEND: under X's 5 MB a segment, as X's own sample sends 4 MB
SEGMENT_BYTES = 4 * 1024 * 1024
#: seconds one publish may wait for X to process a GIF, in all
WAIT_LIMIT = 10.0
#: a GIF X has not processed this long after its upload is not waited for any longer
PROCESSING_LIMIT = timedelta(minutes=15)
#: the publish-state key of a GIF uploaded but not processed yet: JSON {id, at, src}
GIF_STATE_KEY = "x_gif"
_GIF_SIGNATURES = (b"GIF87a", b"GIF89a")


def attach(x: XPlatform, media: Media, ctx: PublishContext) -> str | None:
    """The media id of the release image ``media``, uploaded, processed and with its alt
    text; None (and a warning) when it cannot be used, so the text goes out alone.

    Raises :class:`TransientError` while a GIF is still processing (see the module doc), and
    whatever would sink the post anyway (throttling, credentials, an outage).
    """
    try:
        media_id = _resume(x, media, ctx) or _upload(x, media, ctx)
    except (ImageUnavailable, ContentRejected) as exc:
        skip_image(x.name, media, exc)
        return None
    if media.alt:
        metadata = {"alt_text": {"text": fit_alt(media.alt, ALT_LIMIT)}}
        try:
            x.api_request("POST", "/2/media/metadata", json={"id": media_id, "metadata": metadata})
        except ContentRejected as exc:  # the image is still worth showing
            log.warning("x: image attached without its alt text: %s", exc)
    return media_id


def _upload(x: XPlatform, media: Media, ctx: PublishContext) -> str:
    image = load_release_image(x, media, max_bytes=GIF_MAX_BYTES)
    if image.mime == "image/gif" or image.data.startswith(_GIF_SIGNATURES):
        return _upload_gif(x, media, image, ctx)
    if image.size > IMAGE_MAX_BYTES:
        raise ImageUnavailable(
            media.src, f"it is {image.size:,} bytes, above the limit of {IMAGE_MAX_BYTES:,} bytes"
        )
    response = x.api_request(
        "POST",
        "/2/media/upload",
        files={"media": (image.filename, image.data, image.mime)},
        data={"media_category": "tweet_image"},
    )
    return _media_id(_data(x, response))


def _upload_gif(x: XPlatform, media: Media, image: ImageData, ctx: PublishContext) -> str:
    init = x.api_request(
        "POST",
        "/2/media/upload/initialize",
        json={"media_type": "image/gif", "total_bytes": image.size, "media_category": "tweet_gif"},
    )
    media_id = _media_id(_data(x, init))
    for index, start in enumerate(range(0, image.size, SEGMENT_BYTES)):
        x.api_request(
            "POST",
            f"/2/media/upload/{media_id}/append",
            data={"segment_index": str(index)},
            files={
                "media": (
                    image.filename,
                    image.data[start : start + SEGMENT_BYTES],
                    "application/octet-stream",
                )
            },
        )
    final = _data(x, x.api_request("POST", f"/2/media/upload/{media_id}/finalize"))
    uploaded = x.now()
    processing = _processing(final)
    if processing is not None and processing.get("state") != "succeeded":
        saved = {"id": media_id, "at": uploaded.isoformat(), "src": media.src}
        ctx.remember(GIF_STATE_KEY, json.dumps(saved))
    return _until_processed(x, media, media_id, uploaded, processing)


def _resume(x: XPlatform, media: Media, ctx: PublishContext) -> str | None:
    """The GIF an earlier try of this post uploaded, once processed; None when there is
    none (or X no longer knows it), so it is uploaded now."""
    try:
        saved = json.loads(ctx.state.get(GIF_STATE_KEY) or "null")
        media_id, uploaded = str(saved["id"]), datetime.fromisoformat(saved["at"])
        same = saved["src"] == media.src
    except (TypeError, ValueError, KeyError):
        return None
    if not same:
        return None
    try:
        status = _data(x, _status(x, media_id))
    except ContentRejected:  # expired or unknown: start again
        return None
    return _until_processed(x, media, media_id, uploaded, _processing(status))


def _until_processed(
    x: XPlatform,
    media: Media,
    media_id: str,
    uploaded: datetime,
    processing: Mapping[str, Any] | None,
) -> str:
    """``media_id`` once X has processed it, asking STATUS as X says (bounded; see the
    module doc)."""
    waited = 0.0
    while processing is not None:
        state = str(processing.get("state") or "")
        if state == "succeeded":
            break
        if state == "failed":
            raise ImageUnavailable(media.src, f"X could not process the GIF ({_why(processing)})")
        wait = _check_after(processing)
        if waited + wait > WAIT_LIMIT:
            if x.now() - uploaded >= PROCESSING_LIMIT:
                minutes = int(PROCESSING_LIMIT.total_seconds() // 60)
                raise ImageUnavailable(
                    media.src, f"X has not finished processing the GIF in {minutes} minutes"
                )
            raise TransientError(
                f"x: the GIF (media {media_id}) is still being processed by X; the post is "
                "tried again later and attaches it once it is ready",
                platform=x.name,
            )
        x.pause(wait)
        waited += wait
        processing = _processing(_data(x, _status(x, media_id)))
    return media_id


def _status(x: XPlatform, media_id: str) -> requests.Response:
    return x.api_request(
        "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
    )


def _data(x: XPlatform, response: requests.Response) -> Mapping[str, Any]:
    """The ``data`` object of an upload answer; a broken answer is a TransientError (nothing
    was posted; the next try uploads again)."""
    try:
        data = response.json()["data"]
    except (ValueError, KeyError, TypeError):
        data = None
    if not isinstance(data, Mapping):
        raise TransientError("x: media upload answered without its data", platform=x.name)
    return data


def _media_id(data: Mapping[str, Any]) -> str:
    media_id = data.get("id")
    if not media_id or not str(media_id).isdigit():
        raise TransientError("x: media upload answered without a media id", platform="x")
    return str(media_id)


def _processing(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    info = data.get("processing_info")
    return info if isinstance(info, Mapping) else None


def _check_after(processing: Mapping[str, Any]) -> float:
    """X's ``check_after_secs``, at least one second (a zero must not spin)."""
    try:
        return max(1.0, float(processing.get("check_after_secs", 1)))
    except (TypeError, ValueError):
        return 1.0


def _why(processing: Mapping[str, Any]) -> str:
    error = processing.get("error")
    if isinstance(error, Mapping):
        return ": ".join(str(error[k]) for k in ("name", "message") if error.get(k)) or "failed"
    return "failed"
