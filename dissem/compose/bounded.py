"""A Jinja sandbox with a budget per render, so that no template can hang or eat memory.

Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` stops a template from
running code or changing lists, but not from working forever: two nested loops over
``range(99999)``, ``'a' * 10**8``, ``title|center(2000000000)``, ``lipsum(n=10**8)``, a
list doubled in a loop, or ``'%0999999999d' % 1``, which Jinja even evaluates while
*compiling* (it folds constant expressions). Channel templates are written by many people
and rendered by the daemon, so one such template would stop every channel.

Every render here runs under a :class:`Budget` (see :func:`budget`):

- **steps**: every loop iteration, call, filter, operator and output counts one; at most
  :data:`MAX_STEPS`, and the time is checked at each (:data:`MAX_SECONDS`): the check is
  cooperative, nothing is killed;
- **size**: no value over :data:`MAX_SIZE` (characters, plus items of lists and mappings
  counted deep, so a list holding the same long text twice counts it twice); sizes are
  checked *before* an operation that would produce them runs (repetition, padding,
  formatting, replacing, joining, printing a list);
- **widths and counts**: padding widths, format widths and precisions, ``range`` lengths,
  ``batch``/``slice`` counts at most :data:`MAX_WIDTH` / :data:`MAX_RANGE`; integers at
  most :data:`MAX_INT_BITS` bits;
- **work**: all values and output produced in one render, at most :data:`MAX_WORK`
  characters (a loop's literal text counts at every iteration).

Nothing is folded at compile time: the optimizer is off (``optimized=False``), the
operators that can blow up are intercepted (``intercepted_binops``: Jinja never folds
those), every filter takes the context (Jinja never folds those either), and so does
``finalize`` (then output expressions are not folded). ``lipsum`` is not offered.

Loops, ``~`` and list literals are metered by a small rewrite of the template's syntax
tree before code generation (:class:`_MeteredCodeGenerator`, Jinja's documented
``code_generator_class`` hook): the iterable of each ``for`` goes through
:func:`_loop_filter`, each ``~`` through :func:`_concat_filter`, each list, tuple and dict
literal through :func:`_value_filter`.
"""

from __future__ import annotations

import re
import time
import types
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from string import Formatter
from typing import Any, Final, TypeVar, cast

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

__all__ = [
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_SECONDS",
    "MAX_SIZE",
    "MAX_STEPS",
    "MAX_WIDTH",
    "MAX_WORK",
    "BoundedEnvironment",
    "Budget",
    "TemplateBudgetError",
    "budget",
    "size_of",
]

MAX_STEPS: Final = 100_000  #: loop iterations, calls, filters, operators per render
MAX_SECONDS: Final = 1.0  #: time per render
MAX_SIZE: Final = 1_000_000  #: characters (and items) of one value
MAX_ITEMS: Final = 100_000  #: items of one value (lists and mappings, counted deep)
MAX_OUTPUT: Final = 1_000_000  #: characters one render outputs
MAX_WORK: Final = 10_000_000  #: characters produced in one render, all values together
MAX_WIDTH: Final = 10_000  #: padding, format width and precision, batch and slice counts
MAX_RANGE: Final = 10_000  #: items of one range()
MAX_INT_BITS: Final = 10_000  #: bits of an integer (about 3,000 digits)

_T = TypeVar("_T")
_LOOP = "dissem:loop"  # not a name a template can write: only the rewrite adds them
_CONCAT = "dissem:concat"
_VALUE = "dissem:value"


class TemplateBudgetError(SecurityError):
    """Raised when a render goes over its budget; the message says which limit."""


@dataclass
class Budget:
    """What one render has used so far."""

    deadline: float
    steps: int = 0
    work: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateBudgetError(
                f"more than {MAX_STEPS:,} steps (loop iterations, calls, filters)"
            )
        if time.monotonic() > self.deadline:
            raise TemplateBudgetError(f"rendering took more than {MAX_SECONDS:g} s")

    def produce(self, size: int) -> None:
        self.work += size
        if self.work > MAX_WORK:
            raise TemplateBudgetError(f"produces more than {MAX_WORK:,} characters")


_CURRENT: ContextVar[Budget | None] = ContextVar("dissem_template_budget", default=None)


@contextmanager
def budget(seconds: float = MAX_SECONDS) -> Iterator[Budget]:
    """The budget of one render: templates of a :class:`BoundedEnvironment` render only
    inside this block (in this thread); outside it they raise TemplateBudgetError."""
    current = Budget(deadline=time.monotonic() + seconds)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)


def _budget() -> Budget:
    current = _CURRENT.get()
    if current is None:
        raise TemplateBudgetError("templates render only within a budget")
    return current


_FLAT: Final = (bool, float, type(None))
_SEQUENCES: Final = (list, tuple, set, frozenset)


def size_of(value: Any, limit: int = MAX_SIZE) -> int:
    """Characters of the texts in ``value`` plus the items of its lists and mappings,
    counted deep and as often as they occur (what printing it would cost). Counting stops
    soon after ``limit``, or after :data:`MAX_ITEMS` items (then the answer is over
    ``limit``), so it costs at most that many steps."""
    total = 0
    items = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item)
            continue
        if kind in _SEQUENCES or kind is dict:
            items += len(item)
            total += 1 + len(item)
            if total > limit or items > MAX_ITEMS:
                return max(total, limit + 1)
            for child in item.values() if kind is dict else item:
                if type(child) is str:
                    total += len(child)
                elif type(child) in _FLAT:
                    total += 1
                elif type(child) is int:
                    total += child.bit_length() // 3 + 1
                else:
                    stack.append(child)
            if kind is dict:
                stack.extend(item)
            if total > limit:
                return total
            continue
        total += _other_size(item, stack)
        if total > limit:
            return total
    return total


def _other_size(item: Any, stack: list[Any]) -> int:
    """Size of a value that is no plain text, list or dict (its parts go on ``stack``)."""
    if isinstance(item, str | bytes | bytearray):
        return len(item)
    if isinstance(item, bool | float | Undefined) or item is None:
        return 1
    if isinstance(item, int):
        return item.bit_length() // 3 + 1
    if isinstance(item, Namespace):
        stack.append(dict(item._Namespace__attrs))
        return 1
    if isinstance(item, Mapping):
        stack.append(dict(item))
        return 1
    if isinstance(item, Collection) and not isinstance(item, range):
        stack.append(list(item))  # views, Markup-free collections
        return 1
    return 1 if isinstance(item, range) else 32  # datetimes, macros, cyclers


def _check_size(value: Any, what: str = "a value") -> int:
    size = size_of(value)
    if size > MAX_SIZE:
        raise TemplateBudgetError(
            f"{what} would be longer than {MAX_SIZE:,} characters or {MAX_ITEMS:,} items"
        )
    return size


def _checked(value: _T) -> _T:
    """``value``, counted against the work budget; refused if too large."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateBudgetError(f"a number would have more than {MAX_INT_BITS:,} bits")
        return value
    _budget().produce(_check_size(value))
    return value


def _width(value: Any, what: str = "a width") -> None:
    try:
        number = len(value) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        return  # the filter itself reports a wrong type
    if number > MAX_WIDTH:
        raise TemplateBudgetError(f"{what} of {number:,} is over the limit of {MAX_WIDTH:,}")


def _expected_size(size: int) -> None:
    if size > MAX_SIZE:
        raise TemplateBudgetError(
            f"the result would be longer than {MAX_SIZE:,} characters or {MAX_ITEMS:,} items"
        )


# ---- format strings -------------------------------------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.S)
_DIGITS = re.compile(r"\d+")


def _check_printf(text: str) -> None:
    """Widths and precisions of ``text % args`` (``'%0999999999d'``) before formatting."""
    for match in _PRINTF.finditer(text):
        width, precision, _ = match.groups()
        if "*" in (width, precision):
            raise TemplateBudgetError("'*' widths are not allowed in templates")
        for number in (width, precision):
            if number:
                _width(int(number), "a format width")


def _check_format_spec(spec: str) -> None:
    for number in _DIGITS.findall(spec):
        _width(int(number), "a format width")


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` in the sandbox, with every field's width and precision bounded (the
    spec is checked after nested fields such as ``{:{}}`` are filled in)."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_format_spec(format_spec)
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter):
    def __init__(self, env: Any, escape: Callable[[Any], Markup]) -> None:
        self.escape = escape
        super().__init__(env)

    def format_field(self, value: Any, format_spec: str) -> str:
        return str(self.escape(super().format_field(value, format_spec)))


# ---- filters ---------------------------------------------------------------------------


def _center(value: Any, width: Any = 80, *_: Any, **__: Any) -> Any:
    _width(width)
    return value


def _indent(s: Any, width: Any = 4, *_: Any, **__: Any) -> Any:
    _width(width)
    text = str(s) if isinstance(s, str) else ""
    pad = len(width) if isinstance(width, str) else int(width) if isinstance(width, int) else 0
    _expected_size(len(text) + (text.count("\n") + 1) * pad)
    return s


def _format(value: Any, *_: Any, **__: Any) -> Any:
    if isinstance(value, str):
        _check_printf(value)
    return value


def _replace(s: Any, old: Any = "", new: Any = "", count: Any = None, *_: Any) -> Any:
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        _expected_size(_replaced_size(s, old, new, count))
    return s


def _replaced_size(s: str, old: str, new: str, count: Any) -> int:
    found = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(s) + found * max(0, len(new) - len(old))


def _counted(value: Any, count: Any = 1, *_: Any, **__: Any) -> Any:
    _width(count, "a count")
    return value


def _join(value: Any, d: Any = "", *_: Any, **__: Any) -> Any:
    items = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else value
    if isinstance(items, list):
        _expected_size(size_of(items) + len(str(d)) * len(items))
    return items


def _wordwrap(s: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
              *_: Any, **kwargs: Any) -> Any:  # fmt: skip
    wrap = kwargs.get("wrapstring", wrapstring)
    if isinstance(s, str) and isinstance(wrap, str):
        _expected_size(len(s) * (len(wrap) + 1))
    return s


def _tojson(value: Any, indent: Any = None, *_: Any, **__: Any) -> Any:
    if indent is not None:
        _width(indent, "an indent")
    return value


def _urlize(value: Any, *args: Any, **kwargs: Any) -> Any:
    for extra in (*args, *kwargs.values()):
        if isinstance(extra, str):
            _width(extra, "an attribute")
    return value


#: Checks run before a filter (same parameters as the filter); each returns the value to
#: pass on (``join`` reads a generator into a list first, to measure it).
_FILTER_CHECKS: Final[dict[str, Callable[..., Any]]] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "replace": _replace,
    "batch": _counted,
    "slice": _counted,
    "join": _join,
    "wordwrap": _wordwrap,
    "tojson": _tojson,
    "urlize": _urlize,
}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its inputs measured before and its result after; it always takes the
    context, which also keeps Jinja from running it at compile time."""
    passes = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
    check = _FILTER_CHECKS.get(name)

    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().step()
        for item in (value, *args, *kwargs.values()):
            _check_size(item)
        if check is not None:
            value = check(value, *args, **kwargs)
        if passes == "context":
            result = func(context, value, *args, **kwargs)
        elif passes == "eval_context":
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif passes == "environment":
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return _checked(result)

    bounded.__name__ = f"bounded_{name}"
    return bounded


def _metered(iterable: Iterable[Any], literal: int) -> Iterator[Any]:
    current = _budget()
    for item in iterable:
        current.step()
        if literal:
            current.produce(literal)
        yield item


@pass_context
def _loop_filter(context: Context, iterable: Any, literal: int) -> Iterator[Any]:
    """The iterable of a ``for`` loop, one step per item; ``literal`` is the length of the
    loop body's own text, produced again at every iteration."""
    return _metered(iterable, literal)


@pass_context
def _concat_filter(context: Context, parts: list[Any]) -> str:
    """``a ~ b``: measured before joining (a list written out can be long)."""
    _budget().step()
    _expected_size(sum(size_of(p) for p in parts))
    return _checked("".join(str(p) for p in parts))


@pass_context
def _value_filter(context: Context, value: Any) -> Any:
    """A list, tuple or dict literal: measured (a list of itself twice, doubled in a loop,
    would grow without limit while staying two items long)."""
    _budget().step()
    return _checked(value)


def bounded_range(*args: Any) -> range:
    """``range()`` in templates: at most :data:`MAX_RANGE` numbers."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateBudgetError(f"range() of more than {MAX_RANGE:,} numbers")
    return numbers


# ---- calls and operators ----------------------------------------------------------------

_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_REFUSED_METHODS = frozenset({"translate", "maketrans"})


def _check_builtin(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Checks a call of a built-in method before it runs (``'a'.center(10**9)``,
    ``(1).to_bytes(10**9)``: a number over MAX_SIZE is refused); returns the arguments to
    use (a generator given to ``join`` is read into a list first)."""
    name = getattr(method, "__name__", "method")
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and abs(arg) > MAX_SIZE:
            raise TemplateBudgetError(f"{name}() of {arg:,} is over the limit of {MAX_SIZE:,}")
    text = getattr(method, "__self__", None)
    if not isinstance(text, str | bytes):
        return args
    if name in _REFUSED_METHODS:
        raise TemplateBudgetError(f"{name}() is not allowed in templates")
    if name in _PADDING_METHODS and args:
        _width(args[0])
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        _width(tab, "a tab size")
        if isinstance(tab, int):
            tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
            _expected_size(len(text) + tabs * tab)
    elif name == "replace" and len(args) >= 2 and isinstance(text, str):
        if isinstance(args[0], str) and isinstance(args[1], str):
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            _expected_size(_replaced_size(text, args[0], args[1], count))
    elif name == "join" and args:
        items = list(args[0])
        _expected_size(size_of(items) + len(text) * len(items))
        return (items, *args[1:])
    return args


def _is_builtin(obj: Any) -> bool:
    return isinstance(obj, types.BuiltinMethodType | types.MethodWrapperType)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if left.bit_length() * right > MAX_INT_BITS:
            raise TemplateBudgetError(f"a number would have more than {MAX_INT_BITS:,} bits")
    elif operator == "*" and ints:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateBudgetError(f"a number would have more than {MAX_INT_BITS:,} bits")
    elif operator == "*":
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(times, int) and times > 0:
            _expected_size(size_of(seq) * times)
    elif operator == "+" and not ints:
        _expected_size(size_of(left) + size_of(right))
    elif operator == "%" and isinstance(left, str):
        _check_printf(left)
        _check_size(right)


class _Metering(NodeTransformer):
    """Rewrites a parsed template so that loops, ``~`` and literals are measured."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment

    def _wrap(self, node: nodes.Expr, name: str, *args: Any) -> nodes.Filter:
        wrapped = nodes.Filter(
            node, name, [nodes.Const(a) for a in args], [], None, None, lineno=node.lineno
        )
        wrapped.set_environment(self.environment)
        return wrapped

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        body = [*node.body, *node.else_]
        literal = sum(len(d.data) for n in body for d in n.find_all(nodes.TemplateData))
        node.iter = self._wrap(cast(nodes.Expr, node.iter), _LOOP, literal)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(list(node.nodes), lineno=node.lineno)
        parts.set_environment(self.environment)
        return self._wrap(parts, _CONCAT)

    def _literal(self, node: nodes.Node) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node  # an assignment target: ``{% for a, b in ... %}``
        return self._wrap(cast(nodes.Expr, node), _VALUE)

    visit_List = visit_Tuple = visit_Dict = _literal


class _MeteredCodeGenerator(CodeGenerator):
    """Jinja's code generator, run on the template rewritten by :class:`_Metering`."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        _Metering(self.environment).visit(node)
        super().visit_Template(node, frame)


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Every ``{{ ... }}`` output: measured before it is turned into text."""
    current = _budget()
    current.step()
    current.produce(_check_size(value))
    return value


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with a budget (module doc); render templates of it only inside
    :func:`budget`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _MeteredCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, finalize=_finalize, **options)
        self.globals["range"] = bounded_range
        self.globals.pop("lipsum", None)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP] = _loop_filter
        self.filters[_CONCAT] = _concat_filter
        self.filters[_VALUE] = _value_filter

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _budget().step()
        _check_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _budget().step()
        for arg in (*args, *kwargs.values()):
            _check_size(arg)
        if isinstance(obj, LoopContext) and args:  # ``loop(children)`` in a recursive loop
            args = (_metered(args[0], 0), *args[1:])
        elif _is_builtin(obj):
            args = _check_builtin(obj, args, kwargs)
        return _checked(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``text.format(...)`` and ``text.format_map(...)`` with bounded widths."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType):
            return None
        text = getattr(value, "__self__", None)
        if value.__name__ not in ("format", "format_map") or not isinstance(text, str):
            return None
        formatter: Formatter = (
            _BoundedEscapeFormatter(self, escape=text.escape)
            if isinstance(text, Markup)
            else _BoundedFormatter(self)
        )
        mapping = value.__name__ == "format_map"

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if not mapping:
                return type(text)(formatter.vformat(text, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one mapping")
            return type(text)(formatter.vformat(text, (), args[0]))

        return bounded_format
