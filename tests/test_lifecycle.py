"""The lifecycle table itself: its shape, its refusals, its rendering in the README and in
docs/lifecycle.md, and that no module writes a state the table did not give it."""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissem import lifecycle
from dissem.errors import TransitionRefused
from dissem.lifecycle import NEW, TABLE, TERMINAL, Event, OutcomeLabel, PostState
from dissem.store.queue import Outcome

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- lifecycle-table:start -->", "<!-- lifecycle-table:end -->"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_state_values_are_what_the_database_holds() -> None:
    # No data migration: the column keeps these strings.
    assert [s.value for s in PostState] == [
        "pending",
        "scheduled",
        "publishing",
        "published",
        "failed",
        "unconfirmed",
        "needs_review",
        "cancelled",
        "expired",
        "skipped",
    ]
    assert tuple(PostState) == tuple(PostState(v) for v in PostState.ALL)
    assert PostState.PROBLEMS <= PostState.OPEN | PostState.FINAL


def test_one_row_per_event_each_leading_to_one_state() -> None:
    assert [row.event for row in TABLE] == list(Event)
    for row in TABLE:
        assert row.sources, row
        assert len(set(row.sources)) == len(row.sources), row
        assert row.target not in row.sources, f"{row.event} does not move a post"
        assert row.by in {"planner", "dispatch", "reconcile", "a person"}, row


def test_published_and_cancelled_are_the_terminal_states() -> None:
    assert frozenset({PostState.PUBLISHED, PostState.CANCELLED}) == TERMINAL
    for event in Event:
        assert not set(lifecycle.sources(event)) & TERMINAL, event


def test_every_state_is_reachable_from_a_new_post() -> None:
    reached: set[PostState | None] = {NEW}
    while True:
        more = {row.target for row in TABLE if reached & set(row.sources)} - reached
        if not more:
            break
        reached |= more
    assert reached - {NEW} == set(PostState)


def test_every_label_is_recorded_by_some_event() -> None:
    assert {row.label for row in TABLE if row.label} == set(OutcomeLabel)


@given(st.sampled_from([NEW, *PostState]), st.sampled_from(list(Event)))
def test_transition_agrees_with_allows(current: PostState | None, event: Event) -> None:
    if lifecycle.allows(current, event):
        assert lifecycle.transition(current, event) == lifecycle.target(event)
        if current is not None:
            assert current in lifecycle.sources(event)
    else:
        with pytest.raises(TransitionRefused):
            lifecycle.transition(current, event)


@dataclass
class _Row:
    id: int
    state: PostState


def test_a_refused_move_is_logged_and_not_made(caplog: pytest.LogCaptureFixture) -> None:
    post = _Row(7, PostState.PUBLISHED)
    with caplog.at_level(logging.WARNING, logger="dissem.lifecycle"):
        assert lifecycle.apply(post, Event.CANCEL) is False
    assert post.state == PostState.PUBLISHED
    assert "post 7" in caplog.text and "cancel" in caplog.text and "published" in caplog.text
    assert lifecycle.apply(_Row(8, PostState.FAILED), Event.RETRY) is True


def test_an_outcome_is_an_event_and_takes_its_state_and_label_from_the_table() -> None:
    out = Outcome(1, Event.GAVE_UP, T0, T0)
    assert (out.state, out.label) == (PostState.FAILED, OutcomeLabel.TRANSIENT)
    with pytest.raises(TypeError):
        Outcome(1, PostState.FAILED, T0, T0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Outcome(1, Event.CLAIM, T0, T0)  # not an outcome: no label


def _between_markers(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    assert START in text and END in text, f"{path.name} has no {START} ... {END} section"
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


@pytest.mark.parametrize("name", ["README.md", "docs/lifecycle.md"])
def test_the_documented_table_is_the_table(name: str) -> None:
    assert _between_markers(ROOT / name) == lifecycle.render_markdown(), (
        f"{name}: paste dissem.lifecycle.render_markdown() between the lifecycle-table markers"
    )


# --- no state written behind the table's back -----------------------------------------

_STATE_NAMES = {s.name for s in PostState} | {s.value for s in PostState}


def _names_a_state(node: ast.AST) -> bool:
    """``PostState.X``, a bare ``SCHEDULED``-style constant, or a state's string."""
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and sub.attr in _STATE_NAMES
            and isinstance(sub.value, ast.Name)
            and sub.value.id in {"PostState", "_S"}
        ):
            return True
        if isinstance(sub, ast.Name) and sub.id in {s.name for s in PostState}:
            return True
        if isinstance(sub, ast.Constant) and sub.value in {s.value for s in PostState}:
            return True
    return False


def _state_writes(tree: ast.AST) -> list[int]:
    """Lines that set a ``state`` (keyword or attribute) to a state named in place."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "state" and _names_a_state(node.value):
            lines.append(node.value.lineno)
        elif isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in ast.walk(target)]
            sets_state = any(isinstance(t, ast.Attribute) and t.attr == "state" for t in targets)
            if sets_state and _names_a_state(node.value):
                lines.append(node.lineno)
    return lines


def test_no_module_writes_a_state_the_table_did_not_give() -> None:
    found = []
    for path in sorted((ROOT / "dissem").rglob("*.py")):
        if path.name == "lifecycle.py" or "sandbox" in path.parts or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(ROOT)}:{line}" for line in _state_writes(tree)]
    assert not found, f"states written without dissem.lifecycle: {found}"
