"""Marks looked up on demand agree with where each value is written, merge keys included
(property-based: random blocks of defaults, random items merging some of them)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.config.yamlsafe import Mark, parse_yaml

KEYS = [f"k{i}" for i in range(6)]
values = st.one_of(st.integers(-5, 99), st.sampled_from(["a", "bc", "Jakarta", "x y"]))
block = st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=4)
item = st.tuples(
    st.lists(st.integers(0, 2), max_size=3, unique=True),  # which defaults it merges
    st.dictionaries(st.sampled_from(KEYS), values, max_size=4),  # its own keys
)


def scalar(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) and " " in value else str(value)


def render(
    defaults: list[dict[str, Any]], items: list[tuple[list[int], dict[str, Any]]]
) -> tuple[str, list[dict[str, Any]], list[dict[str, tuple[Mark, Mark]]]]:
    """The YAML text, the data it holds, and for each item each key's (key, value) marks."""
    lines: list[str] = []
    placed: list[dict[str, tuple[Mark, Mark]]] = []
    for n, d in enumerate(defaults):
        lines.append(f"x-d{n}: &d{n}")
        here: dict[str, tuple[Mark, Mark]] = {}
        for key, value in d.items():
            lines.append(f"  {key}: {scalar(value)}")
            here[key] = (Mark(len(lines), 3), Mark(len(lines), 3 + len(key) + 2))
        placed.append(here)
    lines.append("items:")
    data: list[dict[str, Any]] = []
    marks: list[dict[str, tuple[Mark, Mark]]] = []
    for n, (merges, own) in enumerate(items):
        sources = [i for i in merges if i < len(defaults)]
        entries = []
        if sources:
            entries.append(f"<<: [{', '.join(f'*d{i}' for i in sources)}]")
        entries += [f"{key}: {scalar(value)}" for key, value in own.items()]
        entries.append(f"name: i{n}")
        expected: dict[str, Any] = {}
        where: dict[str, tuple[Mark, Mark]] = {}
        for i in reversed(sources):  # earlier sources win over later ones
            expected.update(defaults[i])
            where.update(placed[i])
        for k, entry in enumerate(entries):
            lines.append(("  - " if k == 0 else "    ") + entry)
            key = entry.split(":", 1)[0]
            if key != "<<":
                where[key] = (Mark(len(lines), 5), Mark(len(lines), 5 + len(key) + 2))
        expected.update(own)
        expected["name"] = f"i{n}"
        data.append(expected)
        marks.append(where)
    return "\n".join(lines) + "\n", data, marks


@settings(max_examples=60, deadline=None)
@given(st.lists(block, max_size=3), st.lists(item, min_size=1, max_size=6))
def test_marks_follow_merge_keys_as_the_data_was_built(
    defaults: list[dict[str, Any]], items: list[tuple[list[int], dict[str, Any]]]
) -> None:
    text, data, marks = render(defaults, items)
    doc = parse_yaml(text)
    assert doc.data["items"] == data
    for n, where in enumerate(marks):
        for key, (key_mark, value_mark) in where.items():
            assert doc.values[("items", n, key)] == value_mark, (text, n, key)
            assert doc.keys[("items", n, key)] == key_mark, (text, n, key)
            assert doc.mark(("items", n, key), key=True) == key_mark
        item_mark = doc.values[("items", n)]
        assert item_mark.column == 5
        # a key the item does not have falls back to the item itself
        assert doc.mark(("items", n, "missing")) == item_mark
        assert ("items", n, "missing") not in doc.values
    paths = set(doc.values)
    assert {("items", n, key) for n, d in enumerate(data) for key in d} <= paths
    assert ("items", len(data)) not in doc.values
