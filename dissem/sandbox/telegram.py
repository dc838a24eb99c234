"""Telegram Bot API stand-in: ``/telegram/bot<token>/sendMessage`` and ``sendPhoto``.

Any token of Telegram's shape (``<bot id>:<secret>``) is a bot; another token answers 404
"Not Found", as Telegram does for a malformed one. Bodies are JSON, urlencoded or
``multipart/form-data`` (objects such as ``reply_parameters`` then come JSON-encoded). HTML
``parse_mode`` is parsed like Telegram does (only its tags; an unknown or unbalanced tag is a
400 "can't parse entities"); length is counted after parsing (4096 for text, 1024 for a
caption). Throttles answer 429 with ``parameters.retry_after`` in the JSON body; there is no
way to read a channel back.

``sendPhoto``'s ``photo`` is, as in https://core.telegram.org/bots/api#sending-files:

- an uploaded file (the multipart part ``photo``, or ``attach://<part>``): an image of at
  most 10 MB (larger: 400 "PHOTO_SAVE_FILE_INVALID"; not an image: 400
  "IMAGE_PROCESS_FAILED");
- an http(s) URL (Telegram downloads it; the stand-in cannot, and takes it as is);
- a ``file_id`` this stand-in issued (each sent photo gets one, in ``result.photo``).

Any other string is decoded as a file_id the way TDLib does (URL-safe base64,
``td/utils/base64.cpp`` of https://github.com/tdlib/td) and refused with Telegram's words:
400 "Bad Request: wrong remote file identifier specified: Wrong character in the string" (a
path such as ``images/cover.png``), "...: Wrong string length", "...: Wrong padding in the
string", or "...: can't unserialize it" for one that decodes to nothing Telegram issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, Literal

from dissem.compose import counting
from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response, route
from dissem.sandbox.state import PostRecord
from dissem.sandbox.uploads import image_entry, image_size, multipart_fields, sniff_image

RETRY_AFTER = 7
#: the most bytes of a photo sent as a file (https://core.telegram.org/bots/api#sendphoto)
PHOTO_LIMIT = 10 * 1024 * 1024
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
#: fields whose value is an object (sent JSON-encoded in multipart and urlencoded bodies)
_OBJECT_FIELDS = frozenset({"reply_parameters", "link_preview_options", "reply_markup"})
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


def file_id_problem(value: str) -> str:
    """Why TDLib cannot read ``value`` as a file_id: its base64url decoder's words
    (``Wrong string length``, ``Wrong character in the string``, ``Wrong padding in the
    string``), else "can't unserialize it" (it decodes, but to no file)."""
    if len(value) % 4 == 1:
        return "Wrong string length"
    if not _BASE64URL.fullmatch(value):
        return "Wrong character in the string"
    try:
        base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return "Wrong padding in the string"
    # TDLib also refuses non-zero bits left over after the last full byte
    tail = {2: 0b1111, 3: 0b11}.get(len(value) % 4)
    if tail is not None and _b64_value(value[-1]) & tail:
        return "Wrong padding in the string"
    return "can't unserialize it"


def _b64_value(char: str) -> int:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet.index(char)


def _form_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Multipart or urlencoded fields as the Bot API reads them: the object-valued ones
    (JSON-encoded in such bodies) decoded."""
    out = dict(fields)
    for name in _OBJECT_FIELDS & set(out):
        try:
            out[name] = json.loads(str(out[name]))
        except ValueError:
            raise Reject(_bad_request(f"can't parse {name} JSON object")) from None
    return out


def _bad_request(description: str) -> Response:
    body = {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}
    return json_response(body, 400)


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
        if not _TOKEN.fullmatch(token):
            raise Reject(self.error(404, "Not Found"))
        return token

    def _form(self, req: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The call's fields (JSON, urlencoded or multipart) and its uploaded files."""
        parts = multipart_fields(req)
        if parts is None:
            content_type = (req.header("Content-Type") or "").split(";")[0].strip().lower()
            urlencoded = content_type == "application/x-www-form-urlencoded"
            return (_form_fields(req.form()) if urlencoded else req.form()), {}
        fields = {n: f.text for n, f in parts.items() if f.filename is None}
        files = {n: f.data for n, f in parts.items() if f.filename is not None}
        return _form_fields(fields), files

    @route("POST", r"/bot(?P<token>[^/]*)/sendMessage", write=True)
    def send_message(self, req: Request) -> Response:
        self._bot(req)
        form, _ = self._form(req)
        return self._send(req, form, str(form.get("text") or ""), caption=False)

    @route("POST", r"/bot(?P<token>[^/]*)/sendPhoto", write=True)
    def send_photo(self, req: Request) -> Response:
        self._bot(req)
        form, files = self._form(req)
        photo = self._photo(form.get("photo"), files)
        return self._send(req, form, str(form.get("caption") or ""), caption=True, photo=photo)

    def _photo(self, value: Any, files: dict[str, bytes]) -> dict[str, Any]:
        """The photo a sendPhoto names (see the module doc) as ``{"ref", "mime", "size",
        "width", "height"}``; :class:`Reject` with Telegram's 400 otherwise."""
        if isinstance(value, str) and value.startswith("attach://"):
            data = files.get(value.removeprefix("attach://"))
        elif value is None or value == "":
            data = files.get("photo")
        else:
            data = None
        if data is not None:
            return self._upload(data)
        if not isinstance(value, str) or not value:
            raise Reject(self.error(400, "there is no photo in the request"))
        if value.startswith(("http://", "https://")):
            return {"ref": value, "mime": "", "size": 0, "width": 1280, "height": 720}
        with self.env.state.lock:
            known = self.env.state.bucket(self.name).get("photos", {}).get(value)
        if known is None:
            reason = file_id_problem(value)
            raise Reject(self.error(400, f"wrong remote file identifier specified: {reason}"))
        return dict(known)

    def _upload(self, data: bytes) -> dict[str, Any]:
        """Takes an uploaded photo: checks it and issues its file_id."""
        if len(data) > PHOTO_LIMIT:
            raise Reject(self.error(400, "PHOTO_SAVE_FILE_INVALID"))
        mime = sniff_image(data)
        if mime is None:
            raise Reject(self.error(400, "IMAGE_PROCESS_FAILED"))
        width, height = image_size(data) or (1280, 720)
        digest = hashlib.sha256(data).digest()
        file_id = "AgACAgQAAxk" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
        photo = {"ref": file_id, "mime": mime, "size": len(data), "width": width, "height": height}
        with self.env.state.lock:
            self.env.state.bucket(self.name).setdefault("photos", {})[file_id] = photo
            self.env.state.changed()
        return dict(photo)

    @route("GET", r"/bot(?P<token>[^/]*)/getMe")
    def get_me(self, req: Request) -> Response:
        self._bot(req)
        bot = {"id": 1, "is_bot": True, "first_name": "dissem", "username": "dissem_bot"}
        return json_response({"ok": True, "result": bot})

    def _send(
        self,
        req: Request,
        form: dict[str, Any],
        text: str,
        *,
        caption: bool,
        photo: dict[str, Any] | None = None,
    ) -> Response:
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
                    media=[photo["ref"]] if photo else [],
                    images=[image_entry(photo["ref"], "", photo["mime"], photo["size"])]
                    if photo and photo["size"]
                    else [],
                )
            )
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(req.now.timestamp()),
            "chat": {"id": chat, "type": "channel"},
            ("caption" if caption else "text"): plain,
        }
        if photo:
            message["photo"] = [self._photo_size(photo)]
        return json_response({"ok": True, "result": message})

    def _photo_size(self, photo: dict[str, Any]) -> dict[str, Any]:
        """A PhotoSize of a sent photo; a URL photo gets a file_id too (as Telegram gives
        one for every photo it stores), which later calls may reuse."""
        ref = str(photo["ref"])
        if ref.startswith(("http://", "https://")):
            digest = hashlib.sha256(ref.encode()).digest()
            file_id = "AgACAgQAAxk" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
            with self.env.state.lock:
                photos = self.env.state.bucket(self.name).setdefault("photos", {})
                photos.setdefault(file_id, {**photo, "ref": file_id})
                self.env.state.changed()
        else:
            file_id = ref
        return {
            "file_id": file_id,
            "file_unique_id": file_id[-16:],
            "width": photo["width"],
            "height": photo["height"],
            **({"file_size": photo["size"]} if photo["size"] else {}),
        }


STAND_INS = (TelegramStandIn,)
