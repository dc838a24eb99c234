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

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (stored in ``posts.payload``); :meth:`from_json` reverses it."""
        return {
            "index": self.index,
            "total": self.total,
            "text": self.text,
            "length": self.length,
            "limit": self.limit,
            "link": self.link,
            "media": [{"src": m.src, "alt": m.alt} for m in self.media],
            "facets": list(self.facets),
            "embed": self.embed,
            "options": dict(self.options),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(
            index=int(data["index"]),
            total=int(data["total"]),
            text=str(data["text"]),
            length=int(data["length"]),
            limit=int(data["limit"]),
            link=data.get("link"),
            media=tuple(Media(src=m["src"], alt=m.get("alt", "")) for m in data.get("media", [])),
            facets=tuple(data.get("facets", [])),
            embed=data.get("embed"),
            options=dict(data.get("options", {})),
        )


class Composition(list[Part]):
    """The parts for one channel; empty with ``skipped`` set when the channel cannot take
    this release (e.g. "skipped: Instagram needs an image")."""

    def __init__(self, parts: list[Part] | None = None, *, skipped: str | None = None) -> None:
        super().__init__(parts or [])
        self.skipped = skipped
