"""Safe expressions and scripts for BPMN diagrams (ARCHITECTURE.md, decisions 5 and 6).

Process owners edit diagrams in the browser, so every gateway condition, timer expression and
script is untrusted. SpiffWorkflow's default environment is plain ``eval``/``exec``; this module
replaces it with an interpreter over a whitelisted Python AST. Nothing is ever compiled or
``eval``-ed: the checker refuses anything outside the whitelist and the interpreter computes the
value node by node, bounding the size of every intermediate result.

Ordinary data errors (a missing key, ``"a" + 1``, division by zero) raise the usual Python
exceptions; whatever is refused raises :class:`UnsafeExpression` or a subclass.
"""
from __future__ import annotations

import ast
import builtins
import io
import operator
import re
import textwrap
import tokenize
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .state import stored_form

MAX_SOURCE_CHARS = 4000
MAX_NODES = 500
MAX_DEPTH = 50  # AST depth and bracket nesting: "((((1))))" leaves no trace in the AST
MAX_LITERAL_ITEMS = 1000
MAX_STR_CONSTANT = 10_000
MAX_SIZE = 100_000  # chars/elements of a string or container built by an expression
MAX_TOTAL_SIZE = 1_000_000  # all of them together, in one evaluation or script run
MAX_INT = 2**128
MAX_POW_BASE, MAX_POW_EXPONENT = 10**6, 64
MAX_DATA_DEPTH = 100

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
FUNCTION_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
# Builtins the interpreter never exposes; refusing them by name gives a clear message at deploy time.
_BUILTIN_NAMES = frozenset(dir(builtins))

_DURATION = r"P(?:\d+W|(?=\d|T)(?:\d+Y)?(?:\d+M)?(?:\d+D)?)(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?"
_DATETIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
#: A bare ISO 8601 duration (``P2D``, ``PT4H``), as a timeDuration holds.
ISO_DURATION = re.compile(_DURATION)
ISO_TIMER_VALUE = re.compile(
    rf"{_DURATION}|{_DATETIME}|R\d*/(?:{_DATETIME}/{_DURATION}|{_DURATION}(?:/{_DATETIME})?)"
)


class UnsafeExpression(ValueError):
    """An expression or script outside the whitelist, or one that exceeded a limit.

    ``reason`` is English for logs; ``code`` (one of :data:`EXPRESSION_CODES`) and ``params`` are what a person is
    shown, rendered in their language by the web layer."""

    default_code = "expression.not_allowed"

    def __init__(self, reason: str, expression: str = "", *, code: str | None = None, **params: Any):
        super().__init__(reason)
        self.reason = reason
        self.expression = expression
        self.code = code or self.default_code
        self.params = params


class ExpressionLimitExceeded(UnsafeExpression):
    """A size, depth or magnitude limit was hit."""

    default_code = "expression.too_large"


class UnknownName(UnsafeExpression):
    """A name that is neither in the task data nor a registered function."""

    default_code = "expression.unknown_name"


#: Every code an :class:`UnsafeExpression` carries (the web layer has a message for each).
EXPRESSION_CODES = frozenset({
    "expression.not_allowed", "expression.too_large", "expression.unknown_name", "expression.name_invalid",
    "expression.name_builtin", "expression.repeat_count", "expression.constant_type", "expression.assignment",
    "expression.attribute", "expression.operator", "expression.percent_format", "expression.power_exponent",
    "expression.is_none_only", "expression.slice", "expression.subscript", "expression.call_unknown",
    "expression.call_form", "expression.unpacking", "expression.lambda", "expression.comprehension",
    "expression.fstring", "expression.set_literal", "expression.walrus", "expression.syntax",
    "expression.foreign_language", "expression.not_text", "expression.script_import",
    "expression.script_augmented", "expression.script_bare_expression", "expression.script_statement",
    "expression.script_target", "expression.script_assigns_function", "expression.data_value",
    "expression.result_value", "expression.function_value", "expression.service",
})


@dataclass(frozen=True)
class SafeFunction:
    name: str
    func: Callable
    doc: str = ""
    #: What the function gives, when a diagram check needs to know: ``"datetime"`` (an ISO date-time string, e.g. a
    #: deadline), ``"duration"`` (an ISO duration string) or None (anything).
    returns: str | None = None


class FunctionRegistry:
    """The vetted functions expressions may call. Functions must be pure and return plain values."""

    def __init__(self, functions: Iterable[SafeFunction] = ()):
        self._functions: dict[str, SafeFunction] = {}
        self._frozen = False
        #: Checked parse trees by (source, mode): a diagram's expressions are parsed and checked once, not at
        #: every evaluation. Only trees that passed every check are kept; registering a function empties it.
        self.parsed: dict[tuple[str, str], ast.AST] = {}
        for f in functions:
            self.register(f.name, f.func, f.doc, returns=f.returns)

    def register(self, name: str, func: Callable, doc: str = "", *, returns: str | None = None) -> None:
        if self._frozen:
            raise ValueError("this registry is shared; build your own with merged()")
        if not isinstance(name, str) or not FUNCTION_NAME_RE.fullmatch(name):
            raise ValueError(f"function name {name!r} must match ^[a-z][a-z0-9_]*$")
        if not callable(func):
            raise TypeError(f"function {name!r} is not callable")
        if name in self._functions:
            raise ValueError(f"function {name!r} is already registered")
        self._functions[name] = SafeFunction(name, func, doc, returns)
        self.parsed.clear()

    def names(self) -> frozenset[str]:
        return frozenset(self._functions)

    def get(self, name: str) -> Callable | None:
        f = self._functions.get(name)
        return f.func if f else None

    def returns(self, name: str) -> str | None:
        """What the function ``name`` gives (see :attr:`SafeFunction.returns`), if it says."""
        f = self._functions.get(name)
        return f.returns if f else None

    def merged(self, other: FunctionRegistry) -> FunctionRegistry:
        """A new registry with both sets of functions; `other` wins on a name clash."""
        return FunctionRegistry({**self._functions, **other._functions}.values())

    def __iter__(self) -> Iterator[SafeFunction]:
        return iter(self._functions.values())

    def __contains__(self, name: object) -> bool:
        return name in self._functions


def _need_str(value: Any, fn: str) -> str:
    if type(value) is not str:
        raise TypeError(f"{fn}() expects a string, got {type(value).__name__}")
    return value


def _strip(text: str, chars: str | None = None) -> str:
    return _need_str(text, "strip").strip(None if chars is None else _need_str(chars, "strip"))


def _round(number: Any, ndigits: int | None = None) -> Any:
    if type(number) not in (int, float, bool):
        raise TypeError(f"round() expects a number, got {type(number).__name__}")
    # round(1, -10**9) would compute 10**(10**9).
    if ndigits is not None and (type(ndigits) is not int or abs(ndigits) > 30):
        raise ExpressionLimitExceeded("round() ndigits must be an integer between -30 and 30")
    return round(number, ndigits)


def _contains(container: Any, item: Any) -> bool:
    if type(container) not in (str, list, tuple, dict):
        raise TypeError(f"contains() expects a string, list or dict, got {type(container).__name__}")
    return item in container


DEFAULT_FUNCTIONS = FunctionRegistry([
    SafeFunction("len", len, "Number of items or characters."),
    SafeFunction("min", min, "Smallest of the arguments (or of one list)."),
    SafeFunction("max", max, "Largest of the arguments (or of one list)."),
    SafeFunction("abs", abs, "Absolute value."),
    SafeFunction("round", _round, "round(number, ndigits=None)."),
    SafeFunction("int", int, "Convert to an integer."),
    SafeFunction("float", float, "Convert to a decimal number."),
    SafeFunction("str", str, "Convert to text."),
    SafeFunction("bool", bool, "Truth value."),
    SafeFunction("lower", lambda s: _need_str(s, "lower").lower(), "Text in lower case."),
    SafeFunction("upper", lambda s: _need_str(s, "upper").upper(), "Text in upper case."),
    SafeFunction("strip", _strip, "Text without surrounding whitespace."),
    SafeFunction("contains", _contains, "contains(container, item): item in container."),
])
DEFAULT_FUNCTIONS._frozen = True

# ---------------------------------------------------------------------------- static check

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not}
_OP_SYMBOLS = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
               ast.MatMult: "@", ast.Invert: "~"}
_REFUSED = {ast.Lambda: ("lambda is not allowed", "expression.lambda"),
            ast.ListComp: ("comprehensions are not allowed", "expression.comprehension"),
            ast.SetComp: ("comprehensions are not allowed", "expression.comprehension"),
            ast.DictComp: ("comprehensions are not allowed", "expression.comprehension"),
            ast.GeneratorExp: ("comprehensions are not allowed", "expression.comprehension"),
            ast.JoinedStr: ("f-strings are not allowed", "expression.fstring"),
            ast.FormattedValue: ("f-strings are not allowed", "expression.fstring"),
            ast.Set: ("set literals are not allowed", "expression.set_literal"),
            ast.NamedExpr: ("assignment expressions (:=) are not allowed", "expression.walrus"),
            ast.Slice: ("slices are not allowed", "expression.slice"),
            ast.Starred: ("star unpacking (*x) is not allowed", "expression.unpacking"),
            ast.Await: ("await is not allowed", "expression.not_allowed"),
            ast.Yield: ("yield is not allowed", "expression.not_allowed"),
            ast.YieldFrom: ("yield is not allowed", "expression.not_allowed")}


def check_name(name: str, functions: FunctionRegistry = DEFAULT_FUNCTIONS) -> None:
    """Raise UnsafeExpression unless `name` may be used as a variable in expressions."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise UnsafeExpression(f"name {str(name)[:40]!r} is not allowed (letters, digits and _, "
                               "starting with a letter)", code="expression.name_invalid", name=str(name)[:40])
    if name in _BUILTIN_NAMES and name not in functions:
        raise UnsafeExpression(f"name {name!r} is not allowed (Python builtin)", code="expression.name_builtin",
                               name=name)


def _is_int_constant(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _literal_size(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is str:
        return len(node.value)
    if isinstance(node, (ast.List, ast.Tuple)):
        return len(node.elts)
    return None


def _check_repetition(node: ast.BinOp) -> None:
    """A string or list literal may only be repeated a literal number of times, within the size limit."""
    for seq, count in ((node.left, node.right), (node.right, node.left)):
        size = _literal_size(seq)
        if size is None:
            continue
        if not _is_int_constant(count):
            raise UnsafeExpression("repeating a string or list needs a number literal as count",
                                   code="expression.repeat_count")
        times = count.value if isinstance(count, ast.Constant) else 0
        if size * max(times, 0) > MAX_SIZE:
            raise ExpressionLimitExceeded(f"repetition would build more than {MAX_SIZE} items")


# What each kind of node allowed in an expression must satisfy. Each check raises for a node it refuses and returns
# the node's children, which :func:`_check` checks in turn; a kind of node without a check is refused.
def _check_constant(node: ast.Constant, functions: FunctionRegistry) -> list:
    if type(node.value) not in (str, int, float, bool, type(None)):
        raise UnsafeExpression(f"{type(node.value).__name__} constants are not allowed",
                               code="expression.constant_type")
    if type(node.value) is str and len(node.value) > MAX_STR_CONSTANT:
        raise ExpressionLimitExceeded(f"string constant longer than {MAX_STR_CONSTANT} characters")
    return []


def _check_name_node(node: ast.Name, functions: FunctionRegistry) -> list:
    if not isinstance(node.ctx, ast.Load):
        raise UnsafeExpression(f"assigning to {node.id!r} is not allowed here", code="expression.assignment",
                               name=node.id)
    check_name(node.id, functions)
    return []


def _check_attribute(node: ast.Attribute, functions: FunctionRegistry) -> list:
    raise UnsafeExpression(f"attribute access is not allowed (.{node.attr})", code="expression.attribute",
                           attribute=node.attr)


def _check_bool_op(node: ast.BoolOp, functions: FunctionRegistry) -> list:
    return node.values


def _refuse_operator(op: ast.AST) -> UnsafeExpression:
    symbol = _OP_SYMBOLS.get(type(op), "?")
    return UnsafeExpression(f"operator '{symbol}' is not allowed", code="expression.operator", operator=symbol)


def _check_unary_op(node: ast.UnaryOp, functions: FunctionRegistry) -> list:
    if type(node.op) not in (ast.Not, ast.USub, ast.UAdd):
        raise _refuse_operator(node.op)
    return [node.operand]


def _check_power(node: ast.BinOp) -> None:
    """Refused before deploy, not only when run: the exponent must be a small literal."""
    exponent = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
    if not (isinstance(exponent, ast.Constant) and type(exponent.value) in (int, float)):
        raise UnsafeExpression("'**' needs a number literal as exponent", code="expression.power_exponent")
    if abs(exponent.value) > MAX_POW_EXPONENT:
        raise ExpressionLimitExceeded(f"'**' exponent is limited to {MAX_POW_EXPONENT}")


def _check_bin_op(node: ast.BinOp, functions: FunctionRegistry) -> list:
    if type(node.op) not in _BINOPS:
        raise _refuse_operator(node.op)
    if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and type(node.left.value) is str:
        raise UnsafeExpression("'%' formatting of strings is not allowed", code="expression.percent_format")
    if isinstance(node.op, ast.Pow):
        _check_power(node)
    if isinstance(node.op, ast.Mult):
        _check_repetition(node)
    return [node.left, node.right]


def _check_compare(node: ast.Compare, functions: FunctionRegistry) -> list:
    for op, right in zip(node.ops, node.comparators):
        if isinstance(op, (ast.Is, ast.IsNot)) and not (isinstance(right, ast.Constant) and right.value is None):
            raise UnsafeExpression("'is' is only allowed as 'is None' / 'is not None'",
                                   code="expression.is_none_only")
    return [node.left, *node.comparators]


def _check_if_exp(node: ast.IfExp, functions: FunctionRegistry) -> list:
    return [node.test, node.body, node.orelse]


def _check_subscript(node: ast.Subscript, functions: FunctionRegistry) -> list:
    index = node.slice
    if isinstance(index, ast.Slice):
        raise UnsafeExpression("slices are not allowed", code="expression.slice")
    if not (_is_int_constant(index) or isinstance(index, ast.Name)
            or (isinstance(index, ast.Constant) and type(index.value) is str)):
        raise UnsafeExpression("subscripts must be a constant string/integer or a plain name",
                               code="expression.subscript")
    return [node.value, index]


def _check_call(node: ast.Call, functions: FunctionRegistry) -> list:
    if isinstance(node.func, ast.Attribute):
        raise UnsafeExpression(f"attribute access is not allowed (.{node.func.attr})",
                               code="expression.attribute", attribute=node.func.attr)
    if not isinstance(node.func, ast.Name):
        raise UnsafeExpression("only registered functions may be called, by name", code="expression.call_form",
                               functions=", ".join(sorted(functions.names())))
    check_name(node.func.id, functions)
    if node.func.id not in functions:
        raise UnsafeExpression(f"call to {node.func.id!r} is not allowed (not a registered function)",
                               code="expression.call_unknown", name=node.func.id,
                               functions=", ".join(sorted(functions.names())))
    for kw in node.keywords:
        if kw.arg is None:
            raise UnsafeExpression("keyword unpacking (**kwargs) is not allowed", code="expression.unpacking")
        check_name(kw.arg, functions)
    return [*node.args, *(kw.value for kw in node.keywords)]


def _check_sequence(node: ast.List | ast.Tuple, functions: FunctionRegistry) -> list:
    if len(node.elts) > MAX_LITERAL_ITEMS:
        raise ExpressionLimitExceeded(f"literal with more than {MAX_LITERAL_ITEMS} items")
    if not isinstance(node.ctx, ast.Load):
        raise UnsafeExpression("unpacking assignment is not allowed", code="expression.unpacking")
    return node.elts


def _check_dict(node: ast.Dict, functions: FunctionRegistry) -> list:
    if len(node.values) > MAX_LITERAL_ITEMS:
        raise ExpressionLimitExceeded(f"literal with more than {MAX_LITERAL_ITEMS} items")
    if any(k is None for k in node.keys):
        raise UnsafeExpression("dict unpacking (**x) is not allowed", code="expression.unpacking")
    return [*node.keys, *node.values]


_NODE_CHECKS = {ast.Constant: _check_constant, ast.Name: _check_name_node, ast.Attribute: _check_attribute,
                ast.BoolOp: _check_bool_op, ast.UnaryOp: _check_unary_op, ast.BinOp: _check_bin_op,
                ast.Compare: _check_compare, ast.IfExp: _check_if_exp, ast.Subscript: _check_subscript,
                ast.Call: _check_call, ast.List: _check_sequence, ast.Tuple: _check_sequence, ast.Dict: _check_dict}


def _check(node: ast.AST, functions: FunctionRegistry, depth: int = 0) -> None:
    """Refuse anything but the expressions a diagram may hold (see the module doc), and trees nested too deeply."""
    if depth > MAX_DEPTH:
        raise ExpressionLimitExceeded(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
    check = _NODE_CHECKS.get(type(node))
    if check is None:
        reason, code = _REFUSED.get(type(node), (f"{type(node).__name__} is not allowed", "expression.not_allowed"))
        raise UnsafeExpression(reason, code=code)
    for child in check(node, functions):
        _check(child, functions, depth + 1)


def _statement_refused(stmt: ast.stmt) -> UnsafeExpression:
    line = getattr(stmt, "lineno", None)
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return UnsafeExpression("import is not allowed", code="expression.script_import", line=line)
    if isinstance(stmt, ast.AugAssign):
        return UnsafeExpression("augmented assignment (+= etc.) is not allowed; write `x = x + 1`",
                                code="expression.script_augmented", line=line)
    if isinstance(stmt, ast.Expr):
        return UnsafeExpression("a bare expression does nothing here; a script may only contain "
                                "`name = expression` lines", code="expression.script_bare_expression", line=line)
    return UnsafeExpression(f"{type(stmt).__name__} statements are not allowed; a script may only contain "
                            "`name = expression` lines", code="expression.script_statement", line=line)


#: How many checked trees a registry keeps (far more than the expressions of every deployed version).
MAX_PARSED = 4096


def _parse(source: Any, mode: str, functions: FunctionRegistry) -> ast.AST:
    """The checked tree of ``source``; the interpreter only reads it, so one tree serves every evaluation."""
    if not isinstance(source, str):
        return _parse_and_check(source, mode, functions)
    key = (source, mode)
    tree = functions.parsed.get(key)
    if tree is None:
        tree = _parse_and_check(source, mode, functions)
        if len(functions.parsed) >= MAX_PARSED:
            functions.parsed.clear()
        functions.parsed[key] = tree
    return tree


def _parse_and_check(source: Any, mode: str, functions: FunctionRegistry) -> ast.AST:
    if not isinstance(source, str):
        raise UnsafeExpression(f"expression must be a string, not {type(source).__name__}",
                               code="expression.not_text")
    if len(source) > MAX_SOURCE_CHARS:
        raise ExpressionLimitExceeded(f"expression is too long ({len(source)} > {MAX_SOURCE_CHARS} characters)")
    try:
        tree = ast.parse(source, mode=mode)
        nesting = _bracket_depth(source)
    except SyntaxError as e:
        raise UnsafeExpression(f"syntax error: {e.msg}", code="expression.syntax", line=e.lineno or 1,
                               column=e.offset or 1) from None
    except (RecursionError, MemoryError, ValueError, tokenize.TokenError):
        raise ExpressionLimitExceeded("expression is too complex to parse") from None
    if nesting > MAX_DEPTH:
        raise ExpressionLimitExceeded(f"brackets are nested too deeply (more than {MAX_DEPTH} levels)")
    count = 0
    for node in ast.walk(tree):  # iterative, so safe on degenerate trees
        count += isinstance(node, (ast.expr, ast.stmt))
        if count > MAX_NODES:
            raise ExpressionLimitExceeded(f"expression is too large (more than {MAX_NODES} nodes)")
    if mode == "eval":
        _check(tree.body, functions)
        return tree
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign):
            raise _statement_refused(stmt)
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise UnsafeExpression("only `name = expression` is allowed (one plain name on the left)",
                                   code="expression.script_target", line=stmt.lineno)
        target = stmt.targets[0].id
        check_name(target, functions)
        if target in functions:
            raise UnsafeExpression(f"cannot assign to {target!r}: it is a registered function",
                                   code="expression.script_assigns_function", name=target)
        _check(stmt.value, functions, 1)
    return tree


def _bracket_depth(source: str) -> int:
    depth = deepest = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.OP and tok.string in ("(", "[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif tok.type == tokenize.OP and tok.string in (")", "]", "}"):
            depth -= 1
    return deepest


def _is_timer_value(source: Any) -> bool:
    return isinstance(source, str) and len(source) <= 200 and ISO_TIMER_VALUE.fullmatch(source.strip()) is not None


#: An expression written in another engine's language: Camunda's JUEL ``${approved}`` or ``#{...}``.
_FOREIGN_EXPRESSION = re.compile(r"\s*[$#]\{(?P<inner>.*)\}\s*", re.DOTALL)


def _refuse_foreign(source: Any) -> None:
    match = _FOREIGN_EXPRESSION.fullmatch(source) if isinstance(source, str) else None
    if match:
        raise UnsafeExpression("JUEL expressions (${...}) are not this engine's language",
                               code="expression.foreign_language", inner=match["inner"].strip()[:80])


def check_expression(source: str, functions: FunctionRegistry = DEFAULT_FUNCTIONS) -> None:
    """Static check: raises UnsafeExpression if `source` is not in the whitelist. Evaluates nothing."""
    with _blame(source):
        _refuse_foreign(source)
        if not _is_timer_value(source):
            _parse(source.strip() if isinstance(source, str) else source, "eval", functions)


def check_script(source: str, functions: FunctionRegistry = DEFAULT_FUNCTIONS) -> None:
    """A script is a sequence of simple assignments `name = <expression>` (one target, plain name)."""
    with _blame(source):
        _parse(_dedent(source), "exec", functions)


@contextmanager
def _blame(source: Any) -> Iterator[None]:
    """Attach the offending source to an UnsafeExpression raised inside."""
    try:
        yield
    except UnsafeExpression as e:
        if not e.expression:
            e.expression = source if isinstance(source, str) else repr(source)
        raise


def _dedent(source: Any) -> Any:
    return textwrap.dedent(source).strip() if isinstance(source, str) else source

# ---------------------------------------------------------------------------- run time

_PLAIN_SCALARS = (str, int, float, bool, type(None), datetime, date)


def _check_plain(value: Any, what: str) -> Any:
    """Refuse anything but JSON-ish values (plus date/datetime), however deeply nested."""
    seen: set[int] = set()
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        t = type(v)
        if t in _PLAIN_SCALARS:
            continue
        if t not in (list, tuple, dict):
            raise UnsafeExpression(f"{what} holds a {t.__name__} value, which expressions cannot use",
                                   code="expression.data_value")
        if depth >= MAX_DATA_DEPTH:
            raise ExpressionLimitExceeded(f"{what} is nested too deeply")
        if id(v) in seen:  # shared or cyclic: already checked
            continue
        seen.add(id(v))
        if t is dict:
            if any(type(k) not in (str, int) for k in v):
                raise UnsafeExpression(f"{what} has a dict key that is not a string or integer",
                                       code="expression.data_value")
            stack.extend((item, depth + 1) for item in v.values())
        else:
            stack.extend((item, depth + 1) for item in v)
    return value


def _size(value: Any, budget: int = MAX_SIZE) -> int:
    """Logical size (each object 1, strings plus their length, shared parts counted each time);
    stops counting once past `budget`, so it is cheap even on aliased structures."""
    total, stack = 0, [value]
    while stack and total <= budget:
        v = stack.pop()
        total += 1
        if type(v) is str:
            total += len(v)
        elif type(v) in (list, tuple, dict):
            if total + len(v) > budget:
                return budget + 1
            stack.extend(v if type(v) is not dict else [*v.keys(), *v.values()])
    return total


def _check_result(value: Any) -> Any:
    if type(value) is int and abs(value) > MAX_INT:
        raise ExpressionLimitExceeded("integer result is too large")
    if type(value) not in (*_PLAIN_SCALARS, list, tuple, dict):
        raise UnsafeExpression(f"a {type(value).__name__} result is not allowed", code="expression.result_value")
    return value


class _Interpreter:
    def __init__(self, scope: Mapping[str, Any], functions: FunctionRegistry):
        self.scope = scope
        self.functions = functions
        self.checked: set[str] = set()  # names whose values passed _check_plain already
        self.built = 0  # size of everything built so far; many 100k-results would still add up

    def _build(self, size: int) -> None:
        if size > MAX_SIZE:
            raise ExpressionLimitExceeded(f"result would exceed {MAX_SIZE} characters/elements")
        self.built += size
        if self.built > MAX_TOTAL_SIZE:
            raise ExpressionLimitExceeded(f"expression builds more than {MAX_TOTAL_SIZE} characters/elements")

    def eval(self, node: ast.expr) -> Any:
        return getattr(self, "_" + type(node).__name__)(node)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        name = node.id
        if name in self.scope:
            value = self.scope[name]
            if name not in self.checked:
                _check_plain(value, f"{name!r}")
                self.checked.add(name)
            return value
        if name in self.functions:
            raise UnsafeExpression(f"function {name!r} can only be called", code="expression.function_value",
                                   name=name)
        raise UnknownName(f"name {name!r} is not defined", name=name)

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        for value_node in node.values:
            value = self.eval(value_node)
            if bool(value) != is_and:  # short-circuit like Python
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        return _check_result(-value if isinstance(node.op, ast.USub) else +value)

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        op = type(node.op)
        # Size checks come before the operation: "a" * 10**9 must never be allocated.
        if op is ast.Add and type(left) is str and type(right) is str:
            self._build(len(left) + len(right))
        elif op is ast.Add and type(left) in (list, tuple) and type(right) in (list, tuple):
            self._build(_size(left) + _size(right))
        elif op is ast.Mult:
            seq, count = (left, right) if type(left) in (str, list, tuple) else (right, left)
            if type(seq) in (str, list, tuple) and type(count) in (int, bool):
                unit = len(seq) if type(seq) is str else _size(seq) - 1
                self._build(unit * max(count, 0))
        elif op is ast.Mod and type(left) is str:
            raise UnsafeExpression("'%' formatting of strings is not allowed", code="expression.percent_format")
        elif op is ast.Pow:
            if type(left) not in (int, float, bool) or type(right) not in (int, float, bool):
                raise TypeError("'**' needs two numbers")
            if abs(right) > MAX_POW_EXPONENT or abs(left) > MAX_POW_BASE:
                raise ExpressionLimitExceeded(
                    f"'**' is limited to |base| <= {MAX_POW_BASE} and |exponent| <= {MAX_POW_EXPONENT}")
        try:
            return _check_result(_BINOPS[op](left, right))
        except OverflowError:
            raise ExpressionLimitExceeded("numeric result is too large") from None

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _Subscript(self, node: ast.Subscript) -> Any:
        container, key = self.eval(node.value), self.eval(node.slice)
        if type(container) is dict:
            if type(key) not in (str, int):
                raise UnsafeExpression(f"dict keys must be strings or integers, not {type(key).__name__}")
        elif type(container) in (list, tuple, str):
            if type(key) is not int:
                raise TypeError(f"{type(container).__name__} index must be an integer, not {type(key).__name__}")
        else:
            raise UnsafeExpression(f"subscript on a {type(container).__name__} value is not allowed",
                                   code="expression.subscript")
        return container[key]

    def _Call(self, node: ast.Call) -> Any:
        name = node.func.id
        func = self.functions.get(name)
        if func is None:  # the static check already refused this; belt and braces
            raise UnsafeExpression(f"call to {name!r} is not allowed (not a registered function)",
                                   code="expression.call_unknown", name=name,
                                   functions=", ".join(sorted(self.functions.names())))
        args = [self.eval(a) for a in node.args]
        kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords}
        return _check_plain(_check_result(func(*args, **kwargs)), f"the result of {name}()")

    def _List(self, node: ast.List) -> list:
        return self._sized([self.eval(e) for e in node.elts])

    def _Tuple(self, node: ast.Tuple) -> tuple:
        return self._sized(tuple(self.eval(e) for e in node.elts))

    def _Dict(self, node: ast.Dict) -> dict:
        result = {}
        for key_node, value_node in zip(node.keys, node.values):
            key = self.eval(key_node)
            if type(key) not in (str, int):
                raise UnsafeExpression(f"dict keys must be strings or integers, not {type(key).__name__}")
            result[key] = self.eval(value_node)
        return self._sized(result)

    def _sized(self, value: Any) -> Any:
        # A literal may repeat a large value ([x, x, x]); in scripts that would compound.
        self._build(_size(value))
        return value


def _check_data_keys(data: Mapping[str, Any]) -> None:
    for key in data:
        if not isinstance(key, str) or not NAME_RE.fullmatch(key):
            raise UnsafeExpression(f"task data key {str(key)[:40]!r} is not a valid name; refusing to run",
                                   code="expression.data_value")


def evaluate(source: str, data: Mapping[str, Any], functions: FunctionRegistry = DEFAULT_FUNCTIONS) -> Any:
    """check_expression + interpret. A bare ISO timer value evaluates to that string."""
    with _blame(source):
        _check_data_keys(data)
        _refuse_foreign(source)
        if _is_timer_value(source):
            return source.strip()
        tree = _parse(source.strip() if isinstance(source, str) else source, "eval", functions)
        return _Interpreter(data, functions).eval(tree.body)


def _run_script(source: str, data: Mapping[str, Any], functions: FunctionRegistry) -> dict[str, Any]:
    """The assignments a script makes; nothing is written if any line fails."""
    with _blame(source):
        _check_data_keys(data)
        tree = _parse(_dedent(source), "exec", functions)
        assigned: dict[str, Any] = {}
        interpreter = _Interpreter(ChainMap(assigned, data), functions)
        for stmt in tree.body:
            name = stmt.targets[0].id
            # Kept as the stored state will give it back (tuples as lists, keys as strings), so the next line, the
            # next task and the next action after a save all see the same value.
            assigned[name] = stored_form(interpreter.eval(stmt.value))
            interpreter.checked.add(name)  # interpreter results are plain by construction
        return assigned


def execute(source: str, data: dict, functions: FunctionRegistry = DEFAULT_FUNCTIONS) -> None:
    """check_script + interpret; assigns into `data` (replacing top-level keys only)."""
    data.update(_run_script(source, data, functions))


class SafeScriptEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment: `PythonScriptEngine(environment=SafeScriptEnvironment())`."""

    def __init__(self, functions: FunctionRegistry = DEFAULT_FUNCTIONS):
        super().__init__()
        self.functions = functions

    def evaluate(self, expression, context, external_context=None):
        return evaluate(expression, {**(external_context or {}), **context}, self.functions)

    def execute(self, script, context, external_context=None):
        context.update(_run_script(script, {**(external_context or {}), **context}, self.functions))
        return True

    def call_service(self, context, **kwargs):
        raise UnsafeExpression("service calls are not supported", code="expression.service")
