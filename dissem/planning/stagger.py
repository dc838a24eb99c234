"""Stagger: a small, stable delay per post so one release does not hit every channel at once.

The delay comes from a hash of the post's key (e.g. ``release-id/channel-name``), so the
same post always gets the same delay, across processes and restarts. ``hash()`` is salted
per process, so it would not do.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

__all__ = ["stagger_offset"]


def stagger_offset(key: str, stagger_seconds: int) -> timedelta:
    """A whole number of seconds in ``[0, stagger_seconds)`` derived from ``key``.

    Returns zero when ``stagger_seconds`` is zero or negative.
    """
    if stagger_seconds <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return timedelta(seconds=int.from_bytes(digest, "big") % stagger_seconds)
