"""Post templates: sandboxed Jinja rendering, the default template of each platform, and
Markdown bodies as plain text.

Templates come from config files that many people edit, so they render in Jinja's
:class:`~jinja2.sandbox.SandboxedEnvironment` (no attribute access to internals, no code
execution), with autoescaping off (posts are plain text; each platform's escaping is
applied once, later, by :mod:`dissem.compose.escape`) and :class:`~jinja2.StrictUndefined`
(a misspelt variable is an error, not an empty string).

Variables: ``title summary body url hashtags id release_id language priority now host
link_hint``. ``now`` is in the channel's time zone; ``host`` is the portal's host name;
``link_hint`` says where to find the link where links are not clickable (Instagram).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

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

_LINK_POST = (
    "{{ title }}\n\n{% if summary %}{{ summary }}\n\n{% endif %}{{ url }}"
    "{% if hashtags %}\n\n{{ hashtags }}{% endif %}"
)
#: The template each platform uses when the channel sets none. Title, summary, the link,
#: then the hashtags on their own line; Instagram links are not clickable, so its caption
#: says where the article is instead of showing the URL.
DEFAULT_TEMPLATES: Final[dict[str, str]] = {
    "x": _LINK_POST,
    "mastodon": _LINK_POST,
    "bluesky": _LINK_POST,
    "threads": _LINK_POST,
    "facebook": _LINK_POST,
    "linkedin": _LINK_POST,
    "telegram": _LINK_POST,
    "instagram": (
        "{{ title }}\n\n{% if summary %}{{ summary }}\n\n{% endif %}{{ link_hint }}"
        "{% if hashtags %}\n\n{{ hashtags }}{% endif %}"
    ),
}

#: "Where is the link" for Instagram captions, by language; unknown languages use English.
LINK_HINTS: Final[dict[str, str]] = {
    "en": "Link in bio, or read more at {host}",
    "id": "Tautan di bio, atau baca selengkapnya di {host}",
}


def link_hint(language: str, host: str) -> str:
    """The Instagram "link in bio" sentence in ``language`` (English when unknown)."""
    return LINK_HINTS.get(language.split("-")[0].lower(), LINK_HINTS["en"]).format(host=host)


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )


def _problem(origin: str, line: int, message: str, hint: str = "") -> ConfigError:
    return ConfigError([ConfigProblem(origin, line, 1, "template", message, hint)])


@lru_cache(maxsize=512)
def _compile(source: str, origin: str) -> jinja2.Template:
    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _problem(origin, exc.lineno, f"template syntax error: {exc.message}") from None


@lru_cache(maxsize=512)
def template_variables(source: str, origin: str = "<template>") -> frozenset[str]:
    """The variables ``source`` uses. Raises ConfigError on a syntax error."""
    _compile(source, origin)
    try:
        ast = _environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:  # pragma: no cover - _compile raised already
        raise _problem(origin, exc.lineno, exc.message or "syntax error") from None
    return frozenset(meta.find_undeclared_variables(ast))


def check_template(source: str, origin: str = "<template>") -> None:
    """Raises ConfigError when ``source`` does not parse or uses an unknown variable
    (for the config loader, so that a bad template is reported before anything posts)."""
    unknown = sorted(template_variables(source, origin) - TEMPLATE_VARIABLES)
    if unknown:
        raise _problem(
            origin,
            1,
            f"unknown template variable {unknown[0]!r}",
            "use " + ", ".join(sorted(TEMPLATE_VARIABLES)),
        )


_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n)")
_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Trailing spaces on lines removed, runs of blank lines collapsed, ends stripped, so
    an empty optional field never leaves a gap."""
    return _BLANK_RUNS.sub("\n\n", _TRAILING_SPACE.sub("", text)).strip()


def render(source: str, variables: dict[str, Any], origin: str = "<template>") -> str:
    """``source`` rendered with ``variables`` in the sandbox, tidied.

    Raises ConfigError (with ``origin`` and the template line) on a syntax error, an
    undefined variable or anything the sandbox forbids.
    """
    template = _compile(source, origin)
    try:
        return tidy(template.render(variables))
    except jinja2.UndefinedError as exc:
        raise _problem(
            origin, 1, f"template error: {exc.message}", "use " + ", ".join(sorted(variables))
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise _problem(origin, 1, f"template not allowed: {exc}") from None
    except jinja2.TemplateError as exc:
        raise _problem(origin, 1, f"template error: {exc}") from None
    except Exception as exc:
        raise _problem(origin, 1, f"template failed: {type(exc).__name__}: {exc}") from None


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
