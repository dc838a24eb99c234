"""Where a feed item goes, and how urgently: the feed's ``rules`` and ``breaking_keywords``.

A rule matches when each kind of condition it states has a match: any of its categories
among the item's (case ignored), any of its keywords in the title or summary (whole words,
case ignored), any of its URL patterns (``*`` any text, ``?`` one character; the whole
canonical or written link). Every matching rule counts: their targets together replace the
feed's (in order, without repeats); the most urgent priority wins (breaking over normal,
among the rules that give one, else the feed's). A breaking keyword in the title or summary makes
the item breaking.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from dissem.config.models import Feed, FeedRule

__all__ = ["Route", "route"]

_RANK = {"evergreen": 0, "normal": 1, "breaking": 2}


@dataclass(frozen=True)
class Route:
    targets: list[str]
    priority: str
    rules: list[int]  # indexes of the rules that matched


@lru_cache(maxsize=4096)
def _word(keyword: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(keyword.strip().casefold()) + r"(?!\w)")


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


def has_keyword(keywords: Sequence[str], text: str) -> bool:
    folded = text.casefold()
    return any(_word(k).search(folded) for k in keywords if k.strip())


def _matches(rule: FeedRule, categories: set[str], text: str, urls: Sequence[str]) -> bool:
    if rule.categories and not any(c.strip().casefold() in categories for c in rule.categories):
        return False
    if rule.keywords and not has_keyword(rule.keywords, text):
        return False
    return not rule.urls or any(_glob(p).match(u) for p in rule.urls for u in urls if u)


def route(
    feed: Feed, *, title: str, summary: str, categories: Sequence[str], urls: Sequence[str]
) -> Route:
    """The targets and priority of an item of ``feed`` (see the module doc)."""
    folded = {c.strip().casefold() for c in categories}
    text = f"{title}\n{summary}"
    targets: list[str] = []
    given: list[str] = []
    matched: list[int] = []
    for i, rule in enumerate(feed.rules):
        if not _matches(rule, folded, text, urls):
            continue
        matched.append(i)
        for t in rule.targets:
            if t not in targets:
                targets.append(t)
        if rule.priority is not None:
            given.append(rule.priority)
    priority = max(given, key=_RANK.__getitem__) if given else feed.priority
    if feed.breaking_keywords and has_keyword(feed.breaking_keywords, text):
        priority = "breaking"
    return Route(targets=targets or list(feed.targets), priority=priority, rules=matched)
