"""Post templates: sandboxed Jinja rendering and Markdown bodies as plain text. The
template a channel uses when it sets none is its platform's ``default_template``
(:mod:`dissem.traits`).

Templates come from config files that many people edit, so they render in a Jinja sandbox
with a budget (:mod:`dissem.compose.bounded`: no attribute access to internals, no code
execution, and bounded steps, time, sizes and output per render), with autoescaping off
(posts are plain text; each platform's escaping is applied once, later, by
:mod:`dissem.compose.escape`) and :class:`~jinja2.StrictUndefined` (a misspelt variable is an
error, not an empty string).

:func:`check_template` (the config loader's check) also renders the template once with
sample values: a template over its budget whatever the release is a config error of its
channel or release, located at the template's line.

Variables: ``title summary body url hashtags id release_id language priority now host
link_hint``. ``now`` is in the channel's time zone; ``host`` is the portal's host name;
``link_hint`` says where to find the link where links are not clickable (Instagram).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Any, Final

import jinja2
from jinja2 import meta

from dissem.compose.bounded import (
    MAX_OUTPUT,
    MAX_RANGE,
    MAX_SECONDS,
    MAX_SIZE,
    MAX_STEPS,
    MAX_WIDTH,
    BoundedEnvironment,
    TemplateBudgetError,
    budget,
)
from dissem.errors import ConfigError, ConfigProblem

TEMPLATE_VARIABLES: Final[frozenset[str]] = frozenset(
    {
        "title",
        "summary",
        "body",
        "url",
        "hashtags",
        "id",
        "release_id",
        "language",
        "priority",
        "now",
        "host",
        "link_hint",
    }
)

#: "Where is the link" for Instagram captions, by language; unknown languages use English.
LINK_HINTS: Final[dict[str, str]] = {
    "en": "Link in bio, or read more at {host}",
    "id": "Tautan di bio, atau baca selengkapnya di {host}",
}


def link_hint(language: str, host: str) -> str:
    """The Instagram "link in bio" sentence in ``language`` (English when unknown)."""
    return LINK_HINTS.get(language.split("-")[0].lower(), LINK_HINTS["en"]).format(host=host)


@lru_cache(maxsize=1)
def _environment() -> BoundedEnvironment:
    return BoundedEnvironment(
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )


def _problem(origin: str, line: int, message: str, hint: str = "") -> ConfigError:
    return ConfigError([ConfigProblem(origin, line, 1, "template", message, hint)])


#: What a template may do in one render, for hints.
BUDGET_HINT: Final[str] = (
    f"a template may take {MAX_STEPS:,} steps (loop iterations, calls, filters) and "
    f"{MAX_SECONDS:g} s per render, write {MAX_OUTPUT:,} characters, make no value longer "
    f"than {MAX_SIZE:,} characters, no range() over {MAX_RANGE:,} numbers and no width "
    f"over {MAX_WIDTH:,}; lipsum() is not available"
)


@lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    """Compiled once per source, whatever channel it belongs to: keyed by ``origin`` too, a
    config of 1,000 channels sharing one template compiled it 1,000 times (2 ms each)."""
    return _environment().from_string(source)


def _compile(source: str, origin: str) -> jinja2.Template:
    try:
        return _compiled(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _problem(origin, exc.lineno, f"template syntax error: {exc.message}") from None
    except (RecursionError, MemoryError):
        raise _problem(origin, 1, "template is nested too deeply to be read") from None
    except Exception as exc:  # e.g. a number literal with 5,000 digits (ValueError)
        raise _problem(origin, 1, f"template cannot be read: {type(exc).__name__}") from None


@lru_cache(maxsize=1024)
def _variables(source: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(_environment().parse(source)))


def template_variables(source: str, origin: str = "<template>") -> frozenset[str]:
    """The variables ``source`` uses. Raises ConfigError on a syntax error."""
    _compile(source, origin)
    try:
        return _variables(source)
    except jinja2.TemplateSyntaxError as exc:  # pragma: no cover - _compile raised already
        raise _problem(origin, exc.lineno, exc.message or "syntax error") from None
    except Exception as exc:  # pragma: no cover - _compile raised already
        raise _problem(origin, 1, f"template cannot be read: {type(exc).__name__}") from None


def check_template(source: str, origin: str = "<template>") -> None:
    """Raises ConfigError when ``source`` does not parse, uses an unknown variable, or goes
    over its budget with sample values (for the config loader, so that a bad template is
    reported before anything posts)."""
    unknown = sorted(template_variables(source, origin) - TEMPLATE_VARIABLES)
    if unknown:
        raise _problem(
            origin,
            1,
            f"unknown template variable {unknown[0]!r}",
            "use " + ", ".join(sorted(TEMPLATE_VARIABLES)),
        )
    over = _over_budget(source, origin)
    if over is not None:
        line, message = over
        raise _problem(origin, line, message, BUDGET_HINT)


#: Values of a typical release for the trial render: the sizes a real one has.
_SAMPLE: Final[dict[str, Any]] = {
    "title": "Foreign ministry and national news agency sign a public information agreement",
    "summary": "The agreement covers fact-checking and information services for citizens "
    "abroad, and joint training for the information officers of every embassy. " * 2,
    "body": "\n\n".join(
        f"Paragraph {i}: the ministry and the agency will share verified information, "
        "train officers together and answer citizens' questions in their own languages. " * 3
        for i in range(1, 9)
    ),
    "url": "https://www.portal.example/news/2026/12/agreement?utm_source=x&utm_medium=social",
    "hashtags": "#Diplomacy #PublicInformation",
    "id": "sample-release",
    "release_id": "sample-release",
    "language": "en",
    "priority": "normal",
    "now": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
    "host": "portal.example",
    "link_hint": "Link in bio, or read more at portal.example",
}


@lru_cache(maxsize=512)
def _over_budget(source: str, origin: str) -> tuple[int, str] | None:
    """(template line, message) when rendering ``source`` with sample values goes over the
    budget; other render errors are left to composing, where the real values are."""
    try:
        render(source, _SAMPLE, origin)
    except ConfigError as exc:
        problem = exc.problems[0]
        if problem.message.startswith(_OVER_BUDGET):
            return problem.line, problem.message
    return None


_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n)")
_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Trailing spaces on lines removed, runs of blank lines collapsed, ends stripped, so
    an empty optional field never leaves a gap."""
    return _BLANK_RUNS.sub("\n\n", _TRAILING_SPACE.sub("", text)).strip()


_OVER_BUDGET = "template over its budget"


def render(source: str, variables: dict[str, Any], origin: str = "<template>") -> str:
    """``source`` rendered with ``variables`` in the sandbox, within its budget, tidied.

    Raises ConfigError (with ``origin`` and the template line) on a syntax error, an
    undefined variable, anything the sandbox forbids, or going over the budget.
    """
    template = _compile(source, origin)
    try:
        return tidy(_render_bounded(template, variables))
    except TemplateBudgetError as exc:
        line = _template_line(exc.__traceback__)
        raise _problem(origin, line, f"{_OVER_BUDGET}: {exc}", BUDGET_HINT) from None
    except jinja2.UndefinedError as exc:
        raise _problem(
            origin,
            _template_line(exc.__traceback__),
            f"template error: {exc.message}",
            "use " + ", ".join(sorted(variables)),
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        line = _template_line(exc.__traceback__)
        raise _problem(origin, line, f"template not allowed: {_cut(exc)}") from None
    except jinja2.TemplateError as exc:
        line = _template_line(exc.__traceback__)
        raise _problem(origin, line, f"template error: {_cut(exc)}") from None
    except (RecursionError, MemoryError) as exc:
        line = _template_line(exc.__traceback__)
        raise _problem(origin, line, f"{_OVER_BUDGET}: {type(exc).__name__}", BUDGET_HINT) from None
    except Exception as exc:
        line = _template_line(exc.__traceback__)
        raise _problem(
            origin, line, f"template failed: {type(exc).__name__}: {_cut(exc)}"
        ) from None


def _render_bounded(template: jinja2.Template, variables: dict[str, Any]) -> str:
    """The output, streamed, stopped past MAX_OUTPUT characters."""
    chunks: list[str] = []
    length = 0
    with budget():
        for chunk in template.generate(variables):
            length += len(chunk)
            if length > MAX_OUTPUT:
                raise TemplateBudgetError(f"writes more than {MAX_OUTPUT:,} characters")
            chunks.append(chunk)
    return "".join(chunks)


def _template_line(tb: TracebackType | None) -> int:
    """The template line an error was raised at: Jinja rewrites the traceback so that the
    template's frames carry its own file name (``<template>``) and line numbers."""
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _cut(exc: BaseException, limit: int = 200) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _inline_text(children: list[Any]) -> str:
    out: list[str] = []
    for tok in children:
        if tok.type in ("text", "code_inline"):
            out.append(tok.content)
        elif tok.type == "softbreak":
            out.append(" ")
        elif tok.type == "hardbreak":
            out.append("\n")
        elif tok.type == "image":
            out.append(tok.content)  # the alt text
    return "".join(out)


@lru_cache(maxsize=1024)
def markdown_to_text(markdown: str) -> str:
    """Markdown as plain text: markup, links' targets and HTML dropped; paragraphs
    separated by a blank line; list items as ``•`` or ``1.`` lines."""
    from markdown_it import MarkdownIt  # imported here: dissem.compose must import cheaply

    tokens = MarkdownIt("commonmark").parse(markdown)
    blocks: list[tuple[str, int]] = []  # (text, number of its outermost list, 0 for none)
    lists: list[list[int]] = []  # per open list: [next number] or [] for bullets
    list_no = 0
    prefix = ""
    for tok in tokens:
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            list_no += 0 if lists else 1
            lists.append([int(tok.attrGet("start") or 1)] if tok.type[0] == "o" else [])
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif tok.type == "list_item_open":
            counter = lists[-1] if lists else []
            if counter:
                prefix = f"{counter[0]}. "
                counter[0] += 1
            else:
                prefix = "• "
        elif tok.type == "inline":
            blocks.append((prefix + _inline_text(tok.children or []), list_no if lists else 0))
            prefix = ""
        elif tok.type in ("fence", "code_block"):
            blocks.append((tok.content.rstrip("\n"), list_no if lists else 0))
    out: list[str] = []
    for i, (text, in_list) in enumerate(blocks):
        if i:
            out.append("\n" if in_list and blocks[i - 1][1] == in_list else "\n\n")
        out.append(text)
    return tidy("".join(out))
