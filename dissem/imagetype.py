"""What an image is, by its first bytes (its magic number), never by a name or a declared
type: a ``.png`` that holds a JPEG is a JPEG.

Standard library only: the config checks (a release's local image) and the platform
adapters (an image about to be uploaded) both ask.
"""

from __future__ import annotations

__all__ = ["SNIFF_BYTES", "sniff_image_type"]

#: bytes :func:`sniff_image_type` needs to tell the formats apart (the ISO-BMFF brand of
#: HEIC/AVIF ends at byte 12)
SNIFF_BYTES = 32
#: ISO-BMFF ``ftyp`` brands of HEIF/HEIC and AVIF still images (ISO/IEC 23008-12, AV1 Image
#: File Format): what phones save photos as
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff_image_type(head: bytes) -> str | None:
    """The MIME type of an image by its first bytes (JPEG, PNG, GIF, WebP, HEIC, AVIF);
    None when they are none of these."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        if head[8:12] in _HEIF_BRANDS:
            return "image/heic"
        if head[8:12] in _AVIF_BRANDS:
            return "image/avif"
    return None
