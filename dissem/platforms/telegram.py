"""Telegram Bot API adapter for channels.

Credentials: ``bot_token`` (the bot must be an administrator of the channel). The channel's
``account`` is the chat: ``@channelname`` or a numeric id (``-100...``). Text goes out with
``sendMessage`` (HTML parse mode unless the part says otherwise), or ``sendPhoto`` with the
text as caption when the part has an image. Telegram has no idempotency and a bot cannot
read a channel's history, so an unknown outcome cannot be checked
(:meth:`TelegramPlatform.lookup` raises :class:`LookupUnsupported`) and there are no metrics.

The bot token is part of every URL: it is registered as a secret (see :mod:`dissem.redact`)
and the shared HTTP helper never chains requests' exceptions, whose texts hold the URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import requests

from dissem.compose.types import Part
from dissem.errors import AuthError, PlatformError
from dissem.platforms.base import (
    Capabilities,
    LookupUnsupported,
    MetricSample,
    Platform,
    PublishContext,
    RemotePost,
)
from dissem.platforms.http import call, short_body


def _classify(response: requests.Response) -> PlatformError | None:
    if response.status_code == 404:  # Telegram answers 404 to a malformed or revoked token
        return AuthError(
            f"telegram: HTTP 404: {short_body(response)} (check the bot token)",
            platform="telegram",
            status=404,
        )
    return None


class TelegramPlatform(Platform):
    """Posts to a Telegram channel as its bot; threads are replies to the previous message."""

    name = "telegram"
    capabilities = Capabilities(
        threads=True,
        media_required=False,
        link_cards=True,
        native_idempotency=False,
        can_lookup=False,
        metrics=(),
        metrics_batch=0,
        text_limit=4096,
    )
    required_credentials: ClassVar[tuple[tuple[str, ...], ...]] = (("bot_token",),)
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
        if part.media:
            method = "sendPhoto"
            body["photo"] = part.media[0].src
            body["caption"] = part.text
        else:
            method = "sendMessage"
            body["text"] = part.text
            body["link_preview_options"] = (
                {"url": part.link, "prefer_large_media": True} if part.link else {}
            )
        if reply_to is not None:
            body["reply_parameters"] = {"message_id": int(reply_to.remote_id)}
        response = call(
            self.session,
            "POST",
            f"{self.api_base}/bot{self.credentials['bot_token']}/{method}",
            platform=self.name,
            timeout=self.timeout,
            creates=True,
            classify=_classify,
            json=body,
        )
        message_id = str(response.json()["result"]["message_id"])
        return RemotePost(remote_id=message_id, url=self.message_url(message_id))

    def lookup(self, part: Part, ctx: PublishContext, *, since: datetime) -> RemotePost | None:
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
