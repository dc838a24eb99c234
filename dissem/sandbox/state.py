"""What the sandbox remembers: published posts, per-platform bookkeeping, and engagement.

State lives in memory; with a ``path`` it is loaded from and saved to a JSON file (saved on
change, at most every :attr:`SandboxState.save_interval` seconds, and on :meth:`close`).
Everything kept must be JSON-serialisable.

Stand-ins keep their own bookkeeping (sessions, idempotency keys, containers) in
``state.bucket(platform)``, a plain dict they may read and write while holding
``state.lock``.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dissem.sandbox.audience import Audiences

__all__ = ["PostRecord", "SandboxState", "engagement"]


@dataclass
class PostRecord:
    """One post a stand-in accepted. ``remote_id`` is what the platform answers."""

    platform: str
    account: str
    remote_id: str
    text: str
    created_at: datetime
    url: str | None = None
    reply_to: str | None = None
    idempotency_key: str | None = None
    rkey: str | None = None
    media: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: images attached with their alt text (see :mod:`dissem.sandbox.uploads`)
    images: list[dict[str, Any]] = field(default_factory=list)
    #: the account's audience multiplier at publication (see :mod:`dissem.sandbox.audience`)
    audience: float = 1.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostRecord:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


class SandboxState:
    """Posts and per-platform buckets, guarded by one re-entrant lock."""

    save_interval = 1.0

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._posts: list[PostRecord] = []
        self._by_id: dict[tuple[str, str], PostRecord] = {}
        self._buckets: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self._saved_at = 0.0
        #: set to give engagement a time-of-day audience; None keeps it flat
        self.audiences: Audiences | None = None
        if path is not None and path.exists():
            self._load(path)

    # --- posts ------------------------------------------------------------------------
    def add_post(self, post: PostRecord) -> PostRecord:
        """Stores ``post`` (the newest last) and returns it; with :attr:`audiences` set, its
        audience multiplier is fixed now, from its account and publication time."""
        with self.lock:
            if self.audiences is not None:
                post.audience = self.audiences.lift(
                    post.platform, post.account, post.remote_id, post.created_at
                )
            self._posts.append(post)
            self._by_id[(post.platform, post.remote_id)] = post
            self.changed()
        return post

    def get_post(self, platform: str, remote_id: str) -> PostRecord | None:
        with self.lock:
            return self._by_id.get((platform, remote_id))

    def posts(self, platform: str | None = None, account: str | None = None) -> list[PostRecord]:
        """Posts in publishing order, optionally of one platform and account."""
        with self.lock:
            return [
                p
                for p in self._posts
                if (platform is None or p.platform == platform)
                and (account is None or p.account == account)
            ]

    def __iter__(self) -> Iterator[PostRecord]:
        return iter(self.posts())

    # --- buckets ----------------------------------------------------------------------
    def bucket(self, platform: str) -> dict[str, Any]:
        """The mutable bookkeeping dict of one platform; call :meth:`changed` after writing."""
        with self.lock:
            return self._buckets.setdefault(platform, {})

    # --- persistence ------------------------------------------------------------------
    def changed(self) -> None:
        """Marks the state dirty and saves it when a file is set and the interval passed."""
        with self.lock:
            self._dirty = True
            if self.path is not None and time.monotonic() - self._saved_at >= self.save_interval:
                self.save()

    def save(self) -> None:
        """Writes the file atomically (temp file, then rename) when there are changes."""
        if self.path is None:
            return
        with self.lock:
            if not self._dirty:
                return
            data = {
                "posts": [p.to_json() for p in self._posts],
                "buckets": self._buckets,
            }
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
            self._dirty = False
            self._saved_at = time.monotonic()

    def close(self) -> None:
        """Saves pending changes."""
        self.save()

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        for raw in data.get("posts", []):
            post = PostRecord.from_json(raw)
            self._posts.append(post)
            self._by_id[(post.platform, post.remote_id)] = post
        self._buckets = dict(data.get("buckets", {}))


def engagement(
    remote_id: str, created_at: datetime, now: datetime, audience: float = 1.0
) -> dict[str, int]:
    """Deterministic engagement counters of a post: zero at publication, never decreasing
    with age, different from post to post (seeded by the id's CRC-32). ``audience`` (the
    post's :attr:`PostRecord.audience`) multiplies the interactions, not views or reach.

    Keys: views, reach, likes, reposts, replies, quotes, bookmarks, shares, link_clicks.
    """
    minutes = max(0.0, (now - created_at).total_seconds() / 60.0)
    seed = zlib.crc32(remote_id.encode("utf-8"))
    appeal = 1.0 + (seed % 97) / 32.0  # 1.0 .. 4.0
    views = int(appeal * 40.0 * math.sqrt(minutes))

    def share(rate: float, salt: int) -> int:
        return int(views * rate * audience * (1.0 + ((seed >> salt) % 7) / 10.0))

    return {
        "views": views,
        "reach": int(views * 0.8),
        "likes": share(0.04, 3),
        "reposts": share(0.01, 6),
        "replies": share(0.005, 9),
        "quotes": share(0.002, 12),
        "bookmarks": share(0.003, 15),
        "shares": share(0.006, 18),
        "link_clicks": share(0.02, 21),
    }
