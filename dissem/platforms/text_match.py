"""Recognising a post by its text and its place, as the platforms echo them back.

Platforms store a post's text a little differently from how it was sent: they trim trailing
spaces, turn CRLF into LF and normalise Unicode to NFC. Lookups (did this post go out before
the answer was lost?) compare texts after undoing exactly those differences, nothing more,
so two different posts are never taken for one another.

Text alone proves nothing, though: two releases may share a paragraph, so two thread parts
(or two single posts) can carry the same text. :func:`pick` takes a post only when its text
*and* its place fit (created at or after the first attempt, less a margin; replying to the
expected parent, or to nothing) and no other post of the channel is recorded at that remote
id; when more than one post fits, or the platform does not say what a post replies to, it
raises :class:`~dissem.errors.LookupAmbiguous` and a person decides.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from dissem.errors import LookupAmbiguous
from dissem.platforms.base import RemotePost

__all__ = ["UNKNOWN", "Candidate", "comparable", "listed_at", "pick", "same_text"]

#: a :attr:`Candidate.parent` the platform did not show
UNKNOWN = "\x00unknown parent"


def comparable(text: str) -> str:
    """``text`` in NFC with every run of whitespace folded to one space and none at the ends:
    equal for two texts exactly when :func:`same_text` holds."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def same_text(a: str, b: str) -> bool:
    """True when two post texts are the same up to whitespace and Unicode normal form."""
    return comparable(a) == comparable(b)


def listed_at(value: object) -> datetime | None:
    """A listing's creation time: ISO 8601 text (``Z``, ``+00:00`` or Graph's ``+0000``) or
    epoch milliseconds (LinkedIn); None when absent, unreadable or without a time zone."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value / 1000, UTC)
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return when if when.tzinfo is not None else None


@dataclass(frozen=True)
class Candidate:
    """A post of the account as a listing shows it.

    ``text`` is the text as the adapter made it comparable to what was sent (platform
    quirks undone: HTML, entities, link wrapping); :func:`pick` folds whitespace itself.
    ``parent`` is the remote id it replies to, None for a post that replies to nothing, or
    :data:`UNKNOWN`. ``created_at`` None means the listing gave no time.
    """

    post: RemotePost
    text: str
    created_at: datetime | None
    parent: str | None = None


def pick(
    wanted: str,
    candidates: Iterable[Candidate],
    *,
    since: datetime,
    reply_to: RemotePost | None,
    taken: Collection[str],
    platform: str,
) -> RemotePost | None:
    """The one candidate whose text is ``wanted`` and whose place fits; None when none does.

    A candidate is out when its text differs, its remote id is in ``taken``, it was created
    before ``since`` or it replies to another post than ``reply_to`` (to any post, when
    ``reply_to`` is None). Raises :class:`LookupAmbiguous` when two or more fit, or when one
    with the text cannot be placed (no parent or time shown) while it might fit.
    """
    text = comparable(wanted)
    parent = reply_to.remote_id if reply_to is not None else None
    fits: list[RemotePost] = []
    unplaced: list[RemotePost] = []
    for c in candidates:
        if c.post.remote_id in taken or comparable(c.text) != text:
            continue
        if c.created_at is not None and c.created_at < since:
            continue
        if c.parent != UNKNOWN and c.parent != parent:
            continue
        (unplaced if c.parent == UNKNOWN or c.created_at is None else fits).append(c.post)
    if len(fits) == 1 and not unplaced:
        return fits[0]
    if not fits and not unplaced:
        return None
    where = f"replying to {parent}" if parent else "not a reply"
    if len(fits) > 1:
        ids = ", ".join(p.remote_id for p in [*fits, *unplaced])
        reason = f"{len(fits) + len(unplaced)} posts have this text and place ({where}): {ids}"
    else:
        ids = ", ".join(p.remote_id for p in unplaced)
        reason = f"the platform does not show the place ({where}?) of posts with this text: {ids}"
        if fits:
            reason += f"; {fits[0].remote_id} fits"
    raise LookupAmbiguous(
        f"{platform}: cannot tell which post is this one: {reason}", platform=platform
    )
