"""Safe YAML for config files: plain data only, with the line and column of every value.

PyYAML's safe loader *composes* the node tree (every node carries its start mark); the
values are then built here rather than by a PyYAML constructor, so that

- only the standard safe tags are accepted (``!!python/...`` and unknown tags are errors
  naming the line), even though ``SafeLoader`` would already refuse the dangerous ones;
- the ``(line, column)`` of every value and every mapping key can be found by its *data
  path* (a tuple of keys and list indexes), which the loader uses to point at mistakes;
  it is looked up in the node tree when a problem needs it, not recorded for every value;
- duplicate keys are errors instead of "the last one wins";
- alias expansion has a budget, so a "billion laughs" file cannot exhaust memory (a block
  that aliases repeat is built once and shared, each use counted against the budget);
- merge keys (``<<: *defaults``) work, with explicit keys overriding merged ones;
- a character YAML does not allow (a NUL byte, a terminal escape) is reported at its own
  line and column.

Files over :data:`MAX_BYTES` are refused before they are parsed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dissem.config.quote import shown
from dissem.errors import YamlProblem

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "DataPath",
    "Mark",
    "YamlDocument",
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
_STR_TAG = _PREFIX + "str"
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


#: One step of a walk down the node tree: the key node (None for a list item or the top)
#: and the value node.
_Step = tuple[Node | None, Node]


@dataclass
class YamlDocument:
    """Built data plus the text it came from, which says where each value (and each
    mapping key) starts in the file.

    Marks are looked up when a problem needs one, by walking the node tree along the data
    path (merge keys followed as the data was built), not recorded for every value up
    front: a folder of 10,000 channels has hundreds of thousands of values and a few
    problems. The tree is composed again from the text for the first lookup and kept from
    then on; a document nobody asks about holds only its data and its text (the worker
    keeps every file's document between syncs).
    """

    data: Any
    text: str | None = field(default=None, repr=False, compare=False)
    loader: Any = field(default=None, repr=False, compare=False)
    _root: Node | None = field(default=None, repr=False, compare=False)
    # id(mapping node) -> its keys (merged ones included) -> (key node, value node)
    _entries: dict[int, dict[Any, _Step]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def root(self) -> Node | None:
        """The composed node tree (None for an empty document)."""
        if self._root is None and self.text is not None:
            self._root = yaml.compose(self.text, Loader=self.loader or _LOADER)
        return self._root

    @property
    def values(self) -> Mapping[DataPath, Mark]:
        """Where the value at each data path starts (read-only, looked up on demand)."""
        return _Marks(self, key=False)

    @property
    def keys(self) -> Mapping[DataPath, Mark]:
        """Where the key of each data path that ends in a mapping key starts."""
        return _Marks(self, key=True)

    def mark(self, path: DataPath, *, key: bool = False) -> Mark:
        """Where ``path`` is written: its key when ``key`` and the path ends in a key, else its
        value; a path that does not exist falls back to its nearest existing ancestor."""
        steps = self._walk(path)
        if not steps:
            return Mark(1, 1)
        key_node, value_node = steps[-1]
        if key and len(steps) == len(path) + 1 and key_node is not None:
            return _mark(key_node)
        return _mark(value_node)

    def _walk(self, path: DataPath) -> list[_Step]:
        """The steps from the top down along ``path``, as far as it exists."""
        node = self.root
        if node is None:
            return []
        steps: list[_Step] = [(None, node)]
        for part in path:
            step: _Step | None = None
            if isinstance(node, MappingNode):
                try:
                    step = self._mapping_entries(node).get(part)
                except TypeError:  # an unhashable part names no key
                    step = None
            elif (
                isinstance(node, SequenceNode)
                and isinstance(part, int)
                and not isinstance(part, bool)
                and 0 <= part < len(node.value)
            ):
                step = (None, node.value[part])
            if step is None:
                break
            steps.append(step)
            node = step[1]
        return steps

    def _mapping_entries(self, node: MappingNode) -> dict[Any, _Step]:
        """The keys of a mapping as it was built: its own keys first, then those of its
        merge sources, an earlier source before a later one (YAML's merge-key rules)."""
        found = self._entries.get(id(node))
        if found is not None:
            return found
        entries: dict[Any, _Step] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
            elif isinstance(key_node, ScalarNode):
                entries.setdefault(_scalar_value(key_node), (key_node, value_node))
        for source in _merge_sources(merges):
            for name, step in self._mapping_entries(source).items():
                entries.setdefault(name, step)
        self._entries[id(node)] = entries
        return entries

    def _paths(self) -> Iterator[tuple[DataPath, Node | None, Node]]:
        """Every data path with its key node and value node, top down."""
        root = self.root
        if root is None:
            return
        stack: list[tuple[DataPath, Node | None, Node]] = [((), None, root)]
        while stack:
            path, key_node, node = stack.pop()
            yield path, key_node, node
            if len(path) > MAX_DEPTH:
                continue
            if isinstance(node, MappingNode):
                for name, (k, v) in self._mapping_entries(node).items():
                    stack.append(((*path, name), k, v))
            elif isinstance(node, SequenceNode):
                for i, item in enumerate(node.value):
                    stack.append(((*path, i), None, item))


class _Marks(Mapping[DataPath, Mark]):
    """A read-only view of a document's marks by data path (values, or keys)."""

    def __init__(self, doc: YamlDocument, *, key: bool) -> None:
        self.doc = doc
        self.key = key

    def __getitem__(self, path: DataPath) -> Mark:
        if not isinstance(path, tuple):
            raise KeyError(path)
        steps = self.doc._walk(path)
        if len(steps) != len(path) + 1:
            raise KeyError(path)
        key_node, value_node = steps[-1]
        if not self.key:
            return _mark(value_node)
        if key_node is None:
            raise KeyError(path)
        return _mark(key_node)

    def __iter__(self) -> Iterator[DataPath]:
        for path, key_node, _ in self.doc._paths():
            if not self.key or key_node is not None:
                yield path

    def __len__(self) -> int:
        return sum(1 for _ in self)


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
    if root is None:
        return YamlDocument(data=None)
    return YamlDocument(data=_Builder(max_nodes).build(root, 0), text=text, loader=_LOADER)


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


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _problem_at(node: Node, message: str, hint: str = "") -> YamlProblem:
    mark = _mark(node)
    return YamlProblem(message, line=mark.line, column=mark.column, hint=hint)


_SCALARS = SafeConstructor()
_CONSTRUCTORS: dict[str, Any] = {
    tag: SafeConstructor.yaml_constructors[tag] for tag in _SCALAR_TAGS if tag != _STR_TAG
}


def _scalar_value(node: ScalarNode) -> Any:
    """The value of a scalar node with one of the standard safe tags (text as written,
    numbers, booleans, null, dates)."""
    if node.tag == _STR_TAG:
        return node.value
    return _CONSTRUCTORS[node.tag](_SCALARS, node)


def _merge_sources(merges: list[Node]) -> list[MappingNode]:
    """The mappings named by ``<<`` keys, in the order written; raises YamlProblem when one
    is not a mapping."""
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


#: Marks a collection node as being built (an alias to it now would be a cycle).
_BUILDING: Any = object()


class _Builder:
    """Turns a composed node tree into dicts, lists and scalars.

    A list or mapping that aliases use again (``*name``, ``<<: *name``) is built once and
    shared, as PyYAML shares it; each use still counts its values against the budget, so a
    "billion laughs" file is refused without being expanded.
    """

    def __init__(self, extra: int) -> None:
        self.extra = extra
        self.repeated = 0  # values that uses of already built blocks add
        self.count = 0  # values built, each use of a shared block counted in full
        self.deepest = 0  # deepest nesting reached in the block being built
        # id(collection node) -> (value, values in it, its height) or _BUILDING
        self.built: dict[int, Any] = {}

    def build(self, node: Node, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _problem_at(node, f"nesting is too deep (more than {MAX_DEPTH} levels)")
        if isinstance(node, ScalarNode):
            self.count += 1
            return self._scalar(node)
        done = self.built.get(id(node))
        if done is not None:
            return self._reuse(node, done, depth)
        self.built[id(node)] = _BUILDING
        start, outer = self.count, self.deepest
        self.count += 1
        self.deepest = depth
        value: Any
        if isinstance(node, SequenceNode):
            self._check_tag(node, _SEQ_TAG)
            value = self._sequence(node, depth)
        elif isinstance(node, MappingNode):
            self._check_tag(node, _MAP_TAG)
            value = self._mapping(node, depth)
        else:  # pragma: no cover - the composer makes only these three kinds
            raise _problem_at(node, "unsupported YAML node")
        self.built[id(node)] = (value, self.count - start, self.deepest - depth)
        self.deepest = max(outer, self.deepest)
        return value

    def _reuse(self, node: Node, done: Any, depth: int) -> Any:
        if done is _BUILDING:
            raise _problem_at(
                node,
                "an alias refers to the block that contains it",
                hint="recursive aliases are not allowed",
            )
        value, size, height = done
        self.repeated += size
        if self.repeated > self.extra:
            raise _problem_at(
                node,
                f"aliases expand the file by more than {self.extra:,} values",
                hint="aliases (*name) that repeat large blocks many times are refused; "
                "write the data out or split the file",
            )
        if depth + height > MAX_DEPTH:
            raise _problem_at(node, f"nesting is too deep (more than {MAX_DEPTH} levels)")
        self.count += size
        self.deepest = max(self.deepest, depth + height)
        return value

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise _problem_at(
                node,
                f"tag {_short_tag(node.tag)} is not allowed here",
                hint=_PLAIN_HINT,
            )

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        if tag not in _SCALAR_TAGS:
            raise _problem_at(
                node,
                f"tag {_short_tag(tag)} is not allowed",
                hint=_PLAIN_HINT,
            )
        try:
            return _CONSTRUCTORS[tag](_SCALARS, node)
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            raise _problem_at(
                node,
                f"cannot read {shown(node.value)} as {_short_tag(tag)}: {shown(str(e))}",
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

    def _sequence(self, node: SequenceNode, depth: int) -> list[Any]:
        if depth + 1 > MAX_DEPTH:
            return [self.build(item, depth + 1) for item in node.value]
        out: list[Any] = []
        for item in node.value:
            if item.__class__ is ScalarNode and item.tag == _STR_TAG:  # most values: text
                self.count += 1
                out.append(item.value)
            else:
                out.append(self.build(item, depth + 1))
        return out

    def _mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        """Merged keys (``<<``) first, later sources before earlier ones, then explicit keys,
        so that each later step overrides the one before: YAML's merge-key rules."""
        result: dict[Any, Any] = {}
        pairs: list[tuple[Node, Node]] = node.value
        merges = [value for key, value in pairs if key.tag == _MERGE_TAG]
        if merges:
            for source in reversed(_merge_sources(merges)):
                result.update(self.build(source, depth))
            pairs = [(key, value) for key, value in pairs if key.tag != _MERGE_TAG]
        explicit: set[Any] = set()
        fast = depth + 1 <= MAX_DEPTH
        for key_node, value_node in pairs:
            if key_node.__class__ is ScalarNode and key_node.tag == _STR_TAG:
                self.count += 1
                key = key_node.value
            else:
                key = self._key(key_node)
            if key in explicit:
                first = next(k for k, _ in pairs if k.tag != _MERGE_TAG and _same(k, key))
                mark = _mark(key_node)
                raise YamlProblem(
                    f"duplicate key {shown(key)} (first written on line {_mark(first).line})",
                    line=mark.line,
                    column=mark.column,
                    hint="remove one of them; YAML would silently keep only the last",
                )
            explicit.add(key)
            if fast and value_node.__class__ is ScalarNode and value_node.tag == _STR_TAG:
                self.count += 1
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node, depth + 1)
        return result


def _same(node: Node, key: Any) -> bool:
    """Whether the scalar key ``node`` reads as ``key``."""
    try:
        return isinstance(node, ScalarNode) and bool(_scalar_value(node) == key)
    except (yaml.YAMLError, ValueError, OverflowError, KeyError):
        return False


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag
