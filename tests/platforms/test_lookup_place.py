"""Lookups on X read the text as X echoes it back: ``&``, ``<`` and ``>`` HTML-escaped, URLs
wrapped in t.co, and a t.co link for attached media appended at the end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from dissem.compose.types import Media, Part
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.x import XPlatform, comparable, sent_text
from dissem.sandbox import RunningSandbox

MakeAdapter = Callable[..., Platform]

#: an X API v2 tweet with a photo, shaped as X answers it (``text`` escaped, the media
#: link last and named by its ``media_key``; compare the example payloads at
#: https://developer.twitter.com/en/docs/twitter-api/data-dictionary/example-payloads)
DOCUMENTED = {
    "id": "1894397692035416123",
    "text": "Visa &amp; passport desk: &lt;open&gt; 08-16 https://t.co/h4T2TGQS5B "
    "https://t.co/SRhPmI1Nu4",
    "entities": {
        "urls": [
            {
                "start": 45,
                "end": 68,
                "url": "https://t.co/h4T2TGQS5B",
                "expanded_url": "https://portal.example/visa",
                "display_url": "portal.example/visa",
            },
            {
                "start": 69,
                "end": 92,
                "url": "https://t.co/SRhPmI1Nu4",
                "expanded_url": "https://x.com/kemlu/status/1894397692035416123/photo/1",
                "display_url": "pic.x.com/SRhPmI1Nu4",
                "media_key": "3_1892268894959616000",
            },
        ]
    },
    "attachments": {"media_keys": ["3_1892268894959616000"]},
}
SENT = "Visa & passport desk: <open> 08-16 https://portal.example/visa"


def test_sent_text_undoes_what_x_does_to_an_echoed_text() -> None:
    assert sent_text(DOCUMENTED) == "Visa & passport desk: <open> 08-16 https://t.co/h4T2TGQS5B"
    assert comparable(sent_text(DOCUMENTED)) == comparable(SENT)


def test_without_entities_the_last_tco_link_of_a_tweet_with_media_is_dropped() -> None:
    tweet = {k: v for k, v in DOCUMENTED.items() if k != "entities"}
    assert comparable(sent_text(tweet)) == comparable(SENT)
    no_media = {"id": "1", "text": "A &amp; B https://t.co/h4T2TGQS5B"}
    assert sent_text(no_media) == "A & B https://t.co/h4T2TGQS5B"  # the article link stays


def test_a_literal_entity_in_the_text_survives() -> None:
    tweet = {"id": "1", "text": "write &amp;amp; for an ampersand, &amp;lt; for &lt;"}
    assert sent_text(tweet) == "write &amp; for an ampersand, &lt; for <"


def test_lookup_finds_a_post_echoed_escaped_with_a_media_link(
    make_adapter: MakeAdapter,
    specs: dict[str, Any],
    sandbox: RunningSandbox,
    unique: Callable[[str], str],
) -> None:
    x = make_adapter("x")
    assert isinstance(x, XPlatform)
    since = datetime.now(UTC) - timedelta(minutes=1)
    text = unique("Visa & passport <desk> > 3 days: https://portal.example/visa?a=1&b=2")
    photo = (Media("https://example.org/photo.jpg", "the visa desk"),)
    part = Part(index=1, total=1, text=text, length=len(text), limit=280, media=photo)
    posted = x.publish(part, MemoryContext("k"))
    # what X answers for it: escaped, its own link wrapped, a media link at the end
    signed = x._signed()
    echoed = requests.get(
        f"{sandbox.url}/x/2/users/{x._me()}/tweets",
        params={"max_results": 5, "tweet.fields": "attachments,entities"},
        timeout=5,
        **signed,
    ).json()["data"]
    tweet = next(t for t in echoed if t["id"] == posted.remote_id)
    assert "&amp;" in tweet["text"] and "&lt;desk&gt;" in tweet["text"]
    assert tweet["text"].rsplit(" ", 1)[-1].startswith("https://t.co/")
    assert tweet["attachments"]["media_keys"]
    assert x.lookup(part, MemoryContext("k"), since=since) == posted
