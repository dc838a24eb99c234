"""Telegram Bot API stand-in: ``/telegram/bot<token>/sendMessage`` and ``sendPhoto``.

Any non-empty token is a bot. HTML ``parse_mode`` is parsed like Telegram does (only its
tags; an unknown or unbalanced tag is a 400 "can't parse entities"); length is counted
after parsing (4096 for text, 1024 for a caption). Throttles answer 429 with
``parameters.retry_after`` in the JSON body; there is no way to read a channel back.
"""

from __future__ import annotations

from datetime import datetime
from html.parser import HTMLParser
from typing import Any, Literal

from dissem.compose import counting
from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response, route
from dissem.sandbox.state import PostRecord

RETRY_AFTER = 7
_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip


class _EntityParser(HTMLParser):
    """Telegram's HTML subset: raises ValueError on an unknown or unbalanced tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            raise ValueError(f'Unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise ValueError(f'Unexpected end tag "{tag}"')
        self.open.pop()


def check_markup(text: str) -> None:
    """Raises ValueError with Telegram's reason when ``text`` is not valid HTML-mode markup."""
    parser = _EntityParser()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{parser.open[-1]}"')


class TelegramStandIn(StandIn):
    """Stands in for ``https://api.telegram.org`` under ``/telegram``."""

    name = "telegram"

    def error(self, status: int, message: str) -> Response:
        prefix = {400: "Bad Request: ", 403: "Forbidden: "}.get(status, "")
        body = {"ok": False, "error_code": status, "description": prefix + message}
        return json_response(body, status)

    def throttled(self, now: datetime) -> Response:
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {RETRY_AFTER}",
            "parameters": {"retry_after": RETRY_AFTER},
        }
        return json_response(body, 429)

    def server_error(self) -> Response:
        return self.error(502, "Bad Gateway")

    def _bot(self, req: Request) -> str:
        token = req.params.get("token", "")
        if not token.strip():
            raise Reject(self.error(401, "Unauthorized"))
        return token

    @route("POST", r"/bot(?P<token>[^/]*)/sendMessage", write=True)
    def send_message(self, req: Request) -> Response:
        self._bot(req)
        form = req.form()
        return self._send(req, form, str(form.get("text") or ""), caption=False)

    @route("POST", r"/bot(?P<token>[^/]*)/sendPhoto", write=True)
    def send_photo(self, req: Request) -> Response:
        self._bot(req)
        form = req.form()
        if not form.get("photo"):
            raise Reject(self.error(400, "there is no photo in the request"))
        return self._send(req, form, str(form.get("caption") or ""), caption=True)

    @route("GET", r"/bot(?P<token>[^/]*)/getMe")
    def get_me(self, req: Request) -> Response:
        self._bot(req)
        bot = {"id": 1, "is_bot": True, "first_name": "dissem", "username": "dissem_bot"}
        return json_response({"ok": True, "result": bot})

    def _send(self, req: Request, form: dict[str, Any], text: str, *, caption: bool) -> Response:
        chat = str(form.get("chat_id") or "")
        if not chat:
            raise Reject(self.error(400, "chat_id is empty"))
        if not text.strip() and not caption:
            raise Reject(self.error(400, "message text is empty"))
        html_mode = str(form.get("parse_mode") or "").upper() == "HTML"
        if html_mode:
            try:
                check_markup(text)
            except ValueError as exc:
                raise Reject(self.error(400, f"can't parse entities: {exc}")) from None
        plain = counting.telegram_visible_text(text) if html_mode else text
        kind: Literal["text", "caption"] = "caption" if caption else "text"
        # counted after parsing: the markup itself when in HTML mode, else the plain text
        if html_mode:
            fits = counting.fits(self.name, text, kind=kind)
        else:
            fits = counting.utf16_units(text) <= counting.limit(self.name, kind)
        if not fits:
            raise Reject(
                self.error(400, "message caption is too long" if caption else "message is too long")
            )
        reply = form.get("reply_parameters") or {}
        reply_to = str(reply.get("message_id")) if isinstance(reply, dict) and reply else None
        if reply_to and self.env.state.get_post(self.name, f"{chat}/{reply_to}") is None:
            raise Reject(self.error(400, "message to be replied not found"))
        with self.env.state.lock:
            message_id = self.env.serial(f"{self.name}:{chat}")
            self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=chat,
                    remote_id=f"{chat}/{message_id}",
                    text=plain,
                    created_at=req.now,
                    url=f"https://t.me/{chat.lstrip('@')}/{message_id}",
                    reply_to=f"{chat}/{reply_to}" if reply_to else None,
                    media=[str(form["photo"])] if caption else [],
                )
            )
        message = {
            "message_id": message_id,
            "date": int(req.now.timestamp()),
            "chat": {"id": chat, "type": "channel"},
            ("caption" if caption else "text"): plain,
        }
        return json_response({"ok": True, "result": message})


STAND_INS = (TelegramStandIn,)
