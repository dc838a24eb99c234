"""Loading a release's image for adapters that upload the bytes themselves (X, Mastodon,
Bluesky, LinkedIn, Facebook for a local file).

:func:`load_image` reads ``Media.src``: an ``http(s)`` URL (GET with the adapter's timeout,
a size cap, and a ``Content-Type`` that must be ``image/*``) or a path relative to the config
folder (it may not leave the folder; the type comes from the file extension). Any failure is
:class:`ImageUnavailable`, whose message says what went wrong and never holds a secret.

An image URL is fetched through :func:`dissem.platforms.safe_fetch.fetch`: never from a
loopback, private, link-local or cloud metadata address, on any redirect hop, with the
connection made to the address that was checked, within a size cap and a total time
(:data:`TOTAL_TIMEOUTS` times the adapter's timeout); in sandbox mode
(``DISSEM_SANDBOX_URL``) from this machine only.

What publishing does when the image cannot be attached
------------------------------------------------------
An image is an enhancement: the text and the link to the article must still go out. So an
adapter that cannot load the image, or whose platform refuses the upload as content
(unsupported format, too large), publishes the text without it and logs one warning naming
the image (:func:`skip_image`). Failures that would sink the post anyway (expired
credentials, throttling, a platform outage) are raised as usual, so the scheduler retries or
pauses the channel. Instagram is the exception: it has no text-only posts, and its adapter
refuses a part without a public image URL (the composer skips such channels up front).

What an image is
----------------
:func:`sniff_image_type` names a format by the file's first bytes (its magic number), never by
a name or a declared type: a ``.png`` that holds a JPEG is a JPEG. :func:`peek_image_type`
reads just those bytes of an image URL (Instagram, which downloads images itself but takes
JPEG only, asks before making a container).
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from dissem.compose.shorten import truncate_graphemes
from dissem.compose.types import Media
from dissem.errors import FetchFailed, ImageUnavailable
from dissem.imagetype import SNIFF_BYTES, sniff_image_type
from dissem.platforms.safe_fetch import Destinations, fetch
from dissem.redact import redact

if TYPE_CHECKING:
    from dissem.platforms.base import Platform

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SNIFF_BYTES",
    "TOTAL_TIMEOUTS",
    "ImageData",
    "fit_alt",
    "is_local_url",
    "load_image",
    "load_release_image",
    "peek_image_type",
    "skip_image",
    "sniff_image_type",
]

log = logging.getLogger(__name__)

#: the cap when an adapter states none: X's limit for a post image, and below most others
DEFAULT_MAX_BYTES = 5_000_000
#: one image fetch (redirects and reading included) takes at most this many timeouts
TOTAL_TIMEOUTS = 3
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ImageData:
    """An image's bytes, its MIME type (``image/...``) and a file name for uploads."""

    data: bytes
    mime: str
    filename: str

    @property
    def size(self) -> int:
        return len(self.data)


def load_image(
    src: str,
    *,
    config_dir: Path,
    timeout: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    destinations: Destinations | None = None,
) -> ImageData:
    """The image at ``src``: an ``http(s)://`` URL, or a path relative to ``config_dir``.

    Raises :class:`ImageUnavailable` when the URL names (or redirects to) an address outside
    ``destinations`` (default: public addresses only; see
    :mod:`dissem.platforms.safe_fetch`), cannot be fetched within
    :data:`TOTAL_TIMEOUTS` x ``timeout`` or does not answer 2xx with an ``image/*`` content
    type, when the file is missing, outside ``config_dir`` (an absolute path, ``..``, or a
    link pointing out) or not an image by its extension, and when the image is larger than
    ``max_bytes`` (checked while reading, so a huge answer is never held in memory).
    """
    if src.startswith(("https://", "http://")):
        return _fetch(
            src, timeout=timeout, max_bytes=max_bytes, destinations=destinations or Destinations()
        )
    if "://" in src:
        raise ImageUnavailable(src, "only http(s) URLs and paths in the config folder are read")
    return _read(src, config_dir=config_dir, max_bytes=max_bytes)


def load_release_image(adapter: Platform, media: Media, *, max_bytes: int) -> ImageData:
    """:func:`load_image` of ``media.src`` with the adapter's config folder, session and
    timeout; raises :class:`ImageUnavailable` likewise.

    With ``DISSEM_SANDBOX_URL`` set, an image URL off this machine is replaced by the
    sandbox's sample image, and no fetch (redirects included) may leave the machine: a demo
    or training run never reaches a real service, images included.
    """
    src = media.src
    sandbox = adapter.settings.sandbox_url
    if sandbox and src.startswith(("https://", "http://")) and not is_local_url(src):
        src = f"{sandbox.rstrip('/')}/_sandbox/static/sample.png"
    return load_image(
        src,
        config_dir=adapter.settings.config_dir,
        timeout=adapter.timeout,
        max_bytes=max_bytes,
        destinations=Destinations(local_only=bool(sandbox)),
    )


def is_local_url(url: str) -> bool:
    """Whether ``url`` names this machine (localhost, 127.x, ::1): the sandbox's host."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def peek_image_type(
    url: str, *, timeout: float, destinations: Destinations | None = None
) -> str | None:
    """The type (:func:`sniff_image_type`) of the image at the http(s) ``url``, from its
    first bytes only; None when it cannot be told: unreachable, refused (an address outside
    ``destinations``, as for :func:`load_image`), not 2xx, or no known format.

    The answer is evidence, not a verdict: None must not be read as "bad" (the platform may
    reach a URL this machine cannot).
    """
    head = b""
    try:
        # A Range request spares the server the rest; one that ignores it answers 200 with
        # the whole file, of which only the first chunk is read before closing.
        with fetch(
            url,
            timeout=timeout,
            total=TOTAL_TIMEOUTS * timeout,
            destinations=destinations or Destinations(),
            headers={"Accept": "image/*", "Range": f"bytes=0-{SNIFF_BYTES - 1}"},
        ) as answer:
            if not 200 <= answer.status < 300:
                return None
            for chunk in answer.chunks(SNIFF_BYTES):
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    break
    except FetchFailed:
        return None
    return sniff_image_type(head)


def fit_alt(alt: str, limit: int) -> str:
    """``alt`` cut to the platform's ``limit`` (grapheme clusters, ending with an ellipsis
    when cut): a long description should shorten, not cost the post its image."""
    return truncate_graphemes(alt.strip(), limit)


def skip_image(platform: str, media: Media, reason: str | Exception) -> None:
    """Logs that ``platform`` publishes without the release image ``media`` and why."""
    why = reason.reason if isinstance(reason, ImageUnavailable) else str(reason)
    log.warning(
        "%s: release image %s not attached (%s); publishing the text without it",
        platform,
        redact(repr(media.src)),
        redact(why),
        extra={"platform": platform},
    )


def _fetch(url: str, *, timeout: float, max_bytes: int, destinations: Destinations) -> ImageData:
    problem: str | None = None
    try:
        with fetch(
            url,
            timeout=timeout,
            total=TOTAL_TIMEOUTS * timeout,
            destinations=destinations,
            headers={"Accept": "image/*"},
        ) as answer:
            if not 200 <= answer.status < 300:
                problem = f"the server answered HTTP {answer.status}"
            else:
                mime = _mime_of(answer.headers.get("Content-Type", ""))
                if not mime.startswith("image/"):
                    problem = f"content type {mime or 'missing'!r} is not an image"
                else:
                    declared = answer.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        problem = f"it is {_too_large(int(declared), max_bytes)}"
                    else:
                        data, problem = _read_capped(answer.chunks(_CHUNK), max_bytes)
                        if problem is None:
                            return ImageData(data, mime, _filename(url, mime))
    except FetchFailed as exc:  # its text names the host at most, never the URL
        problem = str(exc) if str(exc).startswith("refused") else f"cannot fetch it: {exc}"
    raise ImageUnavailable(url, str(problem))


def _read_capped(chunks: Iterator[bytes], max_bytes: int) -> tuple[bytes, str | None]:
    got: list[bytes] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            return b"", f"it is {_too_large(None, max_bytes)}"
        got.append(chunk)
    if not total:
        return b"", "the answer is empty"
    return b"".join(got), None


def _read(src: str, *, config_dir: Path, max_bytes: int) -> ImageData:
    root = config_dir.resolve()
    target = (root / src).resolve()  # resolves "..", and links, before the check below
    if PurePosixPath(src).is_absolute() or not target.is_relative_to(root):
        raise ImageUnavailable(src, "it lies outside the config folder")
    if not target.is_file():
        raise ImageUnavailable(src, "no such file in the config folder")
    mime = mimetypes.guess_type(target.name)[0] or ""
    if not mime.startswith("image/"):
        raise ImageUnavailable(src, "the file is not an image by its extension")
    size = target.stat().st_size
    if size > max_bytes:
        raise ImageUnavailable(src, f"the file is {_too_large(size, max_bytes)}")
    if not size:
        raise ImageUnavailable(src, "the file is empty")
    return ImageData(target.read_bytes(), mime, target.name)


def _mime_of(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _filename(url: str, mime: str) -> str:
    """The URL's last path segment, or ``image`` plus the type's usual extension."""
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    if name and "." in name:
        return name
    return "image" + (mimetypes.guess_extension(mime) or "")


def _too_large(size: int | None, max_bytes: int) -> str:
    """``size`` is None when the answer was cut off at the limit without a declared size."""
    if size is None:
        return f"larger than the limit of {max_bytes:,} bytes"
    return f"{size:,} bytes, above the limit of {max_bytes:,} bytes"
