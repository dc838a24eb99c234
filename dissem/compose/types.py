"""Values the composer produces and the adapters consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Media:
    """An image to attach: a public URL (or a path under config/) and its alt text."""

    src: str
    alt: str = ""


@dataclass(frozen=True)
class Part:
    """One post as it will be sent: ``text`` is exactly what goes to the platform.

    ``index`` is 1-based; a single post has ``index == total == 1``. ``facets`` and
    ``embed`` are Bluesky's (UTF-8 byte offsets); ``options`` holds platform fields such as
    ``language``, ``spoiler_text`` (Mastodon), ``parse_mode`` (Telegram), ``article``
    (LinkedIn: source, title, description) or ``link_attachment`` (Threads, Facebook).
    """

    index: int
    total: int
    text: str
    length: int
    limit: int
    link: str | None = None
    media: tuple[Media, ...] = ()
    facets: tuple[dict[str, Any], ...] = ()
    embed: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Composition(list[Part]):
    """The parts for one channel; empty with ``skipped`` set when the channel cannot take
    this release (e.g. "skipped: Instagram needs an image")."""

    def __init__(self, parts: list[Part] | None = None, *, skipped: str | None = None) -> None:
        super().__init__(parts or [])
        self.skipped = skipped
