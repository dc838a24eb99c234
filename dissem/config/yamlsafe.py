"""Safe YAML for config files: plain data only, with the line and column of every value.

PyYAML's safe loader *composes* the node tree (every node carries its start mark); the
values are then built here rather than by a PyYAML constructor, so that

- only the standard safe tags are accepted (``!!python/...`` and unknown tags are errors
  naming the line), even though ``SafeLoader`` would already refuse the dangerous ones;
- every value and every mapping key gets its ``(line, column)`` recorded by its *data path*
  (a tuple of keys and list indexes), which the loader uses to point at mistakes;
- duplicate keys are errors instead of "the last one wins";
- alias expansion has a budget, so a "billion laughs" file cannot exhaust memory;
- merge keys (``<<: *defaults``) work, with explicit keys overriding merged ones;
- a character YAML does not allow (a NUL byte, a terminal escape) is reported at its own
  line and column.

Files over :data:`MAX_BYTES` are refused before they are parsed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dissem.config.quote import shown

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "DataPath",
    "Mark",
    "YamlDocument",
    "YamlProblem",
    "parse_yaml",
    "read_limited",
    "split_front_matter",
]

MAX_BYTES = 256 * 1024  #: largest config file accepted
MAX_NODES = 10_000  #: most values aliases may add to a file (beyond the ones written out)
MAX_DEPTH = 64  #: deepest nesting accepted

#: Keys and list indexes from the top of the document down to a value.
DataPath = tuple[Any, ...]

_PREFIX = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_PREFIX + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
_SEQ_TAG = _PREFIX + "seq"
_MAP_TAG = _PREFIX + "map"
_MERGE_TAG = _PREFIX + "merge"
# libyaml's parser when PyYAML was built with it: ten times faster on a large channels.yaml,
# and it caps nesting depth itself; the pure-Python parser is the fallback.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_HINT = "config files hold plain data: text, numbers, dates, lists and mappings"
# What YAML 1.1 does not allow in a file (the PyYAML reader's own rule): control
# characters other than tab, line feed and carriage return, and the non-characters.
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file."""

    line: int
    column: int


class YamlProblem(Exception):
    """Raised when a file cannot be read as safe, plain YAML; located at a 1-based mark."""

    def __init__(self, message: str, *, line: int = 1, column: int = 1, hint: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(f"{line}:{column}: {message}")


@dataclass
class YamlDocument:
    """Built data plus where each value (and each mapping key) starts in the file."""

    data: Any
    values: dict[DataPath, Mark] = field(default_factory=dict)
    keys: dict[DataPath, Mark] = field(default_factory=dict)

    def mark(self, path: DataPath, *, key: bool = False) -> Mark:
        """Where ``path`` is written: its key when ``key`` and the path ends in a key, else its
        value; a path that does not exist falls back to its nearest existing ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        for n in range(len(path), -1, -1):
            sub = path[:n]
            if sub in self.values:
                return self.values[sub]
        return Mark(1, 1)


def read_limited(path: Path, *, max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of ``path``; raises YamlProblem if it is larger than ``max_bytes`` or
    not UTF-8 (a byte-order mark is accepted and dropped)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise YamlProblem(
            f"file is {size:,} bytes; config files are limited to {max_bytes:,} bytes",
            hint="split it into smaller files (one release per file)",
        )
    raw = path.read_bytes()[: max_bytes + 1]
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise YamlProblem(
            "file is not valid UTF-8", line=line, hint="save the file with UTF-8 encoding"
        ) from None


def split_front_matter(text: str) -> tuple[str, str]:
    """Splits a Markdown release into (front matter YAML, body).

    The front matter sits between a first line ``---`` and the next line ``---`` (or
    ``...``). The returned YAML keeps blank lines in place of the opening marker, so line
    numbers reported for it are the file's own. The body is stripped of the blank lines
    around it. Raises YamlProblem when there is no front matter.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise YamlProblem(
            "a Markdown release must start with YAML front matter",
            hint="put '---' on the first line, then title:, url:, targets: ..., then '---'",
        )
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            front = "\n" + "".join(lines[1:i])
            body = "".join(lines[i + 1 :]).strip("\n").rstrip()
            return front, body
    raise YamlProblem(
        "front matter is not closed",
        line=len(lines),
        hint="end the front matter with a line '---' before the Markdown body",
    )


def parse_yaml(
    text: str, *, max_nodes: int = MAX_NODES, max_bytes: int = MAX_BYTES
) -> YamlDocument:
    """Builds plain data from one YAML document; raises YamlProblem on anything unsafe or
    malformed. Aliases may add at most ``max_nodes`` values to those written out. An empty
    document gives ``data=None``."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise YamlProblem(
            f"text is {size:,} bytes; config files are limited to {max_bytes:,} bytes",
            hint="split it into smaller files",
        )
    _check_characters(text)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.reader.ReaderError as e:  # pragma: no cover - _check_characters found it
        line, column = _position(text, e.position)
        raise YamlProblem(f"malformed YAML: {e.reason}", line=line, column=column) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        tab = _tab_indent(text, line)
        if tab is not None:
            raise YamlProblem(
                "tabs are not allowed, indent with spaces",
                line=tab[0],
                column=tab[1],
                hint="replace each tab at the start of the line with spaces (YAML counts "
                "only spaces as indentation); set your editor to insert spaces",
            ) from None
        message = " ".join(s for s in (e.context, e.problem) if s) or "malformed YAML"
        raise YamlProblem(
            message,
            line=line,
            column=column,
            hint="check the indentation, and quote text that contains ': ' or starts with "
            "a special character such as @, *, &, !, % or `",
        ) from None
    except yaml.YAMLError as e:
        raise YamlProblem(f"malformed YAML: {e}") from None
    except RecursionError:
        raise YamlProblem(f"nesting is too deep (more than {MAX_DEPTH} levels)") from None
    doc = YamlDocument(data=None)
    if root is not None:
        doc.data = _Builder(doc, _count_nodes(root), max_nodes).build(root, (), 0)
    return doc


def _check_characters(text: str) -> None:
    """Raises YamlProblem at the first character YAML does not allow."""
    bad = _NOT_YAML.search(text)
    if bad is None:
        return
    line, column = _position(text, bad.start())
    code = ord(bad.group())
    name = {0: " (NUL)", 0x1B: " (escape)", 0x7F: " (delete)"}.get(code, "")
    raise YamlProblem(
        f"the file holds the control character U+{code:04X}{name}, which YAML does not allow",
        line=line,
        column=column,
        hint="remove it; inside double quotes it can be written as an escape such as \\x1b",
    )


def _tab_indent(text: str, line: int) -> tuple[int, int] | None:
    """The 1-based line and column of a tab in the indentation of ``line`` (or of the line
    before it: PyYAML may stop at the end of the previous line), None when there is none.
    YAML 1.2.2, 6.1: "tab characters must not be used in indentation"
    (https://yaml.org/spec/1.2.2/#61-indentation-spaces)."""
    lines = text.splitlines()
    for number in (line, line - 1):
        if 1 <= number <= len(lines):
            current = lines[number - 1]
            indent = current[: len(current) - len(current.lstrip(" \t"))]
            if "\t" in indent:
                return number, indent.index("\t") + 1
    return None


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at ``index``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _count_nodes(root: Node) -> int:
    """Distinct nodes in the tree, each counted once however many aliases point to it."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return len(seen)


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _problem_at(node: Node, message: str, hint: str = "") -> YamlProblem:
    mark = _mark(node)
    return YamlProblem(message, line=mark.line, column=mark.column, hint=hint)


class _Builder:
    """Turns a composed node tree into dicts, lists and scalars, recording marks."""

    def __init__(self, doc: YamlDocument, written: int, extra: int) -> None:
        self.doc = doc
        self.extra = extra
        # values that may be built, aliases counted each time they are used
        self.budget = written + extra
        self.count = 0
        self.active: set[int] = set()  # collection nodes being built (cycle guard)
        self.scalars = SafeConstructor()

    def build(self, node: Node, path: DataPath, depth: int) -> Any:
        self.count += 1
        if self.count > self.budget:
            raise _problem_at(
                node,
                f"aliases expand the file by more than {self.extra:,} values",
                hint="aliases (*name) that repeat large blocks many times are refused; "
                "write the data out or split the file",
            )
        if depth > MAX_DEPTH:
            raise _problem_at(
                node,
                f"nesting is too deep (more than {MAX_DEPTH} levels)",
            )
        self.doc.values[path] = _mark(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self.active:
            raise _problem_at(
                node,
                "an alias refers to the block that contains it",
                hint="recursive aliases are not allowed",
            )
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, _SEQ_TAG)
                return [
                    self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                self._check_tag(node, _MAP_TAG)
                return self._mapping(node, path, depth)
        finally:
            self.active.discard(id(node))
        raise YamlProblem("unsupported YAML node", line=_mark(node).line)  # pragma: no cover

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise _problem_at(
                node,
                f"tag {_short_tag(node.tag)} is not allowed here",
                hint=_PLAIN_HINT,
            )

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _problem_at(
                node,
                f"tag {_short_tag(node.tag)} is not allowed",
                hint=_PLAIN_HINT,
            )
        try:
            return self.scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            raise _problem_at(
                node,
                f"cannot read {shown(node.value)} as {_short_tag(node.tag)}: {shown(str(e))}",
                hint="quote the value to keep it as text",
            ) from None

    def _key(self, node: Node) -> str | int | float | bool | dt.date | None:
        if not isinstance(node, ScalarNode):
            raise _problem_at(
                node,
                "a mapping key must be a plain value, not a list or mapping",
            )
        self.count += 1
        value = self._scalar(node)
        assert value is None or isinstance(value, str | int | float | bool | dt.date)
        return value

    def _mapping(self, node: MappingNode, path: DataPath, depth: int) -> dict[Any, Any]:
        """Merged keys (``<<``) first, later sources before earlier ones, then explicit keys,
        so that each later step overrides the one before: YAML's merge-key rules."""
        result: dict[Any, Any] = {}
        merges: list[Node] = []
        explicit: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
            else:
                explicit.append((key_node, value_node))
        from_merge: set[Any] = set()
        for source in reversed(self._merge_sources(merges)):
            merged = self.build(source, path, depth)
            result.update(merged)
            from_merge.update(merged)
        seen: dict[Any, Mark] = {}
        for key_node, value_node in explicit:
            key = self._key(key_node)
            key_mark = _mark(key_node)
            if key in seen:
                raise YamlProblem(
                    f"duplicate key {shown(key)} (first written on line {seen[key].line})",
                    line=key_mark.line,
                    column=key_mark.column,
                    hint="remove one of them; YAML would silently keep only the last",
                )
            seen[key] = key_mark
            child = (*path, key)
            if key in from_merge:
                self._forget_under(child)
            self.doc.keys[child] = key_mark
            result[key] = self.build(value_node, child, depth + 1)
        self.doc.values[path] = _mark(node)
        return result

    def _merge_sources(self, merges: list[Node]) -> list[MappingNode]:
        sources: list[MappingNode] = []
        for value in merges:
            items = value.value if isinstance(value, SequenceNode) else [value]
            for item in items:
                if not isinstance(item, MappingNode):
                    raise _problem_at(
                        item,
                        "'<<' must be followed by a mapping or a list of mappings",
                        hint="write e.g. '<<: *defaults' where '&defaults' names a mapping",
                    )
                sources.append(item)
        return sources

    def _forget_under(self, prefix: DataPath) -> None:
        """Drops marks of a merged value that an explicit key replaces."""
        n = len(prefix)
        for table in (self.doc.values, self.doc.keys):
            for p in [p for p in table if p[:n] == prefix]:
                del table[p]


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag
