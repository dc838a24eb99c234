"""One release into the exact posts one channel sends: :func:`compose`.

Pure: the release, the channel and ``now`` in, a :class:`Composition` out; no I/O, no
clock. The steps: merge the release's overrides for the channel, localise the fields,
tag the link, turn tags into hashtags, render the template, then fit: shorten the body,
then the summary, drop hashtags from the end, shorten the title, and as a last resort cut
the text before the link. In thread mode what does not fit the first part continues in
numbered parts. Each candidate is judged on exactly what would be sent (escaped, with
its numbering), measured by :mod:`dissem.compose.counting`.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

from dissem.compose import counting, stencil
from dissem.compose.bluesky import external_embed, facets
from dissem.compose.escape import escape_for
from dissem.compose.hashtags import hashtags_for
from dissem.compose.links import portal_host, tag_link
from dissem.compose.shorten import ELLIPSIS, best_cut, shorten, split
from dissem.compose.templates import (
    link_hint,
    markdown_to_text,
    template_variables,
)
from dissem.compose.types import Composition, Media, Part
from dissem.compose.urls import _TLD_DOT
from dissem.config.models import Channel, Release
from dissem.config.overrides import MergedOverride, merged_override
from dissem.traits import Counting, ImageHandling, LinkHandling, Markup, traits_for

#: Most parts of one thread; the last one is shortened with an ellipsis beyond that.
MAX_THREAD_PARTS: Final[int] = 10
#: A shortened summary or body keeping fewer words than this (or, in text written without
#: spaces, fewer clusters than STUB_CLUSTERS) is left out instead: "Information…" is noise.
STUB_WORDS: Final[int] = 4
STUB_CLUSTERS: Final[int] = 6


class Meter:
    """How one channel measures a post and what it accepts (rules from
    :mod:`dissem.compose.counting`; a Mastodon channel's own limits and content warning)."""

    def __init__(self, channel: Channel, *, spoiler_text: str = "", caption: bool = False):
        self.platform = channel.platform
        self.traits = traits_for(channel.platform)
        self.spoiler_text = spoiler_text
        self.url_length = channel.url_length
        kind: Literal["text", "caption"] = "caption" if caption else "text"
        self.kind = kind
        default = counting.limit(self.platform, kind)
        # a channel's max_length is its text limit; a caption's stays the smaller one
        self.limit = (
            min(channel.max_length or default, default)
            if caption
            else (channel.max_length or default)
        )

    def measure(self, text: str) -> int:
        """The length of ``text`` (as sent) the way the platform counts it."""
        if self.traits.counting is Counting.MASTODON:
            return counting.measure_mastodon(
                text,
                url_length=self.url_length or self.traits.url_length,
                spoiler_text=self.spoiler_text,
            )
        return counting.measure(self.platform, text)

    def fits(self, text: str) -> bool:
        """Whether the platform accepts ``text`` (as sent): every length rule, Bluesky's
        bytes, Threads' links; an empty text never does."""
        if not text:
            return False
        quick = self._quick(text)
        return quick if quick is not None else self._counted_fits(text)

    def _quick(self, text: str) -> bool | None:
        """The answer when it costs nothing, else None (then: count). Most candidates a
        search tries are well under or over the limit, and

        - a text has no more grapheme clusters than code points, a Mastodon link counts
          at most ``url_length`` and holds "://", a UTF-8 character is at most 4 bytes,
          a link holds a "." (so under these bounds, every rule holds);
        - an ASCII text without a "." before a letter holds no link and no emoji, so X
          and Threads count its characters (exactly)."""
        rule = self.traits.counting
        max_bytes, max_links = self.traits.max_bytes, self.traits.max_links
        if (
            rule is Counting.TWITTER_TEXT or rule is Counting.CODE_POINTS_EMOJI_BYTES
        ) and text.isascii():
            if _TLD_DOT.search(text):
                return None
            return len(text) <= self.limit and (max_bytes is None or len(text) <= max_bytes)
        if rule is Counting.GRAPHEMES or rule is Counting.CODE_POINTS:
            bound = len(text)
        elif rule is Counting.MASTODON:
            longest = max(self.url_length or 0, self.traits.url_length or 0, 23)
            bound = len(self.spoiler_text) + len(text) + longest * text.count("://")
        else:
            return None
        if (
            bound <= self.limit
            and (max_bytes is None or 4 * len(text) <= max_bytes)
            and (max_links is None or text.count(".") <= max_links)
        ):
            return True
        return None

    def _counted_fits(self, text: str) -> bool:
        return counting.fits(
            self.platform,
            text,
            max_length=self.limit,
            url_length=self.url_length,
            spoiler_text=self.spoiler_text,
            kind=self.kind,
        )


@dataclass
class _Draft:
    """Everything the fitting steps share for one composition."""

    platform: str
    source: str
    origin: str
    used: frozenset[str]
    variables: dict[str, Any]
    meter: Meter
    link: str

    def sent(self, plain: str, suffix: str = "", *, bold: bool = True) -> str:
        """``plain`` plus ``suffix`` as sent: escaped, the title bold on Telegram."""
        title = self.variables.get("title") if bold else None
        return escape_for(self.platform, plain + suffix, bold=title or None, links=(self.link,))

    def fits(self, plain: str, suffix: str = "") -> bool:
        return self.meter.fits(self.sent(plain, suffix))

    def render(self, **changes: Any) -> str:
        return stencil.render(self.source, {**self.variables, **changes}, self.origin)


# Byte-order marks and non-characters: invisible, and X rejects any post holding them.
_INVISIBLE_JUNK = dict.fromkeys((0xFEFF, 0xFFFE, 0xFFFF))


@functools.lru_cache(maxsize=512)
def _nfc(text: str) -> str:
    """NFC (what X counts, and what every platform displays the same) without junk; kept
    for the last texts (a few releases' fields: a sync composes a release for all its
    channels before the next), since one release's fields go to every channel."""
    text = unicodedata.normalize("NFC", text)
    if "\ufeff" in text or "\ufffe" in text or "\uffff" in text:
        text = text.translate(_INVISIBLE_JUNK)  # translate is slow: only when needed
    return text.strip()


@functools.lru_cache(maxsize=1024)
def _hashtags(platform: str, cap: int, tags: tuple[str, ...]) -> tuple[str, ...]:
    """The hashtags of ``tags`` on ``platform``: the same for every channel of a platform
    a release goes to. The cap is part of the key: a platform declared again (as tests do)
    with another cap must not get the hashtags cut for the old one."""
    return tuple(hashtags_for(platform, [_nfc(t) for t in tags], cap=cap))


def _fields(release: Release, channel: Channel, ov: MergedOverride) -> tuple[str, str, str, str]:
    """Title, summary, plain body and the language they are in, for the channel."""
    tr = release.translations.get(channel.language)
    if tr is not None or release.language == channel.language:
        language = channel.language
    else:
        language = release.language
    title = ov.title or (tr and tr.title) or release.title
    summary = ov.summary if ov.summary is not None else (tr and tr.summary) or release.summary
    # A translation without a body gets none: never mix the release's language into it.
    body = (tr.body or "") if tr is not None else release.body
    return _nfc(title), _nfc(summary), _nfc(markdown_to_text(body)) if body else "", language


def compose(release: Release, channel: Channel, now: datetime) -> Composition:
    """The parts ``channel`` sends for ``release``; empty with ``skipped`` when it sends
    nothing (override says skip, Instagram without an image, text that cannot fit).

    Raises ConfigError when the template is broken (syntax, unknown variable, sandbox).
    """
    ov = merged_override(release, channel)
    platform = channel.platform
    traits = traits_for(platform)
    if ov.skip:
        return Composition([], skipped="skipped: override says skip")
    if traits.media_required and release.image is None:
        return Composition([], skipped=f"skipped: {traits.display_name} needs an image")
    cw = ov.content_warning if ov.content_warning is not None else release.content_warning
    draft, hashtags = _draft(release, channel, ov, now, Meter(channel, spoiler_text=cw or ""))
    # the fields as written, before any fitting: the link card and article show them whole
    title, summary = draft.variables["title"], draft.variables["summary"]
    thread = ov.thread if ov.thread is not None else release.thread
    threaded = (channel.thread if thread is None else thread) and traits.threads
    texts = _thread(draft, hashtags) if threaded else _single(draft, hashtags)
    # A caption platform (Telegram): the image goes along when the text fits a caption
    # (1024); a longer text is sent as a message, whose link preview shows the article's
    # image anyway.
    caption = (
        traits.image is ImageHandling.CAPTION
        and release.image is not None
        and len(texts) == 1
        and Meter(channel, caption=True).fits(texts[0])
    )
    meter = Meter(channel, spoiler_text=cw or "", caption=caption)
    if not texts:
        return Composition(
            [], skipped=f"skipped: the text cannot fit {platform}'s limit of {meter.limit}"
        )
    media = (
        (Media(release.image.src, release.image.alt),)
        if release.image is not None and (caption or traits.image is ImageHandling.UPLOAD)
        else ()
    )
    extras = _platform_fields(
        release,
        channel,
        draft.link,
        language=draft.variables["language"],
        content_warning=cw,
        title=title,
        summary=summary,
    )
    return Composition(
        [
            extras(
                Part(
                    index=i,
                    total=len(texts),
                    text=text,
                    length=meter.measure(text),
                    limit=meter.limit,
                    link=draft.link if i == 1 else None,
                ),
                media,
            )
            for i, text in enumerate(texts, start=1)
        ]
    )


def _draft(
    release: Release, channel: Channel, ov: MergedOverride, now: datetime, meter: Meter
) -> tuple[_Draft, list[str]]:
    """The template, its variables and the hashtags, before any fitting."""
    platform = channel.platform
    title, summary, body, language = _fields(release, channel, ov)
    link = tag_link(
        release.url,
        channel.utm,
        platform=platform,
        channel_name=channel.name,
        release_id=release.id,
    )
    tags = ov.hashtags if ov.hashtags is not None else [*release.tags, *channel.hashtags]
    hashtags = list(_hashtags(platform, traits_for(platform).hashtag_cap, tuple(tags)))
    source = ov.text or channel.template or traits_for(platform).default_template
    origin = f"template of channel {channel.name!r}" + (" (release override)" if ov.text else "")
    when = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    host = portal_host(release.url)
    variables: dict[str, Any] = {
        "title": title,
        "summary": summary,
        "body": body,
        "url": link,
        "hashtags": " ".join(hashtags),
        "id": release.id,
        "release_id": release.id,
        "language": language,
        "priority": release.priority,
        "now": when.astimezone(channel.zone),
        "host": host,
        "link_hint": link_hint(language, host),
    }
    used = template_variables(source, origin)
    return _Draft(platform, source, origin, used, variables, meter, link), hashtags


def _platform_fields(
    release: Release,
    channel: Channel,
    link: str,
    *,
    language: str,
    content_warning: str | None,
    title: str,
    summary: str,
) -> Callable[[Part, tuple[Media, ...]], Part]:
    """What each platform needs beside the text, as a function of one part; ``media`` goes
    on the first part. Which options carry the language, a content warning, the channel's
    visibility and the link is the platform's declaration (:mod:`dissem.traits`)."""
    traits = traits_for(channel.platform)

    def extras(part: Part, media: tuple[Media, ...]) -> Part:
        first = part.index == 1
        options: dict[str, Any] = {}
        if traits.language_field:
            options[traits.language_field] = language
        if traits.languages_field:
            options[traits.languages_field] = [language]
        if content_warning and traits.content_warning_field:
            options[traits.content_warning_field] = content_warning
        if channel.visibility and traits.visibility_field:
            options[traits.visibility_field] = channel.visibility
        if traits.link is LinkHandling.EMBED_CARD:
            if first and release.image is not None:
                options["thumb_src"] = release.image.src
            return replace(
                part,
                media=media if first else (),
                facets=facets(part.text, (link,)),
                embed=external_embed(link, title, summary) if first else None,
                options=options,
            )
        if traits.markup is Markup.TELEGRAM_HTML:
            options["parse_mode"] = "HTML"
        if first and traits.link is LinkHandling.ATTACHMENT:
            options[traits.link_field] = link
        elif first and traits.link is LinkHandling.ARTICLE:
            options[traits.link_field] = {"source": link, "title": title, "description": summary}
        return replace(part, media=media if first else (), options=options)

    return extras


def _is_stub(kept: str, whole: str) -> bool:
    """Whether ``kept``, cut from ``whole``, is too little to be worth sending."""
    text = kept.removesuffix(ELLIPSIS)
    if len(whole.split()) > 1:
        return len(text.split()) < STUB_WORDS
    return counting.graphemes(text) < STUB_CLUSTERS  # counts without listing them


#: Where the last channel of the same platform, limit and template cut the same field:
#: the next one (a release goes to hundreds) starts its search there. Only a hint: the
#: cut found is the same without it.
_CUT_HINTS: dict[tuple[str, int, str, str, str], int] = {}


def _shorten_fields(
    draft: _Draft, hashtags: list[str], fits: Callable[[str], bool]
) -> tuple[str | None, list[str]]:
    """Renders with the fields shortened until ``fits``; returns the plain text (None if
    nothing fits) and, in reading order, the text cut from the summary and the body."""
    cut_off: dict[str, str] = {}
    text = draft.render()
    if fits(text):
        return text, []
    for name in ("body", "summary"):
        if name not in draft.used or not draft.variables[name]:
            continue
        value: str = draft.variables[name]

        def fits_field(v: str, field: str = name) -> bool:
            return fits(draft.render(**{field: v}))

        key = (draft.platform, draft.meter.limit, draft.source, name, value)
        cut = best_cut(value, fits_field, hint=_CUT_HINTS.get(key))
        if len(_CUT_HINTS) > 4096:
            _CUT_HINTS.clear()
        _CUT_HINTS[key] = len(cut[0]) if cut else 0
        if cut is not None and _is_stub(cut[0], value):
            cut = None  # "Information…" says nothing; leave the field out instead
        draft.variables[name] = cut[0] if cut else ""
        cut_off[name] = value[cut[1] :] if cut else value
        text = draft.render()
        if fits(text):
            return text, [cut_off[n] for n in ("summary", "body") if cut_off.get(n)]
    while hashtags and "hashtags" in draft.used:
        hashtags.pop()
        draft.variables["hashtags"] = " ".join(hashtags)
        text = draft.render()
        if fits(text):
            return text, [cut_off[n] for n in ("summary", "body") if cut_off.get(n)]
    if "title" in draft.used:
        draft.variables["title"] = shorten(
            draft.variables["title"], lambda v: fits(draft.render(title=v))
        )
        text = draft.render()
    rest = [cut_off[n] for n in ("summary", "body") if cut_off.get(n)]
    if fits(text):
        return text, rest
    return _before_link(text, draft.link, fits), rest


def _before_link(text: str, link: str, fits: Callable[[str], bool]) -> str | None:
    """Last resort (a long literal in the template): the text cut so that the link still
    follows it; None when not even the link alone fits."""
    if link not in text:
        return shorten(text, fits) or None
    head = text.replace(link, "").strip()
    kept = shorten(head, lambda t: fits(t + "\n\n" + link))
    candidate = f"{kept}\n\n{link}" if kept else link
    return candidate if fits(candidate) else None


def _single(draft: _Draft, hashtags: list[str]) -> list[str]:
    text, _ = _shorten_fields(draft, hashtags, draft.fits)
    return [draft.sent(text)] if text else []


def _numbering(index: int, total: int) -> str:
    return f"\n{index}/{total}"


def _thread(draft: _Draft, hashtags: list[str]) -> list[str]:
    """The first part (the template, with the link) and the rest of the summary and body
    in numbered parts; one unnumbered part when everything fits in one."""
    extra = draft.variables["body"] if "body" not in draft.used else ""
    whole = draft.render()
    if not extra and draft.fits(whole):
        return [draft.sent(whole)]
    # Parts are cut with room for the widest numbering they can get ("9/9" below ten
    # parts, "10/10" at ten), so the real numbers never push one over its limit.
    narrow = replace(draft, variables=dict(draft.variables))
    texts = _thread_parts(narrow, list(hashtags), extra, _numbering(9, 9))
    if len(texts) < MAX_THREAD_PARTS:
        return texts
    return _thread_parts(draft, hashtags, extra, _numbering(MAX_THREAD_PARTS, MAX_THREAD_PARTS))


def _thread_parts(draft: _Draft, hashtags: list[str], extra: str, widest: str) -> list[str]:
    first, rest = _shorten_fields(draft, hashtags, lambda t: draft.fits(t, widest))
    if first is None:
        return []
    remainder = "\n\n".join([*rest, extra] if extra else rest).strip()
    chunks = split(remainder, lambda t: draft.fits(t, widest), most=MAX_THREAD_PARTS - 1)
    if not chunks:
        return [draft.sent(first)]
    total = 1 + len(chunks)
    return [draft.sent(first, _numbering(1, total))] + [
        draft.sent(chunk, _numbering(i, total), bold=False)
        for i, chunk in enumerate(chunks, start=2)
    ]
