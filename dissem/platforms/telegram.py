"""Telegram Bot API adapter for channels.

Credentials: ``bot_token`` (the bot must be an administrator of the channel). The channel's
``account`` is the chat: ``@channelname`` or a numeric id (``-100...``). Text goes out with
``sendMessage`` (HTML parse mode unless the part says otherwise), or ``sendPhoto`` with the
text as caption when the part has an image. Telegram has no idempotency and a bot cannot
read a channel's history, so an unknown outcome cannot be checked
(:meth:`TelegramPlatform.lookup` raises :class:`LookupUnsupported`) and there are no metrics.

Photos: ``sendPhoto``'s ``photo`` is a ``file_id``, an HTTP URL Telegram downloads (at most
5 MB), or the file itself as ``multipart/form-data`` (at most 10 MB)
(https://core.telegram.org/bots/api#sending-files, #sendphoto); any other string is read as a
file_id and refused ("wrong remote file identifier specified"). So an image URL goes as the
URL, and an image from the config folder is uploaded: a multipart body whose ``photo`` part
is the file and whose other fields are strings, objects JSON-encoded (as python-telegram-bot
sends them: ``telegram/request/_requestparameter.py``). An image that cannot be loaded, or
that Telegram refuses as a photo, is left out and the text goes as a message (see
:mod:`dissem.platforms.media`).

The bot token is part of every URL: it is registered as a secret (see :mod:`dissem.redact`)
and the shared HTTP helper never chains requests' exceptions, whose texts hold the URL.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import requests

from dissem.compose.types import Media, Part
from dissem.errors import (
    AuthError,
    ContentRejected,
    ImageUnavailable,
    LookupUnsupported,
    PlatformError,
)
from dissem.platforms.base import (
    MetricSample,
    Platform,
    PublishContext,
    RemotePost,
)
from dissem.platforms.http import call, short_body
from dissem.platforms.media import (
    ImageData,
    load_release_image,
    skip_image,
)
from dissem.traits import traits_for

#: Telegram's cap on a photo uploaded with multipart/form-data
PHOTO_MAX_BYTES = traits_for("telegram").image_max_bytes
#: words in a 400's description that put the blame on the photo, not the text: Telegram's
#: "wrong file identifier/HTTP URL specified", "wrong remote file identifier specified: ...",
#: "failed to get HTTP URL content", "wrong type of the web page content",
#: "IMAGE_PROCESS_FAILED", "PHOTO_INVALID_DIMENSIONS", "PHOTO_SAVE_FILE_INVALID"
_PHOTO_REFUSALS = (
    "file identifier",
    "http url",
    "web page content",
    "image_process_failed",
    "photo_",
)


def _classify(response: requests.Response) -> PlatformError | None:
    if response.status_code == 404:  # Telegram answers 404 to a malformed or revoked token
        return AuthError(
            f"telegram: HTTP 404: {short_body(response)} (check the bot token)",
            platform="telegram",
            status=404,
        )
    return None


def _refuses_photo(error: ContentRejected) -> bool:
    """Whether a refused ``sendPhoto`` blames the photo (then the text can go alone)."""
    return error.status == 400 and any(word in str(error).lower() for word in _PHOTO_REFUSALS)


class TelegramPlatform(Platform):
    """Posts to a Telegram channel as its bot; threads are replies to the previous message."""

    name = "telegram"
    default_api_base = "https://api.telegram.org"

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """``sendMessage`` (or ``sendPhoto`` with a caption); returns the message id."""
        body: dict[str, Any] = {
            "chat_id": self.channel.account,
            "parse_mode": part.options.get("parse_mode", "HTML"),
        }
        if reply_to is not None:
            body["reply_parameters"] = {"message_id": int(reply_to.remote_id)}
        if part.media:
            media = part.media[0]
            try:
                photo = self._photo(media)
                return self._send("sendPhoto", {**body, "caption": part.text}, photo=photo)
            except ImageUnavailable as exc:
                skip_image(self.name, media, exc)
            except ContentRejected as exc:
                if not _refuses_photo(exc):
                    raise
                skip_image(self.name, media, exc)  # a 400: nothing was sent
        body["text"] = part.text
        body["link_preview_options"] = (
            {"url": part.link, "prefer_large_media": True} if part.link else {}
        )
        return self._send("sendMessage", body)

    def _photo(self, media: Media) -> str | ImageData:
        """An image URL as is; a file of the config folder loaded for upload (raises
        :class:`ImageUnavailable` when it cannot be)."""
        if media.src.startswith(("https://", "http://")):
            return media.src
        return load_release_image(self, media, max_bytes=PHOTO_MAX_BYTES)

    def _send(
        self, method: str, body: dict[str, Any], *, photo: str | ImageData | None = None
    ) -> RemotePost:
        """One Bot API call: JSON, or multipart/form-data when ``photo`` is a file."""
        payload: dict[str, Any]
        if isinstance(photo, ImageData):
            fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
            payload = {"data": fields, "files": {"photo": (photo.filename, photo.data, photo.mime)}}
        else:
            payload = {"json": body if photo is None else {**body, "photo": photo}}
        response = call(
            self.session,
            "POST",
            f"{self.api_base}/bot{self.credentials['bot_token']}/{method}",
            platform=self.name,
            timeout=self.timeout,
            creates=True,
            classify=_classify,
            now=self.now(),  # retry_after counts from the adapter's clock
            **payload,
        )
        message_id = str(response.json()["result"]["message_id"])
        return RemotePost(remote_id=message_id, url=self.message_url(message_id))

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """Always raises :class:`LookupUnsupported`: a bot cannot read a channel back."""
        raise LookupUnsupported(
            "telegram: a bot cannot read the channel's history; a person must check whether "
            "the message went out"
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """The Bot API reports no engagement: always empty."""
        return {}

    def message_url(self, message_id: str) -> str | None:
        """``https://t.me/<name>/<id>`` for public channels, ``t.me/c/...`` for ids."""
        chat = self.channel.account
        if chat.startswith("@"):
            return f"https://t.me/{chat[1:]}/{message_id}"
        if chat.startswith("-100"):
            return f"https://t.me/c/{chat[4:]}/{message_id}"
        return None
