"""Templates render within a budget: no template hangs or eats memory, neither when it is
checked (``validate``) nor when it is rendered (``preview``, sync), and going over the
budget is a config error located at the template's line."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose.bounded import BoundedEnvironment, TemplateBudgetError, size_of
from dissem.compose.templates import check_template, render
from dissem.errors import ConfigError

VARIABLES = {
    "title": "Indonesia and Germany sign vocational deal",
    "summary": "A summary.",
    "body": "Body text.\n\nSecond paragraph.",
    "url": "https://www.kemlu.example/a?utm_source=x",
    "hashtags": "#A #B",
    "id": "r1",
    "release_id": "r1",
    "language": "en",
    "priority": "normal",
    "now": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
    "host": "kemlu.example",
    "link_hint": "Link in bio",
}


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fails the test (instead of hanging it) when the block takes longer than ``seconds``."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: Templates from the issue and their relatives: each would hang or take gigabytes.
OVER_BUDGET = [
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
    "{% for a in title * 300 %}{% for b in title * 300 %}{% endfor %}{% endfor %}",
    "{{ title|center(2000000000) }}",
    "{{ 'a' * 10**8 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%.999999999f' % 1.5 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{:{}}'.format(1, 999999999) }}",
    "{{ title.center(999999999) }}",
    "{{ title.ljust(10**9) }}",
    "{{ '\t'.expandtabs(10**8) }}",
    "{{ (1).to_bytes(10**9, 'big') }}",
    "{{ 10 ** (10 ** 8) }}",
    "{{ '%s'|format(title)|indent(10**9) }}",
    "{{ range(3)|batch(10**9, 'x')|list }}",
    "{{ ('x' * 1000)|replace('x', 'y' * 1000)|replace('y', 'z' * 1000) }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}"
    "{% endfor %}",
    "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}"
    "{% endfor %}{{ ns.l }}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{% for i in range(10000) %}{{ body * 100 }}{% endfor %}",
    "{% for i in range(10000) %}" + "x" * 2000 + "{% endfor %}",
]


@pytest.mark.parametrize("template", OVER_BUDGET)
def test_a_template_over_its_budget_is_a_located_config_error(template: str) -> None:
    started = time.monotonic()
    with deadline(10), pytest.raises(ConfigError, match="over its budget") as info:
        render(template, VARIABLES, "template of channel 'x'")
    assert time.monotonic() - started < 3
    (problem,) = info.value.problems
    assert problem.path == "template of channel 'x'" and problem.hint


@pytest.mark.parametrize("template", OVER_BUDGET[:6])
def test_check_template_reports_a_template_over_budget_without_hanging(template: str) -> None:
    """``validate`` checks templates: it renders them once with sample values, and compiling
    folds no constant (Jinja would compute ``'%0999999999d' % 1`` while compiling)."""
    with deadline(10), pytest.raises(ConfigError, match="over its budget"):
        check_template(template, "config/channels.yaml")


def test_lipsum_is_not_offered() -> None:
    with deadline(10), pytest.raises(ConfigError, match="lipsum"):
        check_template("{{ lipsum(n=10**8) }}")


def test_the_error_names_the_template_line() -> None:
    template = "{{ title }}\n{{ summary }}\n{{ title|center(2000000000) }}\n"
    with pytest.raises(ConfigError) as info:
        render(template, VARIABLES, "t")
    assert info.value.problems[0].line == 3


def test_the_output_is_capped() -> None:
    template = "{% for i in range(5000) %}{{ body * 20 }}{% endfor %}"
    with pytest.raises(ConfigError, match="over its budget"):
        render(template, {**VARIABLES, "body": "x" * 500}, "t")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ title|upper|truncate(12, True, '') }}", "INDONESIA AN"),
        ("{% for w in title.split()[:3] %}{{ w ~ '|' }}{% endfor %}", "Indonesia|and|Germany|"),
        ("{{ '%05.1f' % 3.14159 }} {{ '{:>6}'.format(id) }} {{ 2 ** 10 }}", "003.1     r1 1024"),
        ("{{ [1, 2, 3]|join('-') }} {{ {'a': 1}['a'] }} {{ (1, 2)|sum }}", "1-2-3 1 3"),
        ("{{ 'ab' * 3 }}{{ id|center(6) }}", "ababab  r1"),
        ("{% for i in range(200) %}{% for j in range(200) %}{% endfor %}{% endfor %}ok", "ok"),
        ("{{ now.strftime('%d/%m %H:%M') }} {{ hashtags|replace('#', '') }}", "01/12 09:30 A B"),
        ("{% set ns = namespace(n=0) %}{% for p in body.split('\n\n') %}"
         "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "2"),
    ],
)  # fmt: skip
def test_ordinary_templates_are_unchanged(template: str, expected: str) -> None:
    assert render(template, VARIABLES, "t") == expected


def test_the_sandbox_still_refuses_internals() -> None:
    with pytest.raises(ConfigError, match=r"not allowed|unsafe"):
        render("{{ title.__class__.__mro__ }}", VARIABLES, "t")
    with pytest.raises(ConfigError):  # the immutable sandbox: no list.append
        render("{% set l = [] %}{{ l.append(1) }}", VARIABLES, "t")


def test_templates_render_only_within_a_budget() -> None:
    template = BoundedEnvironment().from_string("{% for i in range(3) %}{{ i }}{% endfor %}")
    with pytest.raises(TemplateBudgetError):
        template.render()


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.recursive(
        st.text(max_size=20) | st.integers() | st.none(),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=30,
    )
)
def test_size_of_counts_at_least_what_printing_writes_for_texts(value: object) -> None:
    """The size is an upper bound of the characters of every text in the value."""

    def texts(v: object) -> int:
        if isinstance(v, str):
            return len(v)
        if isinstance(v, list):
            return sum(texts(x) for x in v)
        if isinstance(v, dict):
            return sum(texts(k) + texts(x) for k, x in v.items())
        return 0

    assert size_of(value) >= texts(value)


def test_size_of_counts_shared_parts_each_time_and_stops_early() -> None:
    shared = ["x" * 1000]
    nested: list[object] = shared
    for _ in range(40):  # 2**40 copies of the text when printed, a few objects in memory
        nested = [nested, nested]
    started = time.monotonic()
    assert size_of(nested) > 1_000_000
    assert time.monotonic() - started < 1
