"""Texts as platforms echo them back: the same up to whitespace and NFC, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissem.errors import LookupAmbiguous
from dissem.platforms.base import RemotePost
from dissem.platforms.text_match import UNKNOWN, Candidate, comparable, pick, same_text


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Hello  world\r\n", "Hello world", True),
        ("Caf\u00e9", "Cafe\u0301", True),  # NFC
        ("Hello world", "Hello world!", False),
    ],
)
def test_same_text(a: str, b: str, same: bool) -> None:
    assert same_text(a, b) is same
    assert (comparable(a) == comparable(b)) is same


# --- pick: text AND place, never a post taken by another --------------------------------

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WANTED = "A paragraph two releases share."


def cand(rid: str, text: str = WANTED, *, minutes: int = 5, parent: str | None = None) -> Candidate:
    return Candidate(RemotePost(rid), text, T0 + timedelta(minutes=minutes), parent)


def test_pick_takes_the_one_post_with_the_text_at_its_place() -> None:
    posts = [cand("other", "Something else"), cand("p2", parent="p1"), cand("q2", parent="q1")]
    found = pick(WANTED, posts, since=T0, reply_to=RemotePost("q1"), taken=(), platform="t")
    assert found == RemotePost("q2")


def test_pick_leaves_posts_elsewhere_earlier_or_taken() -> None:
    def look(*posts: Candidate, reply_to: str | None = None, taken: set[str] | None = None):
        parent = RemotePost(reply_to) if reply_to else None
        return pick(WANTED, posts, since=T0, reply_to=parent, taken=taken or set(), platform="t")

    assert look(cand("a", parent="p1"), reply_to="p9") is None  # replies elsewhere
    assert look(cand("a", parent="p1")) is None  # a reply, where none was expected
    assert look(cand("a"), reply_to="p1") is None  # not a reply, where one was expected
    assert look(cand("a", minutes=-1)) is None  # before the first attempt
    assert look(cand("a"), taken={"a"}) is None  # recorded for another post
    assert look(cand("a", "  A paragraph two\r\nreleases share. ")) == RemotePost("a")


def test_pick_raises_when_two_fit_or_a_place_is_not_shown() -> None:
    with pytest.raises(LookupAmbiguous, match="2 posts"):
        pick(WANTED, [cand("a"), cand("b")], since=T0, reply_to=None, taken=(), platform="t")
    hidden = cand("a", parent=UNKNOWN)
    with pytest.raises(LookupAmbiguous, match="does not show"):
        pick(WANTED, [hidden], since=T0, reply_to=RemotePost("p"), taken=(), platform="t")
    undated = Candidate(RemotePost("a"), WANTED, None, None)
    with pytest.raises(LookupAmbiguous):
        pick(WANTED, [undated], since=T0, reply_to=None, taken=(), platform="t")


ids = st.sampled_from(["a", "b", "c", "d", "e"])
parents = st.one_of(st.none(), st.sampled_from(["p1", "p2", UNKNOWN]))
texts = st.sampled_from([WANTED, WANTED + " ", "Other words."])
candidates = st.lists(
    st.builds(
        lambda rid, text, minutes, parent: cand(rid, text, minutes=minutes, parent=parent),
        ids,
        texts,
        st.integers(-30, 30),
        parents,
    ),
    max_size=6,
    unique_by=lambda c: c.post.remote_id,
)


@given(candidates, st.one_of(st.none(), st.sampled_from(["p1", "p2"])), st.sets(ids))
def test_pick_never_returns_a_post_that_does_not_fit(
    posts: list[Candidate], reply_to: str | None, taken: set[str]
) -> None:
    parent = RemotePost(reply_to) if reply_to else None
    fitting = [
        c
        for c in posts
        if c.post.remote_id not in taken
        and same_text(c.text, WANTED)
        and c.created_at is not None
        and c.created_at >= T0
        and c.parent in (parent and parent.remote_id, UNKNOWN)
    ]
    try:
        found = pick(WANTED, posts, since=T0, reply_to=parent, taken=taken, platform="t")
    except LookupAmbiguous:
        assert len(fitting) >= 2 or any(c.parent == UNKNOWN for c in fitting)
        return
    if found is None:
        assert fitting == []
    else:
        assert [c.post for c in fitting] == [found]
        assert found.remote_id not in taken
