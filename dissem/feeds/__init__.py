"""Feeds: releases straight from the portal's RSS and Atom feeds (``feeds.yaml``).

Each feed is polled on its own interval (conditional GET, bounded, backed off on errors),
parsed with feedparser 6, and each item is known by its guid and canonical URL across feeds
and restarts; new items become releases that go through the same compose, planning and
dispatch as file releases (``releases.source`` is ``feed:<name>``), and show in
``dissem queue``.

Public API (stable; used by the daemon, the CLI, the push ping and the demo):

- :func:`poll_feed` ``(session_factory, settings, config, name, *, now, force=False,
  backfill=0, fetcher=None, alerter=None) -> PollResult``: polls one feed now when due (or
  ``force``), decides every item, stores and plans the releases; raises
  :class:`FeedNotFound` for a name not in ``config.feeds`` (or disabled).
- :func:`poll_due` ``(session_factory, settings, config, *, now, fetcher=None,
  alerter=None, politeness=None) -> list[PollResult]``: the daemon's ``feeds`` job; one
  query when nothing is due.
- :class:`PollResult`: ``feed, polled, status, not_modified, new, updated, seen, held,
  duplicates, invalid, error, next_poll_at, plan``.
- :func:`approve_release` ``(session_factory, settings, config, release_id, *, by, now)``:
  approves a draft feed item's release (who and when recorded) and plans it.
- :func:`export_release` ``(session_factory, release_id) -> str``: the release as a release
  YAML file's text.
- :func:`feed_rows` / :func:`item_rows`: what ``dissem feeds`` and ``dissem feeds items``
  show, as plain data; :func:`decision_counts`: decisions per feed in a time range (the
  weekly report).
- :class:`Decision`: the decision names (``new``, ``backfill``, ``seen``, ``updated``,
  ``duplicate``, ``too_old``, ``over_cap``, ``invalid``).
"""

from __future__ import annotations

from dissem.feeds.fetch import FeedFetchError, Fetched, FetchLimits, fetch
from dissem.feeds.identity import canonical_url, item_keys
from dissem.feeds.parse import FeedParseError, parse_feed
from dissem.feeds.poll import Decision, FeedNotFound, Politeness, PollResult, poll_due, poll_feed
from dissem.feeds.review import (
    approve_release,
    decision_counts,
    export_release,
    feed_rows,
    item_rows,
)

__all__ = [
    "Decision",
    "FeedFetchError",
    "FeedNotFound",
    "FeedParseError",
    "FetchLimits",
    "Fetched",
    "Politeness",
    "PollResult",
    "approve_release",
    "canonical_url",
    "decision_counts",
    "export_release",
    "feed_rows",
    "fetch",
    "item_keys",
    "item_rows",
    "parse_feed",
    "poll_due",
    "poll_feed",
]
