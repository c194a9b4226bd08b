"""Layering: every cgraph module imports on its own (not only in the order
`cgraph/__init__.py` happens to load them), and the module-level imports between
cgraph's subpackages form no cycle (DESIGN.md: each layer imports only those below)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from helpers import REPO, child_env

PACKAGE = REPO / "cgraph"

#: Known imports against the layering, owned elsewhere: (importer, imported) layer ->
#: why. The cycle check leaves them out, and `test_known_exceptions_still_exist` fails
#: once one is gone, so that it is removed here too.
KNOWN: dict[tuple[str, str], str] = {}


def module_names() -> list[str]:
    """Every module of the cgraph package, by dotted name."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_imports(name: str, tree: ast.Module, is_package: bool) -> list[str]:
    """The cgraph modules `name` imports when it is loaded (not inside functions, not
    under `if TYPE_CHECKING`), as dotted names (a `from m import x` gives m and m.x)."""
    found: list[str] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and not _is_type_checking(node.test):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                for part in (node.body, node.orelse, node.finalbody,
                             *(h.body for h in node.handlers)):
                    walk(part)
            elif isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = name.split(".")[:len(name.split(".")) - (not is_package)]
                    package = package[:len(package) - node.level + 1]
                    base = ".".join(package + ([node.module] if node.module else []))
                found.append(base)
                found.extend(f"{base}.{alias.name}" for alias in node.names)

    walk(tree.body)
    return [m for m in found if m == "cgraph" or m.startswith("cgraph.")]


def layer_of(module: str) -> str:
    """`tensor` for cgraph.tensor.elemwise, `gradient` for cgraph.gradient."""
    return module.split(".")[1] if "." in module else module


def layer_imports() -> dict[tuple[str, str], list[str]]:
    """(importer layer, imported layer) -> the module imports that make the edge. The
    package's own `cgraph/__init__.py`, the public face, imports every layer and is
    left out."""
    names = set(module_names())
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        if name == "cgraph":
            continue
        for target in module_imports(name, ast.parse(path.read_text()), is_package):
            while target not in names and "." in target:
                target = target.rsplit(".", 1)[0]
            if target == "cgraph" or layer_of(target) == layer_of(name):
                continue
            why = edges.setdefault((layer_of(name), layer_of(target)), [])
            if f"{name} imports {target}" not in why:
                why.append(f"{name} imports {target}")
    return edges


def find_cycle(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """One cycle of the layer graph as [a, b, ..., a], or [] if there is none."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str]:
        state[v] = 1
        path.append(v)
        for w in graph.get(v, []):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                cycle = visit(w)
                if cycle:
                    return cycle
        state[v] = 2
        path.pop()
        return []

    for v in sorted(graph):
        if v not in state:
            cycle = visit(v)
            if cycle:
                return cycle
    return []


def describe_cycle(cycle: list[str], edges: dict) -> str:
    lines = [" -> ".join(cycle)]
    for a, b in zip(cycle, cycle[1:]):
        lines.append(f"  {a} -> {b}: {'; '.join(edges[(a, b)][:3])}")
    return "\n".join(lines)


def test_no_import_cycle_between_layers():
    edges = {edge: why for edge, why in layer_imports().items() if edge not in KNOWN}
    cycle = find_cycle(edges)
    assert not cycle, "an import cycle between cgraph's layers:\n" + describe_cycle(cycle,
                                                                                   edges)


def test_known_exceptions_still_exist():
    edges = layer_imports()
    gone = [f"{a} -> {b}" for a, b in KNOWN if (a, b) not in edges]
    assert not gone, f"no longer imported, remove from KNOWN: {gone}"


def test_the_cycle_check_finds_and_names_a_cycle():
    edges = {("codegen", "tensor"): ["cgraph.codegen.lower imports cgraph.tensor.math"],
             ("tensor", "kernel"): ["cgraph.tensor.reduce imports cgraph.kernel"],
             ("kernel", "codegen"): ["cgraph.kernel.x imports cgraph.codegen.render"]}
    cycle = find_cycle(edges)
    assert cycle == ["codegen", "tensor", "kernel", "codegen"]
    text = describe_cycle(cycle, edges)
    assert "kernel -> codegen: cgraph.kernel.x imports cgraph.codegen.render" in text
    assert find_cycle({k: v for k, v in edges.items() if k != ("kernel", "codegen")}) == []


def test_imports_inside_functions_and_type_checking_do_not_count():
    tree = ast.parse("from typing import TYPE_CHECKING\n"
                     "from . import sibling\n"
                     "if TYPE_CHECKING:\n    from cgraph.compile import Function\n"
                     "def f():\n    import cgraph.backend\n")
    assert module_imports("cgraph.tensor.mod", tree, False) == [
        "cgraph.tensor", "cgraph.tensor.sibling"]


#: Imports each module named on the command line into a fresh cgraph: the package's
#: `__init__` (which loads everything) replaced by an empty package, every cgraph module
#: dropped from sys.modules before the next. Prints {module: error} as JSON.
_IMPORT_EACH = """
import importlib, json, sys, traceback, types
failed = {}
for name in sys.argv[1:]:
    for key in [k for k in sys.modules if k == "cgraph" or k.startswith("cgraph.")]:
        del sys.modules[key]
    stub = types.ModuleType("cgraph")
    stub.__path__ = [%r]
    sys.modules["cgraph"] = stub
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-4)
print(json.dumps(failed))
"""


@pytest.mark.slow  # a child process importing every module in turn (~20 s)
def test_each_module_imports_on_its_own():
    names = [n for n in module_names() if n != "cgraph" and not n.endswith("__main__")]
    script = _IMPORT_EACH % str(PACKAGE)
    result = subprocess.run([sys.executable, "-c", script, *names], capture_output=True,
                            text=True, env=child_env(), timeout=600)
    assert result.returncode == 0, result.stderr
    failed = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failed, "modules that import only after others:\n" + "\n".join(
        f"{name}:\n{error}" for name, error in failed.items())


def test_the_kernel_layer_sits_below_the_op_library():
    # tensor/ builds its kernels with a top-level import of cgraph.kernel, and codegen/
    # reads them: cgraph.kernel may import the graph IR at most.
    above = {b for a, b in layer_imports() if a == "kernel"} - {"graph"}
    assert not above, f"cgraph.kernel imports {sorted(above)}"
