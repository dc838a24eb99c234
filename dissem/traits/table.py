"""The platform table of ``docs/platforms.md``, written from the declarations, so the docs
cannot drift from them (a test compares the two). Regenerate the table with::

    python -c "from dissem.traits.table import platform_table; print(platform_table())"
"""

from __future__ import annotations

from collections.abc import Iterable

from dissem.traits.base import Counting, Idempotency, ImageHandling, PlatformTraits
from dissem.traits.registry import BUILTIN

__all__ = ["TABLE_END", "TABLE_START", "platform_table"]

#: the markers around the generated table in docs/platforms.md
TABLE_START = "<!-- platform table: generated from dissem/traits, do not edit -->"
TABLE_END = "<!-- end of platform table -->"

_UNITS = {
    Counting.TWITTER_TEXT: "weighted (twitter-text)",
    Counting.MASTODON: "graphemes, links {url}",
    Counting.GRAPHEMES: "graphemes",
    Counting.CODE_POINTS_EMOJI_BYTES: "code points, emoji as UTF-8 bytes",
    Counting.UTF16_AFTER_HTML: "UTF-16 units after HTML",
    Counting.UTF16: "UTF-16 units",
    Counting.CODE_POINTS: "code points",
}


def _limit(t: PlatformTraits) -> str:
    unit = _UNITS[t.counting].format(url=t.url_length)
    if t.counting is Counting.TWITTER_TEXT and t.url_length:
        unit += f", links {t.url_length}"
    extra = []
    if t.caption_limit is not None:
        extra.append(f"caption {t.caption_limit:,}")
    if t.max_bytes is not None:
        extra.append(f"{t.max_bytes:,} UTF-8 bytes")
    if t.max_links is not None:
        extra.append(f"{t.max_links} links")
    more = f"; {', '.join(extra)}" if extra else ""
    return f"{t.text_limit:,} {unit}{more}"


def _image(t: PlatformTraits) -> str:
    if t.image is ImageHandling.LINK_PREVIEW:
        text = "link preview"
    else:
        formats = "/".join(m.removeprefix("image/").upper() for m in t.image_formats)
        size = t.image_max_bytes
        shown = f"{size // 1_048_576} MiB" if size % 1_048_576 == 0 else f"{size / 1e6:g} MB"
        text = f"{'caption photo' if t.image is ImageHandling.CAPTION else 'upload'}: "
        text += f"{formats}, {shown}"
    return ("**required**, " if t.media_required else "") + text


def _row(t: PlatformTraits) -> str:
    cells = [
        f"{t.display_name} (`{t.name}`)",
        _limit(t),
        "yes" if t.threads else "no",
        _image(t),
        str(t.hashtag_cap),
        t.link.value + (f" (`{t.link_field}`)" if t.link_field else ""),
        "none" if t.idempotency is Idempotency.NONE else t.idempotency.value,
        "yes" if t.can_lookup else "no (needs review)",
        ", ".join(t.metrics) + f" ({t.metrics_batch} per call)" if t.metrics else "none",
    ]
    return "| " + " | ".join(cells) + " |"


def platform_table(traits: Iterable[PlatformTraits] = BUILTIN) -> str:
    """The Markdown table of ``traits`` (default: the shipped platforms), between
    :data:`TABLE_START` and :data:`TABLE_END`."""
    head = (
        "| platform | text limit | threads | image | hashtags | link | idempotency | lookup "
        "| metrics |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = "\n".join(_row(t) for t in traits)
    return f"{TABLE_START}\n{head}\n{rows}\n{TABLE_END}"
