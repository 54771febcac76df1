"""No import circles between our modules: every import counted, those inside functions and TYPE_CHECKING too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"spasmfw": ROOT / "firmware", "spasmcore": ROOT / "host" / "spasmcore",
            "spasmsim": ROOT / "sim" / "spasmsim", "spasmwatch": ROOT / "host" / "spasmwatch"}
# Firmware modules import each other by flat name (`import net`), as on a board where they sit side by side.
FLAT = {"spasmfw"}
# Calls that import the module named by their first argument when it is a constant string: the builtin, importlib,
# and the firmware's loaders by name (`compat.mod(name)`, `_mod(name)`: flat on the board, spasmfw.name on CPython).
IMPORTING_CALLS = {"__import__", "importlib.import_module", "compat.mod", "_mod"}


def module_names(packages: dict[str, Path]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under each package root (a package is its __init__.py)."""
    out = {}
    for pkg, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([pkg, *parts])] = path
    return out


def _imports(tree: ast.AST) -> list[tuple[str, list[str], int]]:
    """(module, names, level) of every import anywhere in the tree; an IMPORTING_CALLS call with a constant name
    counts as `import name`."""
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [a.name for a in node.names], node.level))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            if ast.unparse(node.func) in IMPORTING_CALLS:
                found.append((node.args[0].value, [], 0))
    return found


def _resolve(name: str, me: str, is_pkg: bool, known: dict[str, Path], flat: set[str]) -> str | None:
    """The module of ours that a dotted name means from module `me`, or None (stdlib, third party)."""
    if name in known:
        return name
    top = me.split(".")[0]
    if top in flat:  # a flat `import net` from firmware/ (or firmware/unix/): its own folder first, then the root
        here = me if is_pkg else me.rpartition(".")[0]
        for base in (here, top, f"{top}.unix"):
            if f"{base}.{name}" in known:
                return f"{base}.{name}"
    return None


def _targets(mod: str, names: list[str], level: int, me: str, is_pkg: bool, known: dict[str, Path],
             flat: set[str]) -> set[str]:
    """Modules an import statement reaches. `from pkg import name` reaches the submodule pkg.name where there is
    one, else pkg itself (name is a symbol of pkg/__init__.py). Only the named module counts, not the parent
    packages Python also runs on the way: those run before any of their submodules and cannot close a circle of
    their own unless their __init__ imports back, and that import is an edge here too."""
    if level:
        base = me if is_pkg else me.rpartition(".")[0]
        for _ in range(level - 1):
            base = base.rpartition(".")[0]
        mod = f"{base}.{mod}" if mod else base
    target = _resolve(mod, me, is_pkg, known, flat) if mod else None
    if not names:
        return {target} if target else set()
    out = set()
    for name in names:
        sub = _resolve(f"{target}.{name}", me, is_pkg, known, flat) if target else None
        if sub:
            out.add(sub)
        elif target:
            out.add(target)
    return out


def import_graph(packages: dict[str, Path], flat: set[str] = FLAT) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports anywhere (functions and `if TYPE_CHECKING:` blocks included)."""
    known = module_names(packages)
    graph: dict[str, set[str]] = {}
    for me, path in known.items():
        is_pkg = path.name == "__init__.py"
        edges: set[str] = set()
        for mod, names, level in _imports(ast.parse(path.read_text(), str(path))):
            edges |= _targets(mod, names, level, me, is_pkg, known, flat)
        graph[me] = edges - {me}  # a module importing itself is a no-op, not a circle
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def describe(found: list[list[str]], graph: dict[str, set[str]]) -> str:
    """One line per circle: its modules and the imports between them."""
    lines = []
    for comp in found:
        inside = set(comp)
        edges = ", ".join(f"{a} -> {b}" for a in comp for b in sorted(graph[a] & inside))
        lines.append(f"{' / '.join(comp)}: {edges}")
    return "\n".join(lines)


def test_no_import_circles() -> None:
    graph = import_graph(PACKAGES)
    found = cycles(graph)
    assert not found, "import circles (move the shared piece down into a module both can import):\n" + \
        describe(found, graph)


def test_the_graph_sees_our_imports() -> None:
    graph = import_graph(PACKAGES)
    assert "spasmfw.protocol" in graph["spasmfw.net"]  # flat firmware import, inside try/except
    assert "spasmfw.detector" in graph["spasmfw.start"]  # loaded by name: compat.mod("detector")
    assert "spasmfw.start" in graph["spasmfw.main"]  # __import__("start")
    assert "spasmwatch.monitor.dispatch" in graph["spasmwatch.monitor"]  # a package importing its submodule


def test_the_cycle_check_fails_on_a_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .sub import helper\n")
    (pkg / "sub" / "__init__.py").write_text("")
    # a circle hidden in a function and behind TYPE_CHECKING, through `from pkg import name` forms
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n    return b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n")
    (pkg / "sub" / "helper.py").write_text("import pkg\n")  # the package re-exports helper, helper imports it
    (pkg / "c.py").write_text("from . import c\nimport json\n")  # a self-import and stdlib: no circle
    flat = tmp_path / "fw"
    flat.mkdir()
    (flat / "net.py").write_text("try:\n    from . import netconfig\nexcept ImportError:\n    import netconfig\n")
    (flat / "netconfig.py").write_text("def g():\n    return compat.mod('net')\n")  # loaded by name
    graph = import_graph({"pkg": pkg, "fw": flat}, flat={"fw"})
    assert cycles(graph) == [["fw.net", "fw.netconfig"], ["pkg", "pkg.sub.helper"], ["pkg.a", "pkg.b"]]
    assert "pkg.a -> pkg.b" in describe(cycles(graph), graph)
