"""Derive the compiled engine from the firmware detector: an AST transform of its methods into numba functions.

The firmware's `Detector` is the one definition of the detector. This module reads the source of the methods the
per-sample and per-tick path reaches (from `process` and `flush`, following `self.x()` calls, properties and
module-level functions of the firmware package) and rewrites them as plain functions over integer arrays:

- `self.name` for an integer attribute becomes a slot of one int64 state array `_S[k]`;
- `self.name` for an `array('i')` attribute (filter state, coefficients, tick summaries, the record queue)
  becomes an array argument shared with the instance;
- `self.method(...)` and properties become calls of the rewritten functions with the same arrays;
- module-level integers (the `const()` names) become literals; `ptr16(buf)` (viper's raw view) becomes `buf`;
- decorators, annotations and docstrings go.

Anything else the transform does not know (a float attribute, a list, a name it cannot resolve) is an error
naming it, never a silent guess. Nothing of the detector's logic is written here.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from array import array
from dataclasses import dataclass, field

ROOTS = ("process", "flush")  # the entry points a replay calls (pop only reads the queue: see fast.py)
IDENTITY_CALLS = {"ptr8", "ptr16", "ptr32"}  # viper raw-pointer views: on arrays the array itself
BUILTINS = {"int", "min", "max", "abs", "range", "len", "bool"}
CTX = ("_S",)  # the state array; array attributes follow as _A_<name>
VERSION = "3"  # bump when the generated code changes for the same firmware source


class TransformError(Exception):
    """The firmware uses something the transform cannot carry into compiled code."""


@dataclass
class Plan:
    """What the transform found: the state slots, the array attributes and the generated source."""

    slots: dict[str, int] = field(default_factory=dict)
    arrays: list[str] = field(default_factory=list)
    functions: dict[str, str] = field(default_factory=dict)  # qualified name -> generated function name
    source: str = ""

    @property
    def ctx_args(self) -> list[str]:
        return [*CTX, *(f"_A_{a}" for a in self.arrays)]


def _locals(fn: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in fn.args.args}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _strip(fn: ast.FunctionDef) -> None:
    fn.decorator_list = []
    fn.returns = None
    for a in fn.args.args:
        a.annotation = None
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        fn.body = body[1:] or [ast.Pass()]


class _Rewriter(ast.NodeTransformer):
    def __init__(self, tr: Transformer, fn: ast.FunctionDef, glb: dict, is_method: bool, qual: str) -> None:
        self.tr, self.glb, self.is_method, self.qual = tr, glb, is_method, qual
        self.local = _locals(fn)

    def _where(self, node: ast.AST) -> str:
        return f"{self.qual} line {getattr(node, 'lineno', '?')}"

    def _resolve_value(self, value: object, node: ast.AST, what: str) -> ast.expr:
        if isinstance(value, bool):
            return ast.Constant(int(value))
        if isinstance(value, int):
            return ast.Constant(value)
        if isinstance(value, types.FunctionType):
            return ast.Name(self.tr.function(value), ast.Load())
        raise TransformError(f"{self._where(node)}: {what} is a {type(value).__name__}, not an integer or function")

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool):
            return ast.copy_location(ast.Constant(int(node.value)), node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.local or node.id in BUILTINS or node.id == "self":
            return node
        if node.id not in self.glb:
            raise TransformError(f"{self._where(node)}: unknown name {node.id!r}")
        return ast.copy_location(self._resolve_value(self.glb[node.id], node, node.id), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        base = node.value
        if isinstance(base, ast.Name) and base.id == "self" and self.is_method:
            return ast.copy_location(self.tr.self_attr(node.attr, node, call=False), node)
        if isinstance(base, ast.Name) and base.id not in self.local and isinstance(self.glb.get(base.id),
                                                                                  types.ModuleType):
            value = getattr(self.glb[base.id], node.attr)
            return ast.copy_location(self._resolve_value(value, node, f"{base.id}.{node.attr}"), node)
        raise TransformError(f"{self._where(node)}: attribute {ast.unparse(node)!r} is not carried over")

    def visit_Call(self, node: ast.Call) -> ast.AST:
        f = node.func
        if isinstance(f, ast.Name) and f.id in IDENTITY_CALLS and f.id not in self.local:
            return self.visit(node.args[0])
        args = [self.visit(a) for a in node.args]
        if node.keywords:
            raise TransformError(f"{self._where(node)}: keyword arguments are not carried over")
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self":
            target = self.tr.self_attr(f.attr, node, call=True)
            return ast.copy_location(ast.Call(target, [*self.tr.ctx_names(), *args], []), node)
        if (self.is_method and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "self"
                and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id not in self.local
                and isinstance(self.glb.get(f.value.id), types.ModuleType)):
            # `module.f(self, ...)`: a detector method the firmware calls as a module function (no class-dict
            # entry on the board); rewritten as a method, with the same arrays
            gen = self.tr.function(getattr(self.glb[f.value.id], f.attr), method=True)
            return ast.copy_location(ast.Call(ast.Name(gen, ast.Load()), [*self.tr.ctx_names(), *args[1:]], []), node)
        func = self.visit(f)
        if isinstance(func, ast.Name) and func.id in self.tr.generated_names:
            args = [*self.tr.ctx_names(), *args]
        return ast.copy_location(ast.Call(func, args, []), node)


class _CheckedStores(ast.NodeTransformer):
    """`a[i] = v` into an int32 array becomes `_store32(a, i, v)`: CPython's array('i') raises OverflowError on a
    value out of range, and so does the compiled store, instead of wrapping silently (`_S[k]` is int64, which
    the detector's values never leave, as Python ints would not)."""

    def _checked(self, target: ast.expr, value: ast.expr, node: ast.stmt) -> ast.stmt | None:
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id != "_S"):
            return None
        call = ast.Call(ast.Name(STORE, ast.Load()), [ast.Name(target.value.id, ast.Load()), target.slice, value], [])
        return ast.copy_location(ast.Expr(call), node)

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if len(node.targets) == 1:
            return self._checked(node.targets[0], node.value, node) or node
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        t = node.target
        if isinstance(t, ast.Subscript):
            load = ast.Subscript(t.value, t.slice, ast.Load())
            return self._checked(t, ast.BinOp(load, node.op, node.value), node) or node
        return node


STORE = "_store32"
STORE_SOURCE = f"""def {STORE}(a, i, v):
    if v > 2147483647 or v < -2147483648:  # as array('i') on CPython: never a silent wrap
        raise OverflowError("signed integer is out of range for an int32 slot")
    a[i] = v"""


class Transformer:
    """Collects the reachable methods of a detector class and rewrites them (see the module docstring)."""

    def __init__(self, cls: type, instance: object) -> None:
        self.cls, self.instance = cls, instance
        self.plan = Plan()
        self.generated_names: set[str] = set()
        self._queue: list[tuple] = []  # (key, function, is a method[, prebuilt FunctionDef])
        self._unset: set[str] = set()
        self._done: dict[str, ast.FunctionDef] = {}

    def ctx_names(self) -> list[ast.expr]:
        return [ast.Name(n, ast.Load()) for n in self.plan.ctx_args]

    def _method_name(self, name: str) -> str:
        gen = f"m_{name.lstrip('_')}"
        if name not in self.plan.functions:
            self.plan.functions[name] = gen
            self.generated_names.add(gen)
            member = inspect.getattr_static(self.cls, name)
            fn = member.fget if isinstance(member, property) else member
            if not isinstance(fn, types.FunctionType):
                raise TransformError(f"Detector.{name}: only plain methods and properties are carried over")
            self._queue.append((name, fn, True))
        return gen

    def function(self, fn: object, method: bool = False) -> str:
        """A module-level firmware function called from the hot path: rewritten too, with the same arrays
        (method: called as `f(self, ...)`, so rewritten as a method of the detector)."""
        if not isinstance(fn, types.FunctionType) or not fn.__module__.startswith("spasmfw"):
            raise TransformError(f"{getattr(fn, '__qualname__', fn)!r}: only firmware functions can be compiled")
        key = f"{fn.__module__}.{fn.__qualname__}"
        gen = ("m_" if method else "f_") + key.replace(".", "_")
        if key not in self.plan.functions:
            self.plan.functions[key] = gen
            self.generated_names.add(gen)
            self._queue.append((key, fn, method))
        return gen

    def self_attr(self, name: str, node: ast.AST, call: bool) -> ast.expr:
        member = inspect.getattr_static(self.cls, name, None)
        if isinstance(member, property):
            gen = self._method_name(name)
            return ast.Call(ast.Name(gen, ast.Load()), self.ctx_names(), [])
        if callable(member):
            if not call:
                raise TransformError(f"Detector.{name} is used as a value, not called")
            return ast.Name(self._method_name(name), ast.Load())
        if name not in vars(self.instance) and isinstance(member, int):
            return ast.Constant(int(member))  # a class-level constant
        if name not in vars(self.instance) and member is None and self._computed(name) is not None:
            return ast.Call(ast.Name(self._computed_name(name), ast.Load()), self.ctx_names(), [])
        if name not in vars(self.instance):
            self._unset.add(name)  # first set on the hot path (checked in run): starts as 0 there too
        value = vars(self.instance).get(name, 0)
        if isinstance(value, array):
            if value.typecode not in "bBhHiIlL":
                raise TransformError(f"Detector.{name}: array of {value.typecode!r} is not integer")
            if name not in self.plan.arrays:
                raise TransformError(f"Detector.{name}: array attributes must be known before rewriting")
            return ast.Name(f"_A_{name}", ast.Load())
        if isinstance(value, (bool, int)):
            if name not in self.plan.slots:
                self.plan.slots[name] = len(self.plan.slots)
            return ast.Subscript(ast.Name("_S", ast.Load()), ast.Constant(self.plan.slots[name]), ast.Load())
        raise TransformError(f"Detector.{name} is a {type(value).__name__}: only integers and integer arrays "
                             "can live in the compiled engine's state")

    def _computed(self, name: str) -> ast.expr | None:
        """The expression a `__getattr__` returns for `name` (`if name == "x": return EXPR`), or None."""
        getter = inspect.getattr_static(self.cls, "__getattr__", None)
        if not isinstance(getter, types.FunctionType):
            return None
        fn = ast.parse(textwrap.dedent(inspect.getsource(getter))).body[0]
        assert isinstance(fn, ast.FunctionDef)
        arg = fn.args.args[1].arg
        for stmt in fn.body:
            if (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare) and isinstance(stmt.test.left, ast.Name)
                    and stmt.test.left.id == arg and isinstance(stmt.test.ops[0], ast.Eq)
                    and isinstance(stmt.test.comparators[0], ast.Constant) and stmt.test.comparators[0].value == name
                    and len(stmt.body) == 1 and isinstance(stmt.body[0], ast.Return) and stmt.body[0].value):
                return stmt.body[0].value
        return None

    def _computed_name(self, name: str) -> str:
        key = f"__getattr__.{name}"
        gen = f"m_attr_{name}"
        if key not in self.plan.functions:
            self.plan.functions[key] = gen
            self.generated_names.add(gen)
            getter = inspect.getattr_static(self.cls, "__getattr__")
            body = ast.FunctionDef(name=gen, args=ast.arguments(posonlyargs=[], args=[ast.arg("self")], kwonlyargs=[],
                                   kw_defaults=[], defaults=[]), body=[ast.Return(self._computed(name))],
                                   decorator_list=[], returns=None)
            self._queue.append((key, getter, True, body))
        return gen

    def run(self) -> Plan:
        self.plan.arrays = sorted(k for k, v in vars(self.instance).items() if isinstance(v, array))
        for root in ROOTS:
            self._method_name(root)
        stored: set[str] = set()
        while self._queue:
            key, fn, is_method, *prebuilt = self._queue.pop(0)
            node = prebuilt[0] if prebuilt else ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
            if not isinstance(node, ast.FunctionDef):
                raise TransformError(f"{key}: not a function")
            stored |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
                       and isinstance(n.value, ast.Name) and n.value.id == "self"}
            _strip(node)
            if is_method:
                if not node.args.args or node.args.args[0].arg != "self":
                    raise TransformError(f"{key}: a method without self")
                node.args.args = node.args.args[1:]
            node = _Rewriter(self, node, fn.__globals__, is_method, key).visit(node)
            node = _CheckedStores().visit(node)
            node.name = self.plan.functions[key]
            node.args.args = [ast.arg(n) for n in self.plan.ctx_args] + node.args.args
            self._done[key] = node
        never = sorted(self._unset - stored)
        if never:
            raise TransformError(f"Detector.{never[0]} is read on the per-sample/per-tick path but is neither an "
                                 "attribute of a new detector, nor assigned there, nor computed by __getattr__")
        body = [STORE_SOURCE] + [ast.unparse(ast.fix_missing_locations(n)) for n in self._done.values()]
        self.plan.source = "\n\n\n".join(body)
        return self.plan


def plan_for(cls: type, instance: object) -> Plan:
    """The rewritten hot path of `cls` (an instance gives the attributes' kinds)."""
    return Transformer(cls, instance).run()
