"""The stand-ins' length checks against the platforms' own reference data, at the limits.

The stand-ins count lengths apart from dissem (:mod:`dissem.sandbox.lengths`), so these
tests post reference texts to them over HTTP and hold the answers to what the platforms'
projects publish:

- X: twitter-text's conformance cases (``tests/data/twitter_validate_weighted.yml``,
  transcribed from twitter/twitter-text conformance/tests/validate.yml): accepted exactly
  when ``valid``, and for each valid case, padded to exactly 280 by its published
  ``weightedLength`` it is accepted, one more and it is refused.
- Mastodon: the cases of mastodon/mastodon spec/validators/status_length_validator_spec.rb
  (500 characters; links with a scheme count 23; ``@user@domain`` counts as ``@user``;
  grapheme clusters). Its "overly long domain" case is left out: the rule behind it is not
  in the validator or ``Account::MENTION_RE`` as published.
- Bluesky: the ``app.bsky.feed.post`` lexicon (``maxGraphemes: 300``, ``maxLength: 3000``
  UTF-8 bytes) with the strings of bluesky-social/atproto
  packages/common-web/tests/strings.test.ts (``graphemeLen``, ``utf8Len``).

Then dissem's own counting is checked end to end: texts dissem pads to exactly its limit
are accepted by the stand-ins and one more character is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissem.compose import counting
from dissem.sandbox import RunningSandbox, lengths, start_sandbox

DATA = Path(__file__).resolve().parents[1] / "data" / "twitter_validate_weighted.yml"
V3_SECTIONS = (
    "WeightedTweetsWithDiscountedEmojiCounterTest",
    "UnicodeDirectionalMarkerCounterTest",
)


def _x_cases() -> list[Any]:
    tests = yaml.safe_load(DATA.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(case, id=case["description"][:60])
        for section in V3_SECTIONS
        for case in tests[section]
    ]


X_CASES = _x_cases()
NEAR_LIMIT = [p for p in X_CASES if 200 <= p.values[0]["expected"]["weightedLength"] <= 400]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


_serial = iter(range(1_000_000))


def post_x(sb: RunningSandbox, http: requests.Session, text: str) -> int:
    """Posts ``text`` to the X stand-in from a fresh account (no duplicate-content refusal)."""
    token = f"x-ref-{next(_serial)}"
    r = http.post(
        f"{sb.url}/x/2/tweets",
        json={"text": text},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code in (201, 400), r.text
    return r.status_code


def post_mastodon(sb: RunningSandbox, http: requests.Session, text: str, spoiler: str = "") -> int:
    r = http.post(
        f"{sb.url}/mastodon/api/v1/statuses",
        data={"status": text, "spoiler_text": spoiler},
        headers={"Authorization": "Bearer masto-ref"},
        timeout=10,
    )
    assert r.status_code in (200, 422), r.text
    return r.status_code


def post_bluesky(sb: RunningSandbox, http: requests.Session, text: str) -> int:
    login = http.post(
        f"{sb.url}/bluesky/xrpc/com.atproto.server.createSession",
        json={"identifier": "ref.example.org", "password": "pw-ref"},
        timeout=10,
    ).json()
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00Z"}
    r = http.post(
        f"{sb.url}/bluesky/xrpc/com.atproto.repo.createRecord",
        json={"repo": login["did"], "collection": "app.bsky.feed.post", "record": record},
        headers={"Authorization": f"Bearer {login['accessJwt']}"},
        timeout=10,
    )
    assert r.status_code in (200, 400), r.text
    return r.status_code


# --- X: twitter-text conformance ----------------------------------------------------------


def test_the_reference_data_has_cases_on_both_sides_of_the_limit() -> None:
    weights = [p.values[0]["expected"]["weightedLength"] for p in NEAR_LIMIT]
    assert min(weights) <= 280 < max(weights) and len(NEAR_LIMIT) >= 8


@pytest.mark.parametrize("case", X_CASES)
def test_the_x_count_is_twitter_texts(case: dict[str, Any]) -> None:
    assert lengths.x_weight(case["text"]) == case["expected"]["weightedLength"]
    assert lengths.x_valid(case["text"]) is case["expected"]["valid"]


@pytest.mark.parametrize("case", NEAR_LIMIT)
def test_x_stand_in_accepts_exactly_the_valid_cases(
    sandbox: RunningSandbox, http: requests.Session, case: dict[str, Any]
) -> None:
    expected = 201 if case["expected"]["valid"] else 400
    assert post_x(sandbox, http, case["text"]) == expected


def _pad(text: str, amount: int) -> str:
    """``text`` and ``amount`` more weight: a newline (1, ends any link) and ASCII letters."""
    return text if amount == 0 else text + "\n" + "x" * (amount - 1)


@pytest.mark.parametrize("case", [p for p in X_CASES if p.values[0]["expected"]["valid"]][:12])
def test_x_stand_in_draws_the_line_at_280_by_the_published_weight(
    sandbox: RunningSandbox, http: requests.Session, case: dict[str, Any]
) -> None:
    room = 280 - case["expected"]["weightedLength"]
    assert room >= 0
    assert post_x(sandbox, http, _pad(case["text"], room)) == 201
    assert post_x(sandbox, http, _pad(case["text"], room + 1)) == 400


# --- Mastodon: StatusLengthValidator's spec ---------------------------------------------

LINK = "http://" + "b" * 30 + ".com/example"
MASTODON_CASES = [  # (text, content warning, accepted)
    pytest.param("a" * 520, "", False, id="text over the limit"),
    pytest.param("b" * 251, "a" * 250, False, id="text and warning over the limit"),
    pytest.param("a" * 476 + " " + LINK, "", True, id="a link counts 23"),
    pytest.param("a" * 476 + LINK, "", False, id="a link glued to a word is no link"),
    pytest.param("http://example.com/valid?" + "#foo?" * 1000, "", False, id="overlong link"),
    pytest.param("a" * 475 + " @alice@" + "b" * 30 + ".com", "", True, id="remote mention"),
    pytest.param("\u2728" * 500, "", True, id="multi-byte emoji"),
    pytest.param("\U0001f3f3\ufe0f\u200d\u26a7\ufe0f" * 500, "", True, id="ZWJ sequence"),
    pytest.param("a" * 500, "", True, id="exactly 500"),
    pytest.param("a" * 501, "", False, id="501"),
    pytest.param("a" * 400, "w" * 100, True, id="500 with the warning"),
]


@pytest.mark.parametrize(("text", "spoiler", "accepted"), MASTODON_CASES)
def test_mastodon_stand_in_follows_the_validator_spec(
    sandbox: RunningSandbox, http: requests.Session, text: str, spoiler: str, accepted: bool
) -> None:
    assert post_mastodon(sandbox, http, text, spoiler) == (200 if accepted else 422)


@pytest.mark.parametrize(("text", "spoiler", "accepted"), MASTODON_CASES)
def test_dissem_counts_mastodon_as_the_validator_spec(
    text: str, spoiler: str, accepted: bool
) -> None:
    assert counting.fits("mastodon", text, spoiler_text=spoiler) is accepted


# --- Bluesky: the lexicon's limits with atproto's own strings ----------------------------

MIXED = (
    "a~\u00f6\u00f1\u00a9\u2f58\u260e\U000132d3\U0001f600"
    + "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f467"
)
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f467"


def test_atproto_reference_strings_measure_as_published() -> None:
    assert lengths.graphemes(MIXED) == counting.graphemes(MIXED) == 10  # graphemeLen
    assert len(FAMILY.encode("utf-8")) == counting.bluesky_bytes(FAMILY) == 25  # utf8Len


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        pytest.param(MIXED * 30, True, id="300 graphemes"),
        pytest.param(MIXED * 30 + "a", False, id="301 graphemes"),
        pytest.param(FAMILY * 120, True, id="3000 bytes"),
        pytest.param(FAMILY * 121, False, id="3025 bytes in 121 graphemes"),
    ],
)
def test_bluesky_stand_in_and_dissem_apply_the_lexicon_limits(
    sandbox: RunningSandbox, http: requests.Session, text: str, accepted: bool
) -> None:
    assert post_bluesky(sandbox, http, text) == (200 if accepted else 400)
    assert counting.fits("bluesky", text) is accepted


# --- dissem's counting, end to end -------------------------------------------------------

WORDS = st.sampled_from(
    [
        "kata", "Jakarta", "diplomasi", "café", "naïve", "日本語", "한국어", "🎉", "👍🏽",
        "🇮🇩", "👨\u200d👩\u200d👧", "❤️", "#vokasi", "@warta", "@alice@mastodon.social",
        "https://kemlu.go.id/berita/2026/12/workshop", "example.org", "dissem.io/x", "—", "…",
    ]
)  # fmt: skip
TEXTS = st.lists(WORDS, min_size=1, max_size=30).map(" ".join)


def _fill(platform: str, text: str, cap: int) -> str | None:
    """``text`` padded with letters until dissem measures exactly ``cap``; None if over."""
    room = cap - counting.measure(platform, text)
    return None if room < 1 else text + " " + "x" * (room - 1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS)
def test_texts_dissem_fills_to_the_limit_are_taken_and_one_more_is_not(
    sandbox: RunningSandbox, http: requests.Session, text: str
) -> None:
    x = _fill("x", text, 280)
    if x is not None:
        assert post_x(sandbox, http, x) == 201, x
        assert post_x(sandbox, http, x + "x") == 400, x
    masto = _fill("mastodon", text, 500)
    if masto is not None:
        assert post_mastodon(sandbox, http, masto) == 200, masto
        assert post_mastodon(sandbox, http, masto + "x") == 422, masto
    bsky = _fill("bluesky", text, 300)
    if bsky is not None:
        assert post_bluesky(sandbox, http, bsky) == 200, bsky
        assert post_bluesky(sandbox, http, bsky + "x") == 400, bsky
