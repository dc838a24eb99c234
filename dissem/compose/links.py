"""The link back to the portal: UTM tagging that keeps the article URL intact.

Only the ``utm_*`` keys dissem sets are touched: every other query parameter keeps its
exact spelling and order (re-encoding the whole query could change ``%20`` into ``+`` and
break a portal that signs its URLs), and the fragment stays last.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import SplitResult, quote, unquote_plus, urlsplit, urlunsplit

from dissem.config.models import Utm

#: The order in which dissem writes its parameters.
UTM_KEYS: tuple[str, ...] = ("utm_source", "utm_medium", "utm_campaign", "utm_content")


def utm_values(utm: Utm, *, platform: str, channel_name: str, release_id: str) -> dict[str, str]:
    """The ``utm_*`` values for one channel: the channel's settings, else the defaults
    (source = platform, medium = social, campaign = release id, content = channel name)."""
    return {
        "utm_source": utm.source or platform,
        "utm_medium": utm.medium,
        "utm_campaign": utm.campaign or release_id,
        "utm_content": utm.content or channel_name,
    }


def tag_link(url: str, utm: Utm, *, platform: str, channel_name: str, release_id: str) -> str:
    """``url`` with dissem's UTM parameters; ``url`` unchanged when ``utm.enabled`` is False.

    A ``utm_*`` key that the URL already carries and dissem sets is replaced (a feed's
    ``utm_source=rss`` would otherwise label every platform's clicks as RSS); it is never
    duplicated. Other keys, their order and encoding, and the fragment are kept.
    """
    if not utm.enabled:
        return url
    values = utm_values(utm, platform=platform, channel_name=channel_name, release_id=release_id)
    parts, pairs = _split(url)
    kept = [pair for pair, key in pairs if key not in values]
    added = [f"{key}={quote(value, safe='')}" for key, value in values.items()]
    return urlunsplit(parts._replace(query="&".join(kept + added)))


@lru_cache(maxsize=1024)
def _split(url: str) -> tuple[SplitResult, tuple[tuple[str, str], ...]]:
    """``url`` split, with each query pair beside its key as compared (decoded, lower
    case): the same for every channel a release goes to."""
    parts = urlsplit(url)
    pairs = parts.query.split("&") if parts.query else []
    return parts, tuple((pair, unquote_plus(pair.split("=", 1)[0]).lower()) for pair in pairs)


@lru_cache(maxsize=1024)
def portal_host(url: str) -> str:
    """The host of the article URL without ``www.``, for captions where links do not work."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")
