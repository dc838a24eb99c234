"""Feeds: releases straight from the portal's RSS and Atom feeds (``feeds.yaml``).

Each feed is polled on its own interval (conditional GET, bounded, backed off on errors),
parsed with feedparser 6, and each item is known by its guid and canonical URL across feeds
and restarts; new items become releases that go through the same compose, planning and
dispatch as file releases (``releases.source`` is ``feed:<name>``), and show in
``dissem queue``.

This package reads and understands feeds: fetching (:mod:`~dissem.feeds.fetch`),
parsing (:mod:`~dissem.feeds.parse`), an item's identity (:mod:`~dissem.feeds.identity`),
an item as a release (:mod:`~dissem.feeds.items`, :mod:`~dissem.feeds.rules`, article pages
in :mod:`~dissem.feeds.html`) and the names of what became of each item
(:mod:`~dissem.feeds.decisions`). The jobs that store and plan what it reads are the
worker's: :mod:`dissem.worker.feed_poll` (``poll_feed``, ``poll_due``),
:mod:`dissem.worker.feed_plan` and :mod:`dissem.worker.feed_review` (``approve_release``,
``export_release``, ``feed_rows``, ``item_rows``).

Public API (stable):

- :func:`fetch`, :class:`FetchLimits`, :class:`Fetched` (raising
  :class:`~dissem.errors.FeedFetchError`);
- :func:`parse_feed` (raising :class:`~dissem.errors.FeedParseError`);
- :func:`canonical_url`, :func:`item_keys`;
- :class:`Decision`: the decision names (``new``, ``backfill``, ``seen``, ``updated``,
  ``duplicate``, ``too_old``, ``over_cap``, ``invalid``); :func:`decision_counts`:
  decisions per feed in a time range (the weekly report).
"""

from __future__ import annotations

from dissem.feeds.decisions import Decision, decision_counts
from dissem.feeds.fetch import Fetched, FetchLimits, fetch
from dissem.feeds.identity import canonical_url, item_keys
from dissem.feeds.parse import parse_feed

__all__ = [
    "Decision",
    "FetchLimits",
    "Fetched",
    "canonical_url",
    "decision_counts",
    "fetch",
    "item_keys",
    "parse_feed",
]
