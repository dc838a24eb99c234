"""Cutting text to fit: at a sentence end if that keeps enough, else at a word boundary
with an ellipsis, else (scripts written without spaces) at a grapheme cluster boundary.

A cut never falls inside a URL, a hashtag, a mention or a grapheme cluster (an emoji ZWJ
family, a flag, a letter with its combining marks, a Korean syllable block). Whether a
candidate fits is the caller's question (``fits``), asked of the *whole* post the
candidate would produce, so every platform's own counting, markup and limits apply.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable

import regex

from dissem.compose.urls import find_hashtags, find_mentions, find_urls

ELLIPSIS = "…"
#: A sentence cut is preferred while it keeps at least this share of what the best word
#: cut keeps; below that, cutting at the sentence would throw away too much.
SENTENCE_SHARE = 0.6

_GRAPHEME = regex.compile(r"\X")
_SENTENCE_END = regex.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？｡]+[」』）]*")
# a word's last character and the space after it (matching the space too is 4x faster
# than a lookahead; the next word end cannot start on a space, so none is missed). The
# stdlib engine scans this 2x faster than the regex module; its class is spelt out as
# Unicode's White_Space (the regex module's \s), since the stdlib's \s also takes
# U+001C-U+001F (test_shorten checks the two agree on every character).
_WHITE_SPACE = "\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WORD_END = re.compile(f"[^{_WHITE_SPACE}][{_WHITE_SPACE}]")
_CLAUSE_END = regex.compile(r"[、，､](?!\s)")
_PREPEND = regex.compile(r"\p{Grapheme_Cluster_Break=Prepend}")
# Trailing characters that read badly before an ellipsis ("word,…").
_TRAILING = " \t\r\n,;:-–—、，､"

Fits = Callable[[str], bool]


def graphemes(text: str) -> list[str]:
    """The extended grapheme clusters of ``text``."""
    return [m.group(0) for m in _GRAPHEME.finditer(text)]


def protected_spans(text: str) -> list[tuple[int, int]]:
    """URLs (with or without a scheme), hashtags and mentions: never cut inside these."""
    spans = find_urls(text, require_scheme=False) + find_hashtags(text) + find_mentions(text)
    return sorted(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or nested spans (a hashtag inside a URL fragment) as disjoint ones."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _allowed(points: Iterable[int], spans: list[tuple[int, int]]) -> list[int]:
    """``points`` that do not fall strictly inside any span, sorted, without duplicates."""
    if not spans:
        return sorted(set(points))
    disjoint = _merge(spans)
    starts = [s for s, _ in disjoint]
    out: set[int] = set()
    for p in points:
        i = bisect.bisect_left(starts, p) - 1  # the last span starting before p
        if i >= 0 and p < disjoint[i][1]:
            continue
        out.add(p)
    return sorted(out)


class _Cuts:
    """Candidate cut positions in one text (keep ``text[:p]``), best kind first: after a
    sentence end, at the end of a word, at a cluster boundary. Never position 0 or the end.

    Cluster boundaries are only computed when needed (text without spaces, or a sentence
    end not followed by a space): a position before whitespace is a boundary unless a
    "prepend" character (Arabic number signs...) precedes it.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = protected_spans(text)
        self._bounds: list[int] | None = None
        self._bound_set: frozenset[int] | None = None
        ends = [m.start() + 1 for m in _WORD_END.finditer(text)]
        #: whether the text separates words with spaces (then it is never cut inside one)
        self.spaced = bool(ends)
        # prepended marks are rare (and never ASCII): look for them at each point only
        # when there are any
        prepend = not text.isascii() and _PREPEND.search(text) is not None
        if prepend:
            ends = [p for p in ends if not _PREPEND.match(text, p - 1)]
        clauses = (
            [m.end() for m in _CLAUSE_END.finditer(text) if m.end() < len(text)]
            if "、" in text or "，" in text or "､" in text
            else []
        )
        if clauses:  # "、" ends a clause in text written without spaces
            ends = sorted(set(ends) | {p for p in clauses if self.is_bound(p)})
        self.word = _allowed(ends, self.spans)
        sentence: list[int] = []
        for m in _SENTENCE_END.finditer(text):
            p = m.end()
            if p < len(text) and (
                not (prepend and _PREPEND.match(text, p - 1))
                if text[p].isspace()
                else self.is_bound(p)
            ):
                sentence.append(p)
        self.sentence = _allowed(sentence, self.spans)

    def bounds(self) -> list[int]:
        """Every cluster boundary after position 0, the end included."""
        if self._bounds is None:
            self._bounds = [m.end() for m in _GRAPHEME.finditer(self.text)]
        return self._bounds

    def is_bound(self, p: int) -> bool:
        if self._bound_set is None:
            self._bound_set = frozenset(self.bounds())
        return p in self._bound_set

    def grapheme(self) -> list[int]:
        return _allowed(self.bounds()[:-1], self.spans)


@functools.lru_cache(maxsize=256)
def _cuts(text: str) -> _Cuts:
    """The cut positions of ``text``, kept for the last texts: every channel a release
    goes to cuts the same fields (and mostly the same windows of its body)."""
    return _Cuts(text)


def _with_ellipsis(text: str, p: int, ellipsis: str) -> str:
    # Dangling punctuation only goes when an ellipsis replaces it; a thread chunk keeps it.
    kept = text[:p].rstrip(_TRAILING) if ellipsis else text[:p].rstrip()
    return kept + ellipsis if kept else ""


def _last_fitting(
    points: list[int], make: Callable[[int], str], fits: Fits, hint: int | None = None
) -> int | None:
    """The largest point whose text fits, by binary search (fitting is monotone in length).

    With a ``hint`` (a position near where the answer is likely to be: the previous
    chunk's length, the word cut a sentence cut must pass) the boundary is found by
    galloping from it, usually in two or three measurements instead of seven or eight,
    and the answer is the one the binary search gives for that boundary (the same, probed
    less).
    """
    if hint is None or not points:
        return _bisect_fitting(points, lambda i: _fits_at(points, i, make, fits))
    empty = 0  # candidates that come out empty ("- " cut before the word) never fit
    while empty < len(points) and not make(points[empty]):
        empty += 1
    if empty == len(points):
        return None
    known: dict[int, bool] = {}

    def probe(i: int) -> bool:
        if i < empty:
            return False
        if i not in known:
            known[i] = fits(make(points[i]))
        return known[i]

    guess = min(max(bisect.bisect_right(points, hint) - 1, empty), len(points) - 1)
    if probe(guess):  # the boundary is at or after the guess: gallop up
        good, step = guess, 1
        bad = len(points)
        while good + step < len(points):
            if not probe(good + step):
                bad = good + step
                break
            good += step
            step *= 2
    else:  # gallop down
        bad, step = guess, 1
        good = empty - 1
        while bad - step >= empty:
            if probe(bad - step):
                good = bad - step
                break
            bad -= step
            step *= 2
    while bad - good > 1:  # the last fitting index lies in [good, bad)
        mid = (good + bad) // 2
        if probe(mid):
            good = mid
        else:
            bad = mid
    last = good
    return _bisect_fitting(points, lambda i: empty <= i <= last)


def _fits_at(points: list[int], i: int, make: Callable[[int], str], fits: Fits) -> bool:
    candidate = make(points[i])
    return bool(candidate) and fits(candidate)


def _bisect_fitting(points: list[int], fits_at: Callable[[int], bool]) -> int | None:
    """The binary search over ``points``, asking ``fits_at(index)``."""
    lo, hi, best = 0, len(points) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits_at(mid):
            best, lo = points[mid], mid + 1
        else:
            hi = mid - 1
    return best


def _window(text: str, fits: Fits, ellipsis: str) -> str:
    """A prefix of ``text`` that holds every cut that can fit: doubled until the text up
    to it no longer fits. It ends before whitespace, and URLs, hashtags, mentions and
    clusters never contain a break there, so its cut points are the text's own. Keeps
    cutting a long body at O(size of one post) instead of O(size of the body)."""
    size = 512
    while size < len(text):
        end = size
        while end < len(text) and not text[end].isspace():
            end += 1
        if end >= len(text):
            break
        if not fits(_with_ellipsis(text, end, ellipsis)):
            return text[:end]
        size *= 2
    return text


def best_cut(
    text: str, fits: Fits, *, ellipsis: str = ELLIPSIS, hint: int | None = None
) -> tuple[str, int] | None:
    """The longest good prefix of ``text`` that fits: ``(prefix, where the rest starts)``.

    A sentence cut ends with its own punctuation and gets no ellipsis; word and grapheme
    cuts end with ``ellipsis``. Text without word boundaries (Japanese, Chinese, Thai, a
    run of emoji) is cut between clusters. None when not even the first word (or, without
    word boundaries, the first cluster) fits. ``hint``: where the cut is likely to be (a
    guess only: the answer is the same without it, found with fewer measurements).
    """
    return _cut_within(text, _window(text, fits, ellipsis), fits, ellipsis, hint)


def _cut_within(
    text: str, window: str, fits: Fits, ellipsis: str, hint: int | None = None
) -> tuple[str, int] | None:
    cuts = _cuts(window)
    sentence, word = cuts.sentence, cuts.word
    word_at = _last_fitting(word, lambda p: _with_ellipsis(text, p, ellipsis), fits, hint)
    # A sentence end at or before the word cut fits without asking (it is a prefix of a
    # text that fits); only those after it (no space follows 。) need measuring, and
    # mostly the first of them already does not fit.
    known = [p for p in sentence if word_at is not None and p <= word_at]
    later = [p for p in sentence if word_at is None or p > word_at]
    sentence_at = _last_fitting(
        later, lambda p: text[:p].rstrip(), fits, None if word_at is None else word_at
    ) or (known[-1] if known else None)
    if sentence_at is not None and sentence_at >= SENTENCE_SHARE * (word_at or 0):
        return text[:sentence_at].rstrip(), _skip_space(text, sentence_at)
    if word_at is not None:
        return _with_ellipsis(text, word_at, ellipsis), _skip_space(text, word_at)
    if cuts.spaced:  # text with spaces is cut between words or not at all: "Informati…"
        return None
    at = _last_fitting(cuts.grapheme(), lambda p: _with_ellipsis(text, p, ellipsis), fits)
    if at is None:
        return None
    return _with_ellipsis(text, at, ellipsis), _skip_space(text, at)


def _skip_space(text: str, p: int) -> int:
    while p < len(text) and text[p].isspace():
        p += 1
    return p


def shorten(text: str, fits: Fits, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` when it fits, else its best cut (see :func:`best_cut`), else ``""``."""
    if fits(text):
        return text
    cut = best_cut(text, fits, ellipsis=ellipsis)
    return cut[0] if cut else ""


def first_unit_end(text: str) -> int:
    """Where the first unbreakable unit (a protected span or a cluster) of ``text`` ends."""
    grapheme = _Cuts(text).grapheme()
    return grapheme[0] if grapheme else len(text)


def split(text: str, fits: Fits, *, most: int | None = None, ellipsis: str = "") -> list[str]:
    """``text`` in consecutive chunks that each fit, cut like :func:`best_cut`; at most
    ``most`` chunks, the last one then shortened with :data:`ELLIPSIS`.

    A unit that fits no chunk on its own (a URL longer than the limit) is dropped rather
    than cut, so no chunk ever breaks a URL or a cluster.
    """
    chunks: list[str] = []
    rest = text.strip()
    hint: int | None = None  # chunks are about as long as the one before
    while rest:
        if most is not None and len(chunks) == most - 1:
            last = shorten(rest, fits)
            return [*chunks, last] if last else chunks
        window = _window(rest, fits, ellipsis)
        # Only a rest no longer than its window can fit whole (measuring it all each time
        # would make splitting a long body quadratic).
        if len(window) == len(rest) and fits(rest):
            chunks.append(rest)
            break
        cut = _cut_within(rest, window, fits, ellipsis, hint)
        if cut is None:
            rest = rest[first_unit_end(rest) :].lstrip()
            continue
        chunks.append(cut[0])
        hint = len(cut[0])
        rest = rest[cut[1] :]
    return chunks


def truncate_graphemes(text: str, most: int) -> str:
    """At most ``most`` grapheme clusters of ``text`` (for card titles and the like)."""
    if len(text) <= most:  # no more clusters than code points: nothing to list
        return text
    clusters = graphemes(text)
    if len(clusters) <= most:
        return text
    return "".join(clusters[: max(0, most - 1)]) + ELLIPSIS
