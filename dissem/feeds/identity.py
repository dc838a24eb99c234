"""How a story is known: by its guid and by its canonical URL, across feeds and restarts.

Portals change what they publish about a story more often than the story: a guid switched
from ``http://`` to ``https://`` when the site moved, ``?utm_source=rss`` added by a
newsletter tool, ``www.`` dropped, a ``#comments`` anchor, the same article on a second
domain. :func:`canonical_url` folds all of these to one text, and :func:`item_keys` gives
the keys (``guid:...``, ``url:...``) under which an item is stored (``feed_keys``): an item
matching any stored key is the story already known.

Folding, in order: scheme and host lower-cased, ``http`` and ``https`` one (written as
``https``), a leading ``www.`` and the default port dropped, the fragment dropped, tracking
parameters removed (:data:`TRACKING`, and every ``utm_*``), the remaining parameters
sorted, an empty path written ``/``; percent-escapes of unreserved characters decoded and
the rest upper-cased (RFC 3986 section 6.2.2), so one address written two ways is one key.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["TRACKING", "canonical_url", "guid_key", "item_keys", "url_key", "without_tracking"]

#: Query parameters that say who sent the reader, never which article: Google Analytics
#: (``utm_*``, ``gclid``, ``dclid``, ``gbraid``, ``wbraid``, ``_ga``, ``_gl``), Facebook
#: (``fbclid``), Microsoft (``msclkid``), Mailchimp (``mc_cid``, ``mc_eid``), HubSpot
#: (``_hsenc``, ``_hsmi``), Instagram (``igshid``), Yandex (``yclid``), Twitter (``twclid``),
#: Marketo (``mkt_tok``), Omniture (``s_cid``), and the generic ``ref``/``ref_src``.
TRACKING = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "igshid",
        "yclid",
        "twclid",
        "mkt_tok",
        "s_cid",
        "_ga",
        "_gl",
        "ref",
        "ref_src",
        "ocid",
        "cmpid",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: stored keys are at most this long; longer ones are stored as their digest
_KEY_MAX = 400
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _tracking(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("utm_") or lower in TRACKING


def _normalise_escapes(text: str) -> str:
    """Decodes escapes of unreserved characters, upper-cases the others (RFC 3986 6.2.2)."""

    def one(m: re.Match[str]) -> str:
        char = chr(int(m.group(0)[1:], 16))
        return char if char in _UNRESERVED else m.group(0).upper()

    return _ESCAPE.sub(one, text)


def canonical_url(url: str) -> str | None:
    """The folded form of ``url`` (see the module doc); None when it is no http(s) URL."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _normalise_escapes(parts.path) or "/"
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k)]
    query.sort()
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


def without_tracking(url: str) -> str:
    """``url`` as written, less its tracking parameters (the composer adds its own UTM
    tags); anything else, the scheme and host included, is kept."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _tracking(k)]
    if len(kept) == len(pairs):
        return url.strip()
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _key(kind: str, value: str) -> str:
    if len(value) > _KEY_MAX:
        value = "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{value}"


def guid_key(guid: str) -> str | None:
    """The key of a guid: a guid that is a URL is folded like one (a site moving to https
    changes every guid); any other guid is kept as written (trimmed)."""
    text = guid.strip()
    if not text:
        return None
    folded = canonical_url(text)
    return _key("guid", folded if folded is not None else text)


def url_key(url: str) -> str | None:
    folded = canonical_url(url)
    return None if folded is None else _key("url", folded)


def item_keys(guid: str, *urls: str) -> list[str]:
    """Every key of an item: its guid's and each of its URLs' (link, canonical link), in
    that order, without repeats."""
    keys: list[str] = []
    for key in (guid_key(guid), *(url_key(u) for u in urls if u)):
        if key is not None and key not in keys:
            keys.append(key)
    return keys
