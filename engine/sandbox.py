"""Sandboxed SpiffWorkflow script engine: RestrictedPython scripts, simpleeval expressions.

Scripts (script tasks, pre/post scripts) run as RestrictedPython bytecode with guarded hooks;
expressions (conditions, timers, DMN entries, message payloads/correlations, multi-instance) go
through ``simpleeval.EvalWithCompoundTypes`` with task data as names. Both refuse imports, dunder
names/attributes, reflective builtins (``getattr``, ``eval``, ``open`` ...) and module access;
the only functions are SAFE_BUILTINS plus an explicit ``HelperRegistry``.

Budgets: every loop iteration, comprehension item, function call and expression node "ticks";
a tick once the step's scripts and expressions have used more CPU time than ``Budget.seconds``
(this thread's CPU time inside ``SandboxEnvironment.evaluate/execute`` only, so neither the
engine's own work between scripts nor a loaded machine that deschedules the worker counts
against a script), or past its memory growth
(``Budget.memory_mb``, resident set size) raises ``BudgetExceeded``, which the script engine turns
into a task error (an incident), so ``while True: pass`` ends the step after a few seconds.
Amplifying operations are bounded one by one: ``*``, ``**``, ``+``, ``<<``, ``%`` formatting,
``str.ljust/rjust/center/zfill/expandtabs/replace/join/translate``, ``int.to_bytes``,
``list.extend``, ``range``. ``BudgetExceeded`` derives from BaseException and a bare ``except:``
is refused, so a script cannot swallow it.

Attribute and item access is an allow-list: only values of the plain data types in
``ALLOWED_ATTRIBUTES`` (str, numbers, containers, date/datetime/timedelta/Decimal) expose their
public methods; anything else (a live SpiffWorkflow object, a helper's internals) is refused.

SpiffWorkflow does NOT serialize the script engine: a deserialized ``BpmnWorkflow`` silently gets
the default, unrestricted ``PythonScriptEngine``. Re-attach ``make_script_engine()`` after every
load (the persistence layer does this).
"""

from __future__ import annotations

import ast
import keyword
import operator
import os
import re
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

import simpleeval
from RestrictedPython import Guards, compile_restricted_exec
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError

FORBIDDEN_NAMES = frozenset({
    "__import__", "__builtins__", "__loader__", "__spec__", "open", "eval", "exec", "compile",
    "globals", "locals", "vars", "getattr", "setattr", "delattr", "breakpoint", "memoryview",
    "super", "object", "classmethod", "staticmethod", "property",
})
_FORBIDDEN_ATTRS = frozenset({
    "format", "format_map", "mro", "exec", "gi_frame", "gi_code", "ag_frame", "ag_code",
    "cr_frame", "cr_code", "tb_frame", "tb_next", "f_back", "f_globals", "f_locals",
    "f_builtins", "f_code", "co_code",
})
MAX_RANGE = 100_000
MAX_SEQUENCE_LENGTH = 100_000
MAX_INT_BITS = 1_000_000
_CACHE_SIZE = 512
_PREFIX = "refused by sandbox: "


class SandboxViolation(ScriptError):
    """The sandbox refused a script or expression."""


class BudgetExceeded(BaseException):
    """A step ran longer or grew more memory than its budget.

    A BaseException so that ``except Exception`` in a script cannot swallow it; the script
    engine turns it into a task error (an incident) at its boundary."""


class StepInterrupted(BaseException):
    """The process is shutting down (SIGTERM): abandon the step, roll it back, keep it due."""


@dataclass(frozen=True)
class Budget:
    """What one step may spend: CPU seconds inside its scripts and expressions, and
    resident-memory growth (0 = unchecked)."""

    seconds: float = 5.0
    memory_mb: int = 256


@dataclass
class _Running:
    budget: Budget
    rss_start: int
    spent: float = 0.0  # CPU seconds of the step's finished evaluations
    since: float | None = None  # thread CPU clock when the running evaluation began
    ticks: int = field(default=0)


_RUNNING: ContextVar[_Running | None] = ContextVar("lotse_sandbox_budget", default=None)
_INTERRUPT = threading.Event()
_MEMORY_EVERY = 64  # ticks between two looks at the resident set size
try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
    _PAGE = 4096


def _rss() -> int:
    """Resident set size in bytes (0 where /proc is missing: memory is then unchecked)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return 0


def interrupt() -> None:
    """Ask every running step of this process to stop at its next tick (signal-safe)."""
    _INTERRUPT.set()


def clear_interrupt() -> None:
    _INTERRUPT.clear()


@contextmanager
def budget_scope(budget: Budget):
    """Run the enclosed scripts/expressions under ``budget``; nested scopes share the outer."""
    if _RUNNING.get() is not None:
        yield
        return
    memory = budget.memory_mb and _rss()
    token = _RUNNING.set(_Running(budget, memory))
    try:
        yield
    finally:
        _RUNNING.reset(token)


@contextmanager
def _metered():
    """Count the enclosed script or expression's CPU time against the running budget.

    A nested evaluation (an expression inside a helper a script called) is already counted."""
    run = _RUNNING.get()
    if run is None or run.since is not None:
        yield
        return
    run.since = time.thread_time()
    try:
        yield
    finally:
        run.spent += time.thread_time() - run.since
        run.since = None


def _tick() -> None:
    run = _RUNNING.get()
    if _INTERRUPT.is_set():
        raise StepInterrupted("shutting down")
    if run is None:
        return
    if run.since is not None and run.spent + time.thread_time() - run.since >= run.budget.seconds:
        raise BudgetExceeded(
            f"refused by sandbox: the step's scripts ran longer than their budget of "
            f"{run.budget.seconds:g} s CPU time (LOTSE_SCRIPT_TIMEOUT_SECONDS)")
    run.ticks += 1
    if run.rss_start and run.ticks % _MEMORY_EVERY == 0:
        if _rss() - run.rss_start > run.budget.memory_mb * 1024 * 1024:
            raise BudgetExceeded(
                f"refused by sandbox: the step used more than {run.budget.memory_mb} MB of "
                "memory (LOTSE_SCRIPT_MEMORY_MB)")


def _ticking_iter(obj: Any) -> Iterator[Any]:
    """iter() for scripts: every item is a tick (for loops and comprehensions)."""
    for item in obj:
        _tick()
        yield item


class SandboxSyntaxError(SandboxViolation, SyntaxError):
    """A compile-time refusal; carries ``lineno`` so SpiffWorkflow's error formatter works."""

    def __init__(self, message: str, lineno: int = 1) -> None:
        super().__init__(message)
        self.lineno, self.offset, self.filename = lineno or 1, 0, "<string>"


def _refuse(reason: str) -> SandboxViolation:
    return SandboxViolation(_PREFIX + reason)


def _bounded_range(*args: int) -> range:
    """range() refusing more than MAX_RANGE items."""
    result = range(*args)
    if result[MAX_RANGE:]:  # a slice, not len(): len() overflows on huge ranges
        raise _refuse(f"range longer than {MAX_RANGE} items")
    return result


def _safe_pow(a: Any, b: Any) -> Any:
    """a ** b refusing integer results beyond MAX_INT_BITS bits."""
    ints = isinstance(a, int) and isinstance(b, int)
    if ints and abs(a) > 1 and a.bit_length() * abs(b) > MAX_INT_BITS:
        raise _refuse("number too large")
    return operator.pow(a, b)


def _check_length(length: int) -> None:
    if length > MAX_SEQUENCE_LENGTH:
        raise _refuse(f"sequence longer than {MAX_SEQUENCE_LENGTH} items")


def _safe_mult(a: Any, b: Any) -> Any:
    """a * b refusing sequences longer than MAX_SEQUENCE_LENGTH."""
    for seq, n in ((a, b), (b, a)):
        if hasattr(seq, "__len__") and isinstance(n, int):
            _check_length(len(seq) * n)
    return operator.mul(a, b)


def _safe_iadd(a: Any, b: Any) -> Any:
    """a += b refusing sequences longer than MAX_SEQUENCE_LENGTH."""
    if hasattr(a, "__len__") and hasattr(b, "__len__"):
        _check_length(len(a) + len(b))
    return operator.iadd(a, b)


def _safe_add(a: Any, b: Any) -> Any:
    """a + b refusing sequences longer than MAX_SEQUENCE_LENGTH (``s = s + s`` in a loop)."""
    if hasattr(a, "__len__") and hasattr(b, "__len__"):
        _check_length(len(a) + len(b))
    return operator.add(a, b)


def _safe_lshift(a: Any, b: Any) -> Any:
    """a << b refusing integer results beyond MAX_INT_BITS bits."""
    if isinstance(a, int) and isinstance(b, int) and a and a.bit_length() + b > MAX_INT_BITS:
        raise _refuse("number too large")
    return operator.lshift(a, b)


_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _safe_mod(a: Any, b: Any) -> Any:
    """a % b; for %-formatting refuses ``*`` widths and widths/precisions over the limit."""
    if isinstance(a, (str, bytes)):
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        for match in _FORMAT_SPEC.finditer(text):
            for part in match.groups():
                if part == "*":
                    raise _refuse("'*' width in % formatting is not allowed")
                if part is not None:
                    _check_length(int(part))
    return operator.mod(a, b)


def _width(limit_arg: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a str method whose argument ``limit_arg`` is the result's length."""
    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        def bounded(*args: Any, **kwargs: Any) -> Any:
            if len(args) > limit_arg and isinstance(args[limit_arg], int):
                _check_length(args[limit_arg])
            return method(*args, **kwargs)
        return bounded
    return wrap


def _bounded_replace(method: types.BuiltinMethodType) -> Callable[..., Any]:
    owner: Any = method.__self__  # the str, bytes or list the method is bound to

    def replace(old: Any, new: Any, count: int = -1) -> Any:
        hits = owner.count(old) if old else len(owner) + 1
        if count is not None and count >= 0:
            hits = min(hits, count)
        _check_length(len(owner) + hits * max(len(new) - len(old), 0))
        return method(old, new, count)
    return replace


def _bounded_expandtabs(method: types.BuiltinMethodType) -> Callable[..., Any]:
    owner: Any = method.__self__  # the str, bytes or list the method is bound to

    def expandtabs(tabsize: int = 8) -> Any:
        tab = "\t" if isinstance(owner, str) else b"\t"
        _check_length(len(owner) + owner.count(tab) * max(int(tabsize), 0))
        return method(tabsize)
    return expandtabs


def _bounded_join(method: types.BuiltinMethodType) -> Callable[..., Any]:
    owner: Any = method.__self__  # the str, bytes or list the method is bound to

    def join(items: Iterable[Any]) -> Any:
        items = list(items)
        _check_length(sum(len(i) for i in items if hasattr(i, "__len__"))
                      + len(owner) * max(len(items) - 1, 0))
        return method(items)
    return join


def _bounded_translate(method: types.BuiltinMethodType) -> Callable[..., Any]:
    owner: Any = method.__self__  # the str, bytes or list the method is bound to

    def translate(table: Any, *args: Any) -> Any:
        longest = 1
        if isinstance(table, dict):
            longest = max([len(v) for v in table.values() if hasattr(v, "__len__")] or [1])
        _check_length(len(owner) * longest)
        return method(table, *args)
    return translate


def _bounded_extend(method: types.BuiltinMethodType) -> Callable[..., Any]:
    owner: Any = method.__self__  # the str, bytes or list the method is bound to

    def extend(items: Iterable[Any]) -> None:
        items = list(items)
        _check_length(len(owner) + len(items))
        return method(items)
    return extend


def _bounded_to_bytes(method: Callable[..., Any]) -> Callable[..., Any]:
    def to_bytes(length: int = 1, *args: Any, **kwargs: Any) -> Any:
        _check_length(int(length))
        return method(length, *args, **kwargs)
    return to_bytes


# the values wrapped are bound methods of the builtin types (str.replace, list.extend, ...)
_BOUNDED_METHODS: Mapping[str, Callable[[types.BuiltinMethodType], Callable[..., Any]]] = {
    "ljust": _width(0), "rjust": _width(0), "center": _width(0), "zfill": _width(0),
    "expandtabs": _bounded_expandtabs, "replace": _bounded_replace, "join": _bounded_join,
    "translate": _bounded_translate, "extend": _bounded_extend, "to_bytes": _bounded_to_bytes,
}


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _safe_iadd, "-=": operator.isub, "*=": _safe_mult, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": _safe_mod, "**=": _safe_pow, "<<=": _safe_lshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
}
_OPERATORS = {**simpleeval.DEFAULT_OPERATORS, ast.Pow: _safe_pow, ast.Mult: _safe_mult,
              ast.Add: _safe_add, ast.LShift: _safe_lshift, ast.Mod: _safe_mod}

# The only values whose attributes scripts and expressions may touch: plain data. A type not
# listed here (a live workflow, a task, a helper's object) exposes nothing. Reading the clock
# goes through helpers on the engine clock, so the wall-clock constructors are left out.
_NO_ATTRS = frozenset({"today", "now", "utcnow", "fromtimestamp", "utcfromtimestamp",
                       "fromordinal", "mro"})
ALLOWED_ATTRIBUTES: Mapping[type, frozenset[str]] = types.MappingProxyType({
    t: frozenset(n for n in dir(t) if not n.startswith("_")) - _FORBIDDEN_ATTRS - _NO_ATTRS
    for t in (str, bytes, int, float, bool, list, tuple, dict, set, frozenset, range,
              date, datetime, day_time, timedelta, Decimal, type(None))
})

def _isinstance(obj: Any, kinds: Any) -> bool:
    """isinstance() (simpleeval refuses the builtin itself; the classes scripts can name are
    the plain types of SAFE_BUILTINS, so it reveals nothing)."""
    return isinstance(obj, kinds)


SAFE_BUILTINS: Mapping[str, Callable[..., Any]] = types.MappingProxyType({
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "round": round, "abs": abs,
    "min": min, "max": max, "sum": sum, "any": any, "all": all, "sorted": sorted, "list": list,
    "dict": dict, "set": set, "tuple": tuple, "enumerate": enumerate, "range": _bounded_range,
    "zip": zip, "isinstance": _isinstance, "reversed": reversed, "map": map, "filter": filter,
    "divmod": divmod, "chr": chr, "ord": ord, "frozenset": frozenset,
})
_EXCEPTIONS = (Exception, ValueError, KeyError, TypeError, IndexError, ZeroDivisionError,
               NameError, AttributeError, LookupError, ArithmeticError, RuntimeError)


def _no_module(value: Any) -> Any:
    if isinstance(value, types.ModuleType):
        raise _refuse("access to a module is not allowed")
    return value


def _allowed_attr(obj: Any, name: Any) -> None:
    if not isinstance(name, str) or name.startswith("_") or name in _FORBIDDEN_ATTRS:
        raise _refuse(f"attribute '{name}' is not allowed")
    allowed = ALLOWED_ATTRIBUTES.get(type(obj))
    if allowed is None:
        raise _refuse(f"attribute '{name}' of a {type(obj).__name__} value is not allowed")
    if name not in allowed:
        raise _refuse(f"attribute '{name}' of {type(obj).__name__} is not allowed")


def _bounded(name: str, value: Any) -> Any:
    wrap = _BOUNDED_METHODS.get(name)
    return wrap(value) if wrap is not None and callable(value) else value


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """getattr() allowing only public attributes of plain data types (ALLOWED_ATTRIBUTES)."""
    _allowed_attr(obj, name)
    return _bounded(name, _no_module(getattr(obj, name, *default)))


def _guarded_getitem(obj: Any, key: Any) -> Any:
    """obj[key] for plain containers only (a mapping-like live object exposes nothing)."""
    if type(obj) not in ALLOWED_ATTRIBUTES:
        raise _refuse(f"item access on a {type(obj).__name__} value is not allowed")
    return _no_module(obj[key])


_SCRIPT_GLOBALS: Mapping[str, Any] = types.MappingProxyType({
    "__builtins__": {**SAFE_BUILTINS, **{e.__name__: e for e in _EXCEPTIONS}},
    "_getattr_": _guarded_getattr, "_getitem_": _guarded_getitem,
    "_getiter_": _ticking_iter, "_write_": Guards.full_write_guard,
    "_iter_unpack_sequence_": Guards.guarded_iter_unpack_sequence,
    "_unpack_sequence_": Guards.guarded_unpack_sequence,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
    "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs),
    "_print_": PrintCollector,  # print() output is collected and discarded
    "_lotse_mul_": _safe_mult, "_lotse_pow_": _safe_pow, "_lotse_add_": _safe_add,
    "_lotse_lshift_": _safe_lshift, "_lotse_mod_": _safe_mod, "_lotse_tick_": _tick,
})


def _tick_call(node: ast.AST) -> ast.stmt:
    call = ast.Expr(ast.Call(func=ast.Name(id="_lotse_tick_", ctx=ast.Load()), args=[],
                             keywords=[]))
    return ast.fix_missing_locations(ast.copy_location(call, node))


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: ``*``, ``**``, ``+``, ``<<`` and ``%`` go through the
    size checks (``[0] * 10**9`` would otherwise exhaust the server's memory), and every
    ``while`` round and function call ticks the step's budget (``for`` loops and
    comprehensions tick through ``_getiter_``)."""

    _CHECKED = {ast.Mult: "_lotse_mul_", ast.Pow: "_lotse_pow_", ast.Add: "_lotse_add_",
                ast.LShift: "_lotse_lshift_", ast.Mod: "_lotse_mod_"}

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        name = self._CHECKED.get(type(node.op))
        if name is None:
            return node
        call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()),
                        args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_While(self, node: ast.While) -> ast.AST:
        node = self.node_contents_visit(node)
        node.body.insert(0, _tick_call(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        # RestrictedPython's visitors return the (transformed) node itself; typed as any AST
        node = cast(ast.FunctionDef, super().visit_FunctionDef(node))
        node.body.insert(0, _tick_call(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = cast(ast.Lambda, super().visit_Lambda(node))  # the node itself, as above
        tick = ast.Call(func=ast.Name(id="_lotse_tick_", ctx=ast.Load()), args=[], keywords=[])
        pair = ast.Tuple(elts=[tick, node.body], ctx=ast.Load())
        node.body = ast.Subscript(value=pair, slice=ast.Constant(1), ctx=ast.Load())
        return ast.fix_missing_locations(node)
_EXPRESSION_NODES = frozenset(
    t for t in simpleeval.EvalWithCompoundTypes().nodes if issubclass(t, ast.expr)
)


def _format_spec_problem(spec: ast.expr) -> str | None:
    """An f-string format spec must be literal and its width/precision within the limit
    (``f"{x:>{n}}"`` or ``f"{1:>1000000000}"`` would allocate without bound)."""
    parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
    if not all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
        return "a computed format spec in an f-string is not allowed"
    text = "".join(p.value for p in parts  # all are (checked above): narrows the type
                   if isinstance(p, ast.Constant) and isinstance(p.value, str))
    if any(int(n) > MAX_SEQUENCE_LENGTH for n in re.findall(r"\d+", text)):
        return f"an f-string width over {MAX_SEQUENCE_LENGTH} is not allowed"
    return None


def _check_tree(tree: ast.AST, *, expression: bool) -> None:
    """Raise SandboxSyntaxError for imports, classes, forbidden names/attributes, bad syntax."""
    for node in ast.walk(tree):
        reason = None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            reason = "import is not allowed"
        elif isinstance(node, ast.ClassDef):
            reason = "class definitions are not allowed"
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            reason = _format_spec_problem(node.format_spec)
        elif isinstance(node, ast.ExceptHandler) and node.type is None:
            reason = "a bare 'except:' is not allowed; name the exception (e.g. except ValueError:)"
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)):
            reason = f"{type(node).__name__} is not allowed"
        elif isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or node.id[:2] == "__"):
            reason = f"name '{node.id}' is not allowed"
        elif isinstance(node, ast.Attribute) and (
            node.attr.startswith("_") or node.attr in _FORBIDDEN_ATTRS
        ):
            reason = f"attribute '{node.attr}' is not allowed"
        elif expression and isinstance(node, ast.expr) and type(node) not in _EXPRESSION_NODES:
            reason = f"{type(node).__name__} is not supported in expressions"
        if reason:
            raise SandboxSyntaxError(_PREFIX + reason, getattr(node, "lineno", 1))


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_script(source: str) -> types.CodeType:
    tree = ast.parse(source, "<string>", "exec")
    _check_tree(tree, expression=False)
    result = compile_restricted_exec(tree, "<string>", policy=_Policy)
    if result.errors:  # RestrictedPython's own SyntaxError has no lineno: take it from the text
        match = re.match(r"Line (\d+):", result.errors[0])
        raise SandboxSyntaxError(_PREFIX + "; ".join(result.errors), int(match[1]) if match else 1)
    assert result.code is not None  # no errors: RestrictedPython compiled it
    return result.code


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_expression(source: str) -> ast.expr:
    tree = ast.parse(source.strip(), "<string>", "eval")
    _check_tree(tree, expression=True)
    return tree.body


def check_expression(expression: str, names: Iterable[str] = ()) -> str | None:
    """Parse-only expression check; with helper ``names`` given, calls to others are errors."""
    try:
        tree = _parse_expression(expression)
    except SyntaxError as err:
        return f"{err.msg} (line {err.lineno})"
    known = set(names)
    if known:
        for node in ast.walk(tree):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Name) and func.id not in known | SAFE_BUILTINS.keys():
                return f"unknown function '{func.id}'"
    return None


def check_script(script: str) -> str | None:
    """RestrictedPython compile check of a script; returns an error message or None."""
    try:
        _compile_script(script)
    except SyntaxError as err:
        return f"{err.msg} (line {err.lineno})"
    return None


class HelperRegistry(Mapping[str, Callable[..., Any]]):
    """Explicit, deny-by-default registry of functions visible to scripts and expressions."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self._funcs: dict[str, Callable[..., Any]] = {}
        for name, func in (helpers or {}).items():
            self.register(name, func)

    def register(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """Register ``func`` as ``name``; refuses private/forbidden names and dangerous builtins."""
        bad_name = not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_")
        if bad_name or name in FORBIDDEN_NAMES:
            raise ValueError(f"invalid or forbidden helper name {name!r}")
        if not callable(func):
            raise TypeError(f"helper {name!r} is not callable")
        try:
            dangerous = func in simpleeval.DISALLOW_FUNCTIONS
        except TypeError:  # unhashable callable
            dangerous = False
        if dangerous:
            raise ValueError(f"helper {name!r} is a forbidden builtin")
        self._funcs[name] = func
        return func

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._funcs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._funcs)

    def __len__(self) -> int:
        return len(self._funcs)


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    """simpleeval with the attribute allow-list, bounded methods and a budget tick per node."""

    def _eval(self, node: ast.AST) -> Any:
        _tick()
        return super()._eval(node)

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        name = node.attr
        if name.startswith("_") or name in simpleeval.DISALLOW_METHODS:
            raise _refuse(f"attribute '{name}' is not allowed")
        obj = self._eval(node.value)
        if type(obj) is dict and name not in ALLOWED_ATTRIBUTES[dict]:  # noqa: E721
            try:  # simpleeval's dot access into task data: consent.office
                return obj[name]
            except KeyError:
                raise simpleeval.AttributeDoesNotExist(name, self.expr) from None
        _allowed_attr(obj, name)
        try:
            return _bounded(name, _no_module(getattr(obj, name)))
        except AttributeError:
            raise simpleeval.AttributeDoesNotExist(name, self.expr) from None

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        container = self._eval(node.value)
        return _guarded_getitem(container, self._eval(node.slice))


class SandboxEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment running scripts with RestrictedPython and expressions with simpleeval."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]] | None = None) -> None:
        super().__init__({})
        self.helpers = helpers if isinstance(helpers, HelperRegistry) else HelperRegistry(helpers)
        self._functions = {**SAFE_BUILTINS, **self.helpers}

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: Mapping | None = None
    ) -> Any:
        """Evaluate an expression with task data as names; refusals raise SandboxViolation."""
        tree = _parse_expression(expression)
        names = {**(external_context or {}), **context}
        evaluator = _Evaluator(
            operators=_OPERATORS, functions=self._functions, names=names
        )
        try:
            with _metered():
                return evaluator.eval(expression, previously_parsed=tree)
        except simpleeval.NameNotDefined as err:  # a NameError lets Spiff suggest "did you mean"
            raise NameError(f"name '{err.name}' is not defined") from None
        except simpleeval.FunctionNotDefined as err:
            raise _refuse(f"function '{err.func_name}' is not available") from None
        except simpleeval.InvalidExpression as err:
            raise _refuse(str(err)) from None

    def execute(
        self, script: str, context: dict[str, Any], external_context: Mapping | None = None
    ) -> bool:
        """Run a script on task data; on success keep only public, non-callable values."""
        code = _compile_script(script)
        external = dict(external_context or {})
        clash = (set(self.helpers) | set(external)) & set(context)
        if clash:
            raise ScriptError(f"task data overwrites helper function(s): {sorted(clash)}")
        namespace = {k: v for k, v in context.items() if not k.startswith("_")}
        namespace.update({**external, **self.helpers, **_SCRIPT_GLOBALS})
        with _metered():
            exec(code, namespace)  # noqa: S102 - restricted bytecode, guarded builtins
        injected = set(_SCRIPT_GLOBALS) | set(self.helpers) | set(external)
        context.clear()
        context.update({
            k: v for k, v in namespace.items()
            if k not in injected and not k.startswith("_")
            and not callable(v) and not isinstance(v, types.ModuleType)
        })
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks are refused: expose vetted helpers instead."""
        raise _refuse(f"service operation {kwargs.get('operation_name')!r} is not available")


class SandboxScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose wrapped errors keep the sandbox's reason in the message, and
    whose every script and expression runs under the step's ``Budget``."""

    def __init__(self, *args: Any, budget: Budget | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget or Budget()

    def evaluate(self, task: Any, expression: str, external_context: Mapping | None = None) -> Any:
        """Evaluate ``expression`` for ``task``; failures raise WorkflowTaskException."""
        try:
            with budget_scope(self.budget):
                return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except BudgetExceeded as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err
        except Exception as err:
            msg = f"Error evaluating expression '{expression}': {err}"
            raise WorkflowTaskException(msg, task=task, exception=err) from err

    def execute(self, task: Any, script: str, external_context: Mapping | None = None) -> Any:
        """Run ``script`` for ``task`` under the budget; an overrun is a task error."""
        try:
            with budget_scope(self.budget):
                return super().execute(task, script, external_context)
        except BudgetExceeded as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Call a service; unlike upstream (NameError on 'script') the real error is reported."""
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            msg = f"{type(err).__name__}: {err}"
            raise WorkflowTaskException(msg, task=task, exception=err) from err


def make_script_engine(
    helpers: Mapping[str, Callable] | None = None, budget: Budget | None = None
) -> PythonScriptEngine:
    """A sandboxed engine; re-attach after every deserialization (Spiff does not persist it)."""
    return SandboxScriptEngine(environment=SandboxEnvironment(helpers), budget=budget)
