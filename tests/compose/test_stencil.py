"""stencil.render gives exactly what templates.render gives: the same text for every
template shape and value, the same errors, the real render near a budget limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose import stencil
from dissem.compose.bounded import MAX_OUTPUT
from dissem.compose.templates import render
from dissem.errors import ConfigError

TEMPLATES = [
    "{{ title }}\n\n{% if summary %}{{ summary }}\n\n{% endif %}{{ url }}"
    "{% if hashtags %}\n\n{{ hashtags }}{% endif %}",
    "📰 {{ title }} {{ url }} {{ hashtags }}\n{{ body }}",
    "{{ title }}   \n\n\n\n{{ summary }}\t\n{{ body }}",
    "{{ title|upper }} {{ summary }}",
    "{{ title ~ '!' }} {{ url }}",
    "{% if title|length > 20 %}long{% else %}short{% endif %}: {{ title }}",
    "{% if summary and not body %}{{ summary }}{% elif body %}{{ body }}{% endif %}",
    "{{ 'x' if summary else 'y' }} {{ title if body else url }}",
    "{% for w in title.split() %}[{{ w }}]{% endfor %} {{ summary }}",
    "{% set t = title %}{{ t }} {{ title }}",
    "{{ now.strftime('%H:%M') }} {{ language }} {{ title }}",
    "{{ title }}{{ title }}{{ summary }}{{ title }}",
    "{{ '\\uffff0\\uffff' }}{{ title }}",
    "{{ title }} {{ missing }}",
]
_chars = st.characters(blacklist_categories=("Cs",))
_value = st.one_of(
    st.just(""),
    st.sampled_from(["a", " spaced ", "line\n\n\n\nbreaks  \n", "\uffff", "\uffff1\uffff"]),
    st.text(_chars, max_size=40),
)


def _variables(title: str, summary: str, body: str, url: str) -> dict[str, Any]:
    return {
        "title": title,
        "summary": summary,
        "body": body,
        "url": url,
        "hashtags": "#a #b",
        "language": "id",
        "now": datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    }


def _outcome(function: Any, source: str, variables: dict[str, Any]) -> str:
    try:
        return "text: " + str(function(source, variables, "template of channel 'c'"))
    except ConfigError as exc:
        return "error: " + str(exc.problems)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TEMPLATES), _value, _value, _value, _value)
def test_stencil_renders_exactly_what_the_template_renders(
    source: str, title: str, summary: str, body: str, url: str
) -> None:
    variables = _variables(title, summary, body, url)
    expected = _outcome(render, source, variables)
    assert _outcome(stencil.render, source, variables) == expected
    assert _outcome(stencil.render, source, variables) == expected  # from the stored shape


def test_one_shape_serves_every_value_of_a_printed_variable() -> None:
    stencil.clear()
    source = TEMPLATES[0]
    for i in range(20):
        variables = _variables(f"Title {i}", "Summary", "", f"https://a.example/{i}")
        assert stencil.render(source, variables) == render(source, variables)
    assert len(list(stencil.shapes())) == 1


def test_a_filtered_variable_is_part_of_the_shape() -> None:
    stencil.clear()
    source = "{{ title|upper }} {{ url }}"
    for i in range(3):
        variables = _variables(f"t{i}", "", "", f"u{i}")
        assert stencil.render(source, variables) == f"T{i} u{i}"
    assert len(list(stencil.shapes())) == 3


def test_an_empty_value_is_rendered_as_itself() -> None:
    stencil.clear()
    source = TEMPLATES[0]
    with_summary = _variables("T", "S", "", "U")
    without = _variables("T", "", "", "U")
    assert stencil.render(source, with_summary) == "T\n\nS\n\nU\n\n#a #b"
    assert stencil.render(source, without) == "T\n\nU\n\n#a #b"


def test_values_near_the_output_limit_take_the_real_render() -> None:
    source = "{{ title }}{{ title }}"
    fine = _variables("a" * (MAX_OUTPUT // 4 + 1), "", "", "")
    assert stencil.render(source, fine) == render(source, fine)
    over = _variables("a" * (MAX_OUTPUT // 2 + 1), "", "", "")
    with pytest.raises(ConfigError) as real:
        render(source, over, "o")
    with pytest.raises(ConfigError) as fast:
        stencil.render(source, over, "o")
    assert fast.value.problems == real.value.problems
    assert "over its budget" in fast.value.problems[0].message


def test_a_broken_template_raises_the_real_error() -> None:
    with pytest.raises(ConfigError) as fast:
        stencil.render("{{ title ", _variables("t", "", "", ""), "template of channel 'c'")
    assert "syntax error" in fast.value.problems[0].message
    assert fast.value.problems[0].path == "template of channel 'c'"


def test_shapes_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stencil, "MAX_SHAPES", 10)
    stencil.clear()
    source = "{{ title|upper }} {{ url }}"
    for i in range(50):
        variables = _variables(f"t{i}", "", "", "u")
        assert stencil.render(source, variables) == f"T{i} u"
    assert len(list(stencil.shapes())) == 10
