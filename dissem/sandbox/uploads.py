"""What the stand-ins that accept image uploads share: reading ``multipart/form-data``
bodies, recognising image bytes, describing an attached image on a stored post, and the
small PNG the sandbox serves at ``/_sandbox/static/sample.png`` (made here in code, so the
repository holds no binary file).

An attached image is recorded on :attr:`PostRecord.images
<dissem.sandbox.state.PostRecord.images>` as ``{"ref", "alt", "mime", "size", "kind"}``:
``ref`` is the platform's own handle (media id, blob CID, image URN or photo URL), ``kind``
is ``"image"`` for an attachment and ``"thumbnail"`` for a link card's picture.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import lru_cache
from typing import Any

from dissem.sandbox.core import Request

__all__ = [
    "FormPart",
    "image_entry",
    "image_size",
    "multipart_fields",
    "png",
    "sample_png",
    "sniff_image",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class FormPart:
    """One field of a multipart body; ``filename`` and ``content_type`` are set for files."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def multipart_fields(req: Request) -> dict[str, FormPart] | None:
    """The fields of a ``multipart/form-data`` body by name (the first of a repeated name),
    or None when the body is not multipart or cannot be parsed."""
    content_type = req.header("Content-Type") or ""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in (
        content_type.lower()
    ):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + req.body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return None
    fields: dict[str, FormPart] = {}
    for part in message.iter_parts():
        if not isinstance(part, EmailMessage):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        fields[name] = FormPart(
            name=name,
            data=data,
            filename=filename,
            content_type=part.get_content_type() if filename else None,
        )
    return fields


def sniff_image(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP bytes by their signature; None otherwise."""
    if data.startswith(_PNG_SIGNATURE):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG from its header; None for other formats."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def image_entry(ref: str, alt: str, mime: str, size: int, *, kind: str = "image") -> dict[str, Any]:
    """How a stored post describes one attached image (see the module doc)."""
    return {"ref": ref, "alt": alt, "mime": mime, "size": size, "kind": kind}


def png(width: int, height: int, rgb: tuple[int, int, int] = (31, 111, 181)) -> bytes:
    """A valid PNG of one colour (8-bit RGB, no interlace)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width  # filter byte "none", then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=1)
def sample_png() -> bytes:
    """The image served at ``/_sandbox/static/sample.png``: 64 x 36 pixels, under 1 KB."""
    return png(64, 36)
