"""Sandboxed SpiffWorkflow script engine: RestrictedPython scripts, simpleeval expressions.

Scripts (script tasks, pre/post scripts) run as RestrictedPython bytecode with guarded hooks;
expressions (conditions, timers, DMN entries, message payloads/correlations, multi-instance) go
through ``simpleeval.EvalWithCompoundTypes`` with task data as names. Both refuse imports, dunder
names/attributes, reflective builtins (``getattr``, ``eval``, ``open`` ...) and module access;
the only functions are SAFE_BUILTINS plus an explicit ``HelperRegistry``.

Residual risk: CPU and memory exhaustion (``while True``, ``s = s + s`` in a loop) is NOT
prevented; only ``range``, ``**``, ``*`` and ``+=`` are bounded. Run untrusted models in a worker
with time/memory limits.

SpiffWorkflow does NOT serialize the script engine: a deserialized ``BpmnWorkflow`` silently gets
the default, unrestricted ``PythonScriptEngine``. Re-attach ``make_script_engine()`` after every
load (the persistence layer does this).
"""

from __future__ import annotations

import ast
import keyword
import operator
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

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


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _safe_iadd, "-=": operator.isub, "*=": _safe_mult, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": _safe_pow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
}
_OPERATORS = {**simpleeval.DEFAULT_OPERATORS, ast.Pow: _safe_pow, ast.Mult: _safe_mult}

SAFE_BUILTINS: Mapping[str, Callable[..., Any]] = types.MappingProxyType({
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "round": round, "abs": abs,
    "min": min, "max": max, "sum": sum, "any": any, "all": all, "sorted": sorted, "list": list,
    "dict": dict, "set": set, "tuple": tuple, "enumerate": enumerate, "range": _bounded_range,
    "zip": zip,
})
_EXCEPTIONS = (Exception, ValueError, KeyError, TypeError, IndexError, ZeroDivisionError)


def _no_module(value: Any) -> Any:
    if isinstance(value, types.ModuleType):
        raise _refuse("access to a module is not allowed")
    return value


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """getattr() refusing private/introspection attributes and anything on or yielding a module."""
    if not isinstance(name, str) or name.startswith("_") or name in _FORBIDDEN_ATTRS:
        raise _refuse(f"attribute '{name}' is not allowed")
    if isinstance(obj, types.ModuleType):
        raise _refuse(f"attribute access on module '{obj.__name__}' is not allowed")
    return _no_module(getattr(obj, name, *default))


_SCRIPT_GLOBALS: Mapping[str, Any] = types.MappingProxyType({
    "__builtins__": {**SAFE_BUILTINS, **{e.__name__: e for e in _EXCEPTIONS}},
    "_getattr_": _guarded_getattr, "_getitem_": lambda obj, key: _no_module(obj[key]),
    "_getiter_": iter, "_write_": Guards.full_write_guard,
    "_iter_unpack_sequence_": Guards.guarded_iter_unpack_sequence,
    "_unpack_sequence_": Guards.guarded_unpack_sequence,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
    "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs),
    "_print_": PrintCollector,  # print() output is collected and discarded
    "_lotse_mul_": _safe_mult, "_lotse_pow_": _safe_pow,
})


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: ``a * b`` and ``a ** b`` go through the size checks
    (``[0] * 10**9`` would otherwise exhaust the server's memory)."""

    _CHECKED = {ast.Mult: "_lotse_mul_", ast.Pow: "_lotse_pow_"}

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        name = self._CHECKED.get(type(node.op))
        if name is None:
            return node
        call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()),
                        args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))
_EXPRESSION_NODES = frozenset(
    t for t in simpleeval.EvalWithCompoundTypes().nodes if issubclass(t, ast.expr)
)


def _check_tree(tree: ast.AST, *, expression: bool) -> None:
    """Raise SandboxSyntaxError for imports, classes, forbidden names/attributes, bad syntax."""
    for node in ast.walk(tree):
        reason = None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            reason = "import is not allowed"
        elif isinstance(node, ast.ClassDef):
            reason = "class definitions are not allowed"
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
        evaluator = simpleeval.EvalWithCompoundTypes(
            operators=_OPERATORS, functions=self._functions, names=names
        )
        try:
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
    """PythonScriptEngine whose wrapped errors keep the sandbox's reason in the message."""

    def evaluate(self, task: Any, expression: str, external_context: Mapping | None = None) -> Any:
        """Evaluate ``expression`` for ``task``; failures raise WorkflowTaskException."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as err:
            msg = f"Error evaluating expression '{expression}': {err}"
            raise WorkflowTaskException(msg, task=task, exception=err) from err

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Call a service; unlike upstream (NameError on 'script') the real error is reported."""
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            msg = f"{type(err).__name__}: {err}"
            raise WorkflowTaskException(msg, task=task, exception=err) from err


def make_script_engine(helpers: Mapping[str, Callable] | None = None) -> PythonScriptEngine:
    """A sandboxed engine; re-attach after every deserialization (Spiff does not persist it)."""
    return SandboxScriptEngine(environment=SandboxEnvironment(helpers))
