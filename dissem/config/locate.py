"""Turning validation errors into located problems: ``path:line:column: field: message``.

Pydantic says *what* is wrong and at which data path (``loc``); :class:`SourceFile` knows
where each data path is written (from :mod:`dissem.config.yamlsafe`) and rewrites each error
as a :class:`~dissem.errors.ConfigProblem` with a hint, suggesting the closest allowed
name for unknown keys and values.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dissem.config.quote import printable, shown
from dissem.config.yamlsafe import DataPath, Mark, YamlDocument
from dissem.errors import ConfigProblem, YamlProblem

__all__ = ["SourceFile", "did_you_mean", "display_path", "field_path"]

_TYPE_HINTS = {
    "list_type": "write a list: one '- item' per line, or [a, b]",
    "dict_type": "write a mapping: indented 'key: value' lines",
    "model_type": "write a mapping: indented 'key: value' lines",
    "model_attributes_type": "write a mapping: indented 'key: value' lines",
    "dataclass_type": "write it as text, e.g. 'mon-fri 07:00-21:00'",
    "too_short": "give at least one item",
    "string_too_short": "write some text",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "datetime_type": "write a date and time, e.g. 2026-12-01 09:00 or 2026-12-01T09:00:00+07:00",
    "datetime_parsing": "write a date and time, e.g. 2026-12-01 09:00 or 2026-12-01T09:00:00+07:00",
    "datetime_from_date_parsing": "write a date and time, e.g. 2026-12-01 09:00",
    "timedelta_type": "write a duration such as 90s, 30m, 2h or 1d",
}


def display_path(path: Path) -> str:
    """``path`` relative to the working folder when it lies under it, else as given.

    Symlinks are not resolved, so a file under ``config -> dissem/example`` reads
    ``config/...``.
    """
    return _display(os.getcwd(), os.fspath(path))


@functools.lru_cache(maxsize=4096)
def _display(cwd: str, path: str) -> str:
    """display_path for one working folder (a config of 10,000 channels names its 125
    files in 10,000 messages)."""
    here = os.path.abspath(cwd)
    full = os.path.abspath(os.path.join(cwd, path))
    if full == here or full.startswith(here + os.sep):
        return printable(os.path.relpath(full, here))
    return printable(path)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@:+-]{0,63}")


def field_path(loc: Iterable[Any]) -> str:
    """``('channels', 3, 'windows', 1)`` -> ``channels[3].windows[1]``; a key that is not a
    plain name is quoted and cut (``groups['a b…']``)."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif not isinstance(part, str) or not _PLAIN_KEY.fullmatch(part):
            out += f"[{shown(part, 40)}]"
        elif part != "[key]":
            out += f".{part}" if out else part
    return out


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """``"did you mean 'summary'?"`` for the closest choice, or "" when none is close (or
    the word is too long to be a typo of a name)."""
    text = str(word)
    if len(text) > 100:
        return ""
    close = difflib.get_close_matches(text, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


_LONGEST_MESSAGE = 400


def _cut(text: str) -> str:
    """A message or hint no longer than a few lines (values in it are cut already; this
    is the last guard)."""
    if len(text) <= _LONGEST_MESSAGE:
        return text
    return text[: _LONGEST_MESSAGE - 1] + "…"


@dataclass
class SourceFile:
    """One config file: where it is, how to name it in messages, and its parsed YAML."""

    path: Path
    doc: YamlDocument | None = None

    @property
    def display(self) -> str:
        return display_path(self.path)

    def problem(
        self, loc: DataPath, message: str, hint: str = "", *, key: bool = False
    ) -> ConfigProblem:
        """A problem at data path ``loc`` (at its key when ``key``; see YamlDocument.mark)."""
        mark = self.doc.mark(loc, key=key) if self.doc else Mark(1, 1)
        return ConfigProblem(
            path=self.display,
            line=mark.line,
            column=mark.column,
            field=field_path(loc),
            message=_cut(message),
            hint=_cut(hint),
        )

    def line_of(self, loc: DataPath) -> int:
        """The line where the value at ``loc`` starts (1 when unknown)."""
        return self.doc.mark(loc).line if self.doc else 1

    def yaml_problem(self, err: YamlProblem) -> ConfigProblem:
        return ConfigProblem(
            self.display, err.line, err.column, "", _cut(err.message), _cut(err.hint)
        )

    def validation_problems(
        self, err: ValidationError, model: type[BaseModel], prefix: DataPath = ()
    ) -> list[ConfigProblem]:
        """One problem per pydantic error; ``model`` validated the data found at ``prefix``."""
        return [self._one(e, model, prefix) for e in err.errors(include_url=False)]

    def _one(self, e: ErrorDetails, model: type[BaseModel], prefix: DataPath) -> ConfigProblem:
        loc: DataPath = tuple(p for p in e["loc"] if p != "[key]")
        kind = e["type"]
        value = e.get("input")
        if kind == "extra_forbidden":
            name = loc[-1] if loc else value
            allowed = _fields_at(model, loc[:-1])
            hint = did_you_mean(name, allowed) or (
                f"allowed keys here: {', '.join(allowed)}" if allowed else ""
            )
            return self.problem((*prefix, *loc), f"unknown key {shown(name)}", hint, key=True)
        if kind == "missing":
            name = loc[-1] if loc else "?"
            return self.problem(
                (*prefix, *loc), f"required key {shown(name)} is missing", f"add '{name}: ...'"
            )
        if kind == "literal_error":
            expected = re.findall(r"'([^']*)'", str((e.get("ctx") or {}).get("expected", "")))
            hint = did_you_mean(value, expected) or f"use one of: {', '.join(expected)}"
            return self.problem((*prefix, *loc), f"{shown(value)} is not allowed here", hint)
        if kind in ("value_error", "assertion_error"):
            text = str(e["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            message, _, hint = text.partition("; ")
            full = self._narrow((*prefix, *loc), message)
            return self.problem(full, message, hint)
        return self.problem((*prefix, *loc), _plain_message(e), _type_hint(kind, value))

    def _narrow(self, loc: DataPath, message: str) -> DataPath:
        """For an error raised by a whole model or mapping, the key its message names first
        (``"expires is not after not_before"`` -> ``expires``), so the line is the right one."""
        if self.doc is None:
            return loc
        node: Any = self.doc.data
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return loc
        if not isinstance(node, dict):
            return loc
        for token in re.findall(r"[A-Za-z0-9_-]+", message):
            if token in node:
                return (*loc, token)
        return loc


def _plain_message(e: ErrorDetails) -> str:
    msg = str(e["msg"])
    msg = msg[:1].lower() + msg[1:]
    value = e.get("input")
    if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60:
        msg += f" (got {value!r})"
    return msg


def _type_hint(kind: str, value: object) -> str:
    if kind == "string_type":
        if value is None:
            return "the value is empty; write a value or remove the key"
        if isinstance(value, bool | int | float):
            return f"put the value in quotes, e.g. '{value}', to keep it as text"
        return "write text"
    return _TYPE_HINTS.get(kind, "")


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the model found at data path ``loc`` under ``model`` ([] if none)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(part, str) or part not in tp.model_fields:
                return []
            tp = tp.model_fields[part].annotation
        elif get_origin(tp) in (list, tuple, set, frozenset):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """Strips Annotated and Optional (``X | None``) down to the model or container type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            real = [a for a in get_args(tp) if a is not type(None)]
            if len(real) != 1:
                return tp
            tp = real[0]
        else:
            return tp
