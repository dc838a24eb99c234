"""The sandbox's front page: what every channel has "published", newest first, as a feed.

Self-contained HTML (inline CSS, no scripts, no external assets); every text is escaped.
Each post is an anchor (:func:`post_anchor`), so ``dissem demo`` can save the page next to
its database and link each post it printed to its card: links that outlive the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html import escape

from dissem.sandbox.state import PostRecord

__all__ = ["post_anchor", "render_feed"]

_COLOURS = {
    "x": "#111",
    "mastodon": "#6364ff",
    "bluesky": "#1185fe",
    "facebook": "#1877f2",
    "instagram": "#d62976",
    "threads": "#333",
    "linkedin": "#0a66c2",
    "telegram": "#229ed9",
}

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;background:#f3f4f6;margin:0;color:#111}
header{background:#111;color:#fff;padding:12px 20px}
main{max-width:640px;margin:16px auto;padding:0 12px}
article{background:#fff;border-radius:10px;padding:12px 16px;margin:10px 0;
box-shadow:0 1px 2px #0002}
.meta{font-size:12px;color:#555;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.badge{color:#fff;border-radius:4px;padding:1px 6px;font-weight:600}
.text{white-space:pre-wrap;word-wrap:break-word;margin:8px 0 0}
.reply{font-size:12px;color:#777}
.img{margin:8px 0 0;padding:18px 12px;border:1px dashed #999;border-radius:8px;background:#eef1f5;
color:#444;font-size:13px;text-align:center}
"""


def render_feed(posts: Sequence[PostRecord], now: datetime) -> str:
    """The feed page for ``posts`` (any order; shown newest first) as seen at ``now``."""
    items = sorted(posts, key=lambda p: p.created_at, reverse=True)
    cards = "\n".join(_card(p, now) for p in items) or "<p>Nothing published yet.</p>"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>dissem sandbox</title><style>{_CSS}</style></head><body>"
        f"<header><strong>dissem sandbox</strong> &middot; {len(items)} posts</header>"
        f"<main>{cards}</main></body></html>"
    )


def post_anchor(platform: str, remote_id: str) -> str:
    """The id of a post's card on the page: the platform and its id, in letters, digits and
    dashes (safe in a URL fragment and an HTML attribute)."""
    return f"{platform}-" + re.sub(r"[^A-Za-z0-9]+", "-", remote_id).strip("-")


def _card(post: PostRecord, now: datetime) -> str:
    colour = _COLOURS.get(post.platform, "#444")
    link = (
        f"<a href='{escape(post.url, quote=True)}'>{escape(post.remote_id)}</a>"
        if post.url
        else escape(post.remote_id)
    )
    reply = f"<div class='reply'>in reply to {escape(post.reply_to)}</div>" if post.reply_to else ""
    media = (
        "".join(_image(i) for i in post.images)
        if post.images
        else "".join(f"<div class='reply'>image: {escape(m)}</div>" for m in post.media)
    )
    return (
        f"<article id='{escape(post_anchor(post.platform, post.remote_id), quote=True)}'>"
        f"<div class='meta'><span class='badge' style='background:{colour}'>"
        f"{escape(post.platform)}</span><strong>{escape(post.account)}</strong>"
        f"<span>{_ago(post.created_at, now)}</span><span>{link}</span></div>"
        f"{reply}<p class='text'>{escape(post.text)}</p>{media}</article>"
    )


def _image(image: dict[str, object]) -> str:
    """A placeholder box for an uploaded image, showing its alt text (or saying it has none)."""
    alt = str(image.get("alt") or "")
    kind = "link card picture" if image.get("kind") == "thumbnail" else "image"
    label = f"{kind}: {alt}" if alt else f"{kind} without alt text"
    shown = escape(label, quote=True)
    return f"<figure class='img' role='img' aria-label='{shown}'>{shown}</figure>"


def _ago(then: datetime, now: datetime) -> str:
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"
