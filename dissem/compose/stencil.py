"""A template rendered once per shape, then filled in: :func:`render` gives exactly what
:func:`dissem.compose.templates.render` gives, without running Jinja for each value.

Fitting a post renders its template dozens of times with one field cut shorter each
time, and a release goes to hundreds of channels whose templates differ only in the
link. Most variables of most templates are only printed (``{{ title }}``) or tested for
being empty (``{% if summary %}``); for such a variable holding a non-empty text, the
output is the output rendered with a stand-in (a marker no value holds) with the marker
replaced by the text. So each template is rendered once per *shape* (the values of the
other variables, and which printed ones are empty), and each render after that is a few
string replacements and the same tidying.

A variable used any other way (a filter, a comparison, ``~``, a loop, a macro argument,
``{% set %}``) keeps its value in the rendered shape. Anything unusual falls back to the
real render: a marker character in a value or in the output, an error, or a render that
would come within half of any budget limit (:mod:`dissem.compose.bounded`), so budget
errors are raised by the real render with their real messages.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Final

from jinja2 import nodes

from dissem.compose.bounded import MAX_OUTPUT, MAX_SIZE, MAX_WORK, budget
from dissem.compose.templates import (
    _BLANK_RUNS,
    _TRAILING_SPACE,
    _compile,
    _environment,
    template_variables,
)
from dissem.compose.templates import render as full_render

__all__ = ["clear", "render"]

#: The marker character: a non-character, which the composer strips from release text.
MARK: Final = "\uffff"
#: Shapes kept (the oldest dropped first): a shape is one template's output with
#: markers, a few hundred characters.
MAX_SHAPES: Final = 1024


def _walk_names(node: nodes.Node, role: str | None, bad: set[str]) -> None:
    """Adds to ``bad`` every name used other than printed whole or tested for truth."""
    if isinstance(node, nodes.Name):
        if node.ctx != "load" or role is None:
            bad.add(node.name)
        return
    if isinstance(node, nodes.Output):
        for child in node.nodes:
            _walk_names(child, "print" if isinstance(child, nodes.Name) else None, bad)
        return
    if isinstance(node, nodes.If):
        _walk_names(node.test, "test", bad)
        for inner in (*node.body, *node.elif_, *node.else_):
            _walk_names(inner, None, bad)
        return
    if isinstance(node, nodes.CondExpr):
        _walk_names(node.test, "test", bad)
        _walk_names(node.expr1, None, bad)
        if node.expr2 is not None:
            _walk_names(node.expr2, None, bad)
        return
    if role == "test" and isinstance(node, nodes.And | nodes.Or | nodes.Not):
        for operand in node.iter_child_nodes():
            _walk_names(operand, "test", bad)
        return
    for other in node.iter_child_nodes():
        _walk_names(other, None, bad)


@lru_cache(maxsize=1024)
def _plan(source: str) -> tuple[tuple[str, str | None], ...]:
    """The variables the template uses, in order, each with its marker when it is only
    printed whole or tested (else None: its value is part of the shape)."""
    used = template_variables(source)
    bad: set[str] = set()
    _walk_names(_environment().parse(source), None, bad)
    return tuple(
        (name, None if name in bad else _marker(index)) for index, name in enumerate(sorted(used))
    )


class _Shapes:
    """Rendered shapes: key -> (output with markers, budget work it used); the oldest
    goes first when there are too many (a sync renders one release's shapes, then the
    next one's)."""

    def __init__(self) -> None:
        self.items: OrderedDict[Any, tuple[str, int]] = OrderedDict()
        self.lock = threading.Lock()  # a preview and the worker may compose at once

    def get(self, key: Any) -> tuple[str, int] | None:
        return self.items.get(key)  # one dict read: safe without the lock

    def put(self, key: Any, value: tuple[str, int]) -> None:
        with self.lock:
            self.items[key] = value
            if len(self.items) > MAX_SHAPES:
                self.items.popitem(last=False)


_SHAPES = _Shapes()


def clear() -> None:
    """Forgets every rendered shape (benchmarks start each round cold)."""
    with _SHAPES.lock:
        _SHAPES.items.clear()


#: Part of every marker: a template can write the marker character (``'\\uffff'``), but
#: cannot know this.
_NONCE: Final = secrets.token_hex(8)


def _marker(index: int) -> str:
    return f"{MARK}{_NONCE}{index}{MARK}"


def _raw(source: str, variables: dict[str, Any]) -> tuple[str, int] | None:
    """The template's output (untidied) and the budget work it used; None on any error
    (the real render then raises it)."""
    chunks: list[str] = []
    try:
        template = _compile(source, "<template>")
        with budget() as used:
            for chunk in template.generate(variables):
                chunks.append(chunk)
    except Exception:
        return None
    return "".join(chunks), used.work


def _filled(raw: str, work: int, fills: list[tuple[str, str, str]]) -> str | None:
    """``raw`` with each marker replaced by its text; None when the real render could come
    near a budget limit, or a marker is not where it should be."""
    markers = 0
    length = len(raw)
    for _, marker, text in fills:
        count = raw.count(marker)
        markers += count
        grow = count * (len(text) - len(marker))
        length += grow
        work += grow
        if count and len(text) > MAX_SIZE // 2:
            return None
    if raw.count(MARK) != 2 * markers or length > MAX_OUTPUT // 2 or work > MAX_WORK // 2:
        return None
    for _, marker, text in fills:
        raw = raw.replace(marker, text)
    return raw


def _split(
    plan: tuple[tuple[str, str | None], ...], variables: dict[str, Any]
) -> tuple[list[tuple[str, str, str]], tuple[Any, ...]] | None:
    """(name, marker and text of each variable filled in, the key of the shape); None
    when a value holds the marker character."""
    fills: list[tuple[str, str, str]] = []
    key: list[Any] = []
    for name, marker in plan:
        value = variables.get(name)
        if type(value) is str:
            if MARK in value:
                return None
            if marker is not None and value:
                fills.append((name, marker, value))
                key.append(name)
                continue
        key.append((name, value))
    return fills, tuple(key)


def render(source: str, variables: dict[str, Any], origin: str = "<template>") -> str:
    """Exactly :func:`dissem.compose.templates.render` (same text, same errors)."""
    try:
        plan = _plan(source)
    except Exception:
        return full_render(source, variables, origin)
    split = _split(plan, variables) if MARK not in source else None
    if split is None:
        return full_render(source, variables, origin)
    fills, key = split
    try:
        shape = _SHAPES.get((source, key))
    except TypeError:  # a value that cannot be a key
        return full_render(source, variables, origin)
    if shape is None:
        shape = _raw(source, {**variables, **{name: marker for name, marker, _ in fills}})
        if shape is None:
            return full_render(source, variables, origin)
        _SHAPES.put((source, key), shape)
    filled = _filled(*shape, fills)
    if filled is None:
        return full_render(source, variables, origin)
    return _tidy(filled)


def _tidy(text: str) -> str:
    """:func:`dissem.compose.templates.tidy`, skipping the substitutions that cannot
    match (most texts have no trailing spaces and no blank-line runs)."""
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("", text)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip()


def shapes() -> Iterator[str]:
    """The outputs with markers held now (for tests)."""
    return (raw for raw, _ in _SHAPES.items.values())
