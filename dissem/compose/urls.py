"""Where the links, hashtags and mentions are in a post's text.

:func:`find_urls` follows the twitter-text 3 extractor, which decides what X counts as a
link (23 weighted characters) and, for links with a scheme, what Mastodon's server counts as
one (it runs the twitter-text Ruby gem). Its rules, in short:

- a link starts after a space, punctuation or a non-Latin character, never right after a
  Latin letter or digit, ``@``, ``$`` or ``#`` (so ``#test.com`` and ``$TVI.CA`` are not
  links);
- the domain must end in a known TLD (:mod:`.tlds`) that does not run on into a letter,
  digit, ``@``, ``+`` or ``-``; each label is 1-63 characters once punycode-encoded;
- without a scheme only the ASCII part of the domain counts (``日本example.com`` gives
  ``example.com``), and not right after ``- _ . /``;
- the path may hold balanced parentheses (``https://en.wikipedia.org/wiki/Foo_(bar)``),
  Cyrillic and accented Latin letters; it never ends in ``. , ; : ! ? ' *`` and the like,
  so trailing punctuation stays outside; the query string and fragment are included;
- a ``t.co`` link ends after its slug.

Spans are Python string indices ``(start, end)``, end exclusive. X counts the NFC form of a
text: :mod:`.twitter_text` normalises before it calls :func:`find_urls`.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import regex

from dissem.compose.tlds import TLDS

__all__ = ["find_hashtags", "find_mentions", "find_urls"]

Span = tuple[int, int]

# Character classes as twitter-text defines them.
_SPACES: Final = r"\t-\r\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID: Final = r"\uFFFE\uFEFF\uFFFF"
_DIRECTIONAL: Final = r"\u202A-\u202E\u061C\u200E\u200F\u2066-\u2069"
_PUNCT: Final = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_LATIN_ACCENTS: Final = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263"
    r"\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_CYRILLIC: Final = r"\u0400-\u04FF"

_NOT_DOMAIN: Final = rf"{_SPACES}{_INVALID}{_DIRECTIONAL}"
_DOMAIN_CHAR: Final = rf"[^{_PUNCT}{_NOT_DOMAIN}]"
# Labels start and end with a domain character; inside, subdomains may also hold "-" and
# "_", the last label before the TLD only "-". Written with single classes (not twitter-
# text's "(?:[_-]|char)*") because alternation per character is slow in the regex module.
_SUBDOMAIN: Final = (
    rf"(?:{_DOMAIN_CHAR}(?:[^!'#%&()*+,\\./:;<=>?@\[\]^{{|}}~${_NOT_DOMAIN}]*{_DOMAIN_CHAR})?\.)"
)
_DOMAIN_NAME: Final = (
    rf"(?:{_DOMAIN_CHAR}(?:[^!'#%&()*+,\\./:;<=>?@\[\]^_{{|}}~${_NOT_DOMAIN}]*{_DOMAIN_CHAR})?\.)"
)


# The TLD slot is generic (an ASCII letter run, or a run of other domain characters) and
# checked against the list in Python: a regex alternation of 1,400 TLDs takes the regex
# module over a second to compile. twitter-text requires the TLD not to run on into an
# ASCII letter or digit, "@", "+" or "-"; so an ASCII TLD is a whole letter run, and an
# internationalised one is the longest listed prefix of its run (".みんなです").
_TLD_SLOT: Final = (
    rf"(?:(?P<tld>[a-z]++|[^\x00-\x7F{_NOT_DOMAIN}]+)(?=[^0-9a-z@+\-]|\Z)"
    r"|(?P<puny>xn--[0-9a-z\-]+))"
)
_MAX_IDN_TLD: Final = max(len(tld) for tld in TLDS if not tld.isascii())


def _tld_end(text: str, match: regex.Match[str]) -> int | None:
    """Where the TLD of ``match`` really ends, or None when its slot holds no listed TLD."""
    start, end = match.span("tld")
    if start < 0:
        return match.end("puny")
    if text[start].isascii():
        return end if text[start:end].lower() in TLDS else None
    for stop in range(min(end, start + _MAX_IDN_TLD), start, -1):
        if text[start:stop].lower() in TLDS:
            return stop
    return None


def _find(
    pattern: regex.Pattern[str], text: str, pos: int, endpos: int, *, anchored: bool
) -> tuple[regex.Match[str], int] | None:
    """``pattern.match`` / ``.search`` with a listed TLD: the match and where its TLD ends.

    When the slot holds no listed TLD, the same start is tried with fewer labels (the text
    cut before the dot of the rejected TLD), as a regex listing every TLD would backtrack;
    then, unless ``anchored``, later starts.
    """
    while True:
        match = (pattern.match if anchored else pattern.search)(text, pos, endpos)
        if match is None:
            return None
        start = match.start()
        while match is not None:
            tld_end = _tld_end(text, match)
            if tld_end is not None:
                return match, tld_end
            match = pattern.match(text, start, match.start("tld") - 1)
        if anchored:
            return None
        pos = start + 1


_PATH_CHAR: Final = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN_ACCENTS}]"
_PARENS: Final = rf"\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\)"
_PATH_END: Final = rf"(?:[+\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|{_PARENS})"
_PATH: Final = rf"(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END}|@{_PATH_CHAR}+/)"
_QUERY: Final = r"\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-z0-9\-_&=#/]"

_URL_PATTERN: Final = rf"""
    (?P<before>[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)
    (?P<url>
        (?:(?P<scheme>https?://)|SCHEMELESS_START)
        (?P<domain>{_SUBDOMAIN}*{_DOMAIN_NAME}{_TLD_SLOT})
        (?::[0-9]+)?
        (?P<path>/{_PATH}*)?
        (?:{_QUERY})?
    )
"""
_FLAGS: Final = regex.IGNORECASE | regex.VERBOSE
# twitter-text tries a link at every position. A start inside a run of domain characters
# meets the same labels and TLD as the start of the run, so it can only succeed where the
# run start failed for its preceding character ("#✌1️⃣kemlu.go.id" links "kemlu.go.id").
# The search pattern therefore tries run starts and the first start after a valid
# preceding character inside a run: the same links, but linear instead of quadratic over
# long CJK runs. Right after a previous link, whose end consumed the run start, one
# unrestricted try keeps twitter-text's result ("http://a.com/x中国語example.com").
_SCHEMELESS_START: Final = (
    rf"(?:(?<!{_DOMAIN_CHAR})|(?<=(?<!{_DOMAIN_CHAR})[A-Za-z0-9＠＃]*{_DOMAIN_CHAR}))"
)


@functools.cache
def _url_patterns() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    """(search pattern, unrestricted pattern), compiled on first use (about 0.2 s)."""
    return (
        regex.compile(_URL_PATTERN.replace("SCHEMELESS_START", _SCHEMELESS_START), _FLAGS),
        regex.compile(_URL_PATTERN.replace("SCHEMELESS_START", ""), _FLAGS),
    )


_ASCII_DOMAIN: Final = regex.compile(
    rf"(?:[\-a-z0-9{_LATIN_ACCENTS}]+\.)+{_TLD_SLOT}", regex.IGNORECASE
)
_TCO: Final = regex.compile(rf"https?://t\.co/([a-z0-9]+)(?:{_QUERY})?", regex.IGNORECASE)
_TLD_DOT: Final = regex.compile(r"\.\p{L}")
_SPACE: Final = regex.compile(rf"[{_SPACES}]")
_LAST_SPACE: Final = regex.compile(rf"(?r)[{_SPACES}]")  # searched backwards
_OTHER_STOPS: Final = regex.compile(r"[\u3002\uFF0E\uFF61]")
_BAD_BEFORE_SCHEMELESS: Final = frozenset("-_./")
_MAX_URL_LENGTH: Final = 4096
_MAX_TCO_SLUG: Final = 40


def _punycode_length(domain: str) -> int | None:
    """Length of ``domain`` once punycode-encoded as twitter-text does it, or None when a
    label is empty or longer than 63, or when an "xn--" domain holds no ASCII domain."""
    if domain.startswith("xn--") and not _ascii_domains(domain):
        return None  # "xn--はじめよう.com": claims to be encoded but is not
    total = -1
    for label in domain.split("."):
        if label.isascii():
            size = len(label)
        else:  # punycode.js also splits on the ideographic and full-width full stops
            parts = _OTHER_STOPS.split(label)
            size = (
                len(parts)
                - 1
                + sum(
                    len(part) if part.isascii() else 4 + len(part.encode("punycode"))
                    for part in parts
                )
            )
        if not 1 <= size <= 63:
            return None
        total += size + 1
    return total


def _ascii_domains(domain: str) -> list[Span]:
    """Spans of the ASCII domains inside a domain (``日本example.com`` -> ``example.com``)."""
    spans: list[Span] = []
    pos = 0
    while found := _find(_ASCII_DOMAIN, domain, pos, len(domain), anchored=False):
        match, tld_end = found
        spans.append((match.start(), tld_end))
        pos = tld_end
    return spans


def _links_in(match: regex.Match[str], tld_end: int, text: str) -> list[tuple[int, int, bool]]:
    """The links a candidate match yields (none, one, or several bare ASCII domains)."""
    start, end = match.span("url")
    domain_start, domain_end = match.span("domain")
    has_path = match.group("path") is not None
    if tld_end < domain_end:  # the listed TLD is shorter than its slot: nothing follows
        domain_end = end = tld_end
        has_path = False
    domain = text[domain_start:domain_end]
    scheme = match.group("scheme")
    encoded = _punycode_length(domain)
    if encoded is None:
        return []
    if len(scheme or "https://") + end - start + encoded - len(domain) > _MAX_URL_LENGTH:
        return []
    if scheme:
        tco = _TCO.match(text, start, end)
        if tco:
            if len(tco.group(1)) > _MAX_TCO_SLUG:
                return []
            end = tco.end()
        return [(start, end, True)]
    if match.group("before") in _BAD_BEFORE_SCHEMELESS:
        return []
    # Without a scheme only ASCII domains count; a path belongs to the last of them.
    pieces = [(domain_start + s, domain_start + e) for s, e in _ascii_domains(domain)]
    if pieces and has_path:
        pieces[-1] = (pieces[-1][0], end)
    return [(s, e, False) for s, e in pieces]


@functools.lru_cache(maxsize=4096)
def _token_links(token: str, at_start: bool) -> tuple[tuple[int, int, bool], ...]:
    """The links in one space-free token, scanned as twitter-text scans: left to right, a
    rejected candidate consumed all the same. ``at_start``: the token opens the text."""
    # A token follows a space (any of twitter-text's); " " stands in for it.
    text = token if at_start else " " + token
    shift = 0 if at_start else 1
    found: list[tuple[int, int, bool]] = []
    url, url_next = _url_patterns()
    scan = 0
    while True:
        candidate = _find(url_next, text, scan, len(text), anchored=True) or _find(
            url, text, scan, len(text), anchored=False
        )
        if candidate is None:
            return tuple(found)
        match, tld_end = candidate
        scan = tld_end if tld_end < match.end("domain") else match.end()
        links = _links_in(match, tld_end, text)
        found.extend((s - shift, e - shift, schemed) for s, e, schemed in links)


@functools.lru_cache(maxsize=256)
def _extract(text: str) -> tuple[tuple[int, int, bool], ...]:
    """Every link in ``text`` as (start, end, has_scheme), in order.

    No link holds a space, so a text is scanned token by token (cached: the composer
    measures many texts that share their links), and only tokens with a "." followed by a
    letter (every TLD starts with one) can hold a link. The last texts' answers are kept
    too: measuring one candidate post asks for its links up to four times (length, link
    count, hashtags and mentions outside links).
    """
    found: list[tuple[int, int, bool]] = []
    done = 0  # the tokens before this index are scanned
    for dot in _TLD_DOT.finditer(text):
        if dot.start() < done:
            continue
        before = _LAST_SPACE.search(text, done, dot.start())
        start = before.end() if before else done
        after = _SPACE.search(text, dot.start())
        done = after.start() if after else len(text)
        links = _token_links(text[start:done], start == 0)
        found.extend((start + s, start + e, schemed) for s, e, schemed in links)
    return tuple(found)


def find_urls(text: str, *, require_scheme: bool) -> list[Span]:
    """Spans of the links in ``text``, in order; with ``require_scheme`` only ``http(s)://`` ones.

    A span never includes trailing punctuation (``https://example.com/path.`` stops before
    the dot) and always includes the query string and fragment. Composers must not cut text
    inside a span.
    """
    if require_scheme and ":" not in text:
        return []
    return [(s, e) for s, e, schemed in _extract(text) if schemed or not require_scheme]


# Hashtags: letters and marks of any script, digits, "_" and a few joiners, with at least one
# letter or mark (#2024 is not a tag); not right after such a character or "&" (but after a
# variation selector, as in "✌︎#tag"); not run on into "#" or "://"; not inside a link.
_TAG_CHARS: Final = (
    r"\p{L}\p{M}\p{Nd}_\u200C\u200D\uA67E\u05BE\u05F3\u05F4\uFF5E\u301C\u309B\u309C\u30A0"
    r"\u30FB\u3003\u0F0B\u0F0C\xB7"
)
_HASHTAG: Final = regex.compile(
    rf"(?:(?<=[\uFE0E\uFE0F])|(?<![&{_TAG_CHARS}]))[#＃](?![\uFE0F\u20E3])[{_TAG_CHARS}]+"
)
_TAG_LETTER: Final = regex.compile(r"[\p{L}\p{M}]")
_TAG_END: Final = regex.compile(r"[#＃]|://")

# Mentions as Mastodon reads them: @user or @user@domain (Mastodon counts the @user part).
# Not after a word character, "=" or "/" (e-mail addresses, links). The stdlib engine is
# enough here and faster.
_MENTION: Final = re.compile(
    r"(?<![=/\w])@[A-Za-z0-9_]+(?:[.\-]+[A-Za-z0-9_]+)*(?:@\w+(?:[.\-]+\w+)*)?"
)
_MENTION_END: Final = regex.compile(rf"[@＠{_LATIN_ACCENTS}]|://")


def _outside(spans: list[Span], start: int, end: int) -> bool:
    return all(end <= s or start >= e for s, e in spans)


def find_hashtags(text: str) -> list[Span]:
    """Spans of the hashtags in ``text``, ``#`` included, outside links."""
    if "#" not in text and "＃" not in text:
        return []
    urls = find_urls(text, require_scheme=False)
    return [
        m.span()
        for m in _HASHTAG.finditer(text)
        if _TAG_LETTER.search(m.group())
        and not _TAG_END.match(text, m.end())
        and _outside(urls, *m.span())
    ]


def find_mentions(text: str) -> list[Span]:
    """Spans of ``@user`` and ``@user@domain`` mentions in ``text``, outside links."""
    if "@" not in text:
        return []
    urls = find_urls(text, require_scheme=False)
    return [
        m.span()
        for m in _MENTION.finditer(text)
        if not _MENTION_END.match(text, m.end()) and _outside(urls, *m.span())
    ]
