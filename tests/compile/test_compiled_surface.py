"""The compiled module's public surface, shared by `Function`, `Function.loop` and
`export_c`, and the one argument spec that every call path checks arguments with."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.compile import fastcall
from cgraph.compile.compiled import CallPlan, CompiledModule
from cgraph.compile.signature import ArgSpec, Signature

COMPILE_DIR = Path(cgraph.__file__).parent / "compile"


def _private_attributes(path: Path) -> list[str]:
    """`<expr>._name` in a file, other than on `self` (dunders aside)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
    return found


@pytest.mark.parametrize("name", ["loop.py", "export.py"])
def test_loop_and_export_read_no_private_attribute(name):
    assert _private_attributes(COMPILE_DIR / name) == []


def _compile_imports(path: Path) -> tuple[set[str], list[str]]:
    """The cgraph.compile modules `path` imports (also under TYPE_CHECKING), and the
    imports made inside functions."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "cgraph.compile":
                names |= {a.name for a in node.names}
            elif node.module.startswith("cgraph.compile."):
                names.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[2] for a in node.names
                      if a.name.startswith("cgraph.compile.")}
    late = [f"{path.name}:{inner.lineno}" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for inner in ast.walk(node) if isinstance(inner, (ast.Import, ast.ImportFrom))]
    return names, late


def test_compile_modules_import_without_cycles_or_late_imports():
    graph, late = {}, []
    for path in COMPILE_DIR.glob("*.py"):
        if path.name != "__init__.py":
            graph[path.stem], found = _compile_imports(path)
            late += found
    assert late == [], "imports inside functions"
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph.get(name, ())):
            assert state.get(dep) != 1, f"import cycle: {' -> '.join(trail + [name, dep])}"
            if dep not in state:
                visit(dep, trail + [name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert "function" not in graph["loop"] and "loop" in graph["function"]


def test_no_compile_module_over_500_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in COMPILE_DIR.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 500} == {}


def test_the_c_path_takes_its_checks_from_the_argument_specs():
    x, n = T.dvector("x"), T.tensor("uint8", shape=(), name="n")
    w = cgraph.shared(np.zeros(2), name="w")
    f = cgraph.function([x, n], [x * n], updates=[(w, w + x)], mode="PY")
    sig = f.signature
    given = []
    fastcall.make_caller(given.append, 1234, sig, [], {}, print, print)
    (spec,) = given
    assert spec[0] == 1234
    assert spec[1] == (np.dtype("float64").num, np.dtype("uint8").num)
    assert spec[1] == tuple(a.typenum for a in sig.args)
    assert spec[2] == (1, 0) == tuple(a.ndim for a in sig.args)
    assert spec[7] == tuple(a.convert for a in sig.args)
    assert spec[3:6] == ((np.dtype("float64").num,), (1,), 1)
    assert spec[8] == (w,) and spec[12] is True


def _outcome(f, value):
    try:
        out = f(value)
    except (TypeError, ValueError) as err:
        return type(err).__name__, str(err)
    return "ok", out.dtype.name, out.tolist()


@pytest.mark.parametrize("downcast", [None, True])
@pytest.mark.parametrize("dtype,ndim,value", [
    ("uint8", 0, 300), ("uint8", 0, -1), ("uint8", 0, 255), ("uint8", 0, 2**70),
    ("uint8", 0, np.int64(7)), ("int64", 0, 2**63), ("int64", 0, -2**63), ("int64", 0, 2.0),
    ("int64", 0, 1.5), ("float64", 0, 2**1024), ("float64", 0, True), ("float32", 0, 0.5),
    ("float32", 1, [1.0, 2.5]), ("float32", 1, np.arange(3.0)), ("int32", 1, np.arange(3)),
    ("int32", 1, [[1]]), ("float64", 1, np.ones((2, 2))), ("int16", 1, [40000]),
])
def test_every_call_path_checks_arguments_alike(dtype, ndim, value, downcast):
    """The C call path, mode "C" in Python and mode "PY" accept, convert and refuse
    the same arguments with the same messages."""
    fns = []
    for mode, c_call in (("C", True), ("C", False), ("PY", True)):
        with cgraph.config.change_flags(c_call=c_call):
            x = T.tensor(dtype, shape=(None,) * ndim, name="x")
            fns.append(cgraph.function([x], x + np.array(1, dtype=dtype), mode=mode,
                                       allow_input_downcast=downcast))
    assert type(fns[0]._call).__name__ == "builtin_function_or_method"
    outcomes = [_outcome(f, value) for f in fns]
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_write_back_and_pack_follow_the_signature():
    w = cgraph.shared(np.zeros(2), name="w")
    v = cgraph.shared(np.zeros(1), name="v")
    x = T.dvector("x")
    f = cgraph.function([x], [x * 2.0], updates=[(w, w + x), (v, v + 1.0)], mode="PY")
    sig = f.signature
    assert isinstance(sig, Signature) and f.get_shared() == list(sig.shared)
    assert sig.updates == (w, v) and [sig.shared[k] for k in sig.update_index] == [w, v]
    assert sig.out_dtypes == (np.dtype("float64"),) * 3 and sig.n_outputs == 1
    kept = v.get_value(borrow=True)
    new_w, new_v = np.ones(2), np.ones(1)
    sig.write_back([new_w, new_v], in_place=(False, True))
    assert w.get_value(borrow=True) is new_w and v.get_value(borrow=True) is kept
    sig.write_back([np.full(2, 5.0), new_v])  # by default, none was written in place
    assert w.get_value().tolist() == [5.0, 5.0] and v.get_value(borrow=True) is new_v
    outs = [np.zeros(3), np.ones(2), np.ones(1)]
    assert sig.pack(outs) == outs[:1]
    single = cgraph.function([x], x * 2.0, mode="PY").signature
    assert single.pack(outs[:1]) is outs[0]
    assert cgraph.function([x], [], updates=[(w, w + x)], mode="PY").signature.pack([]) == []
    assert cgraph.function([x], None, updates=[(w, w + x)],
                           mode="PY").signature.pack([np.ones(2)]) is None


def test_argspec_converts_rows_of_an_input():
    spec = ArgSpec(T.tensor("uint8", shape=(None, 2)).type, "input 0 (x)", True)
    assert spec.rows(batched=False).type.shape == (None, None, 2)
    assert spec.rows(batched=True).type.shape == (None, 2)
    with pytest.raises(TypeError, match="input 0 \\(x\\).*300 is out of bounds"):
        spec.rows(batched=True).convert([[300, 1]])
    np.testing.assert_array_equal(spec.convert(np.array([[1.7, 2.0]])), [[1, 2]])


def test_calls_loop_and_export_share_the_compiled_plans(tmp_path):
    w = cgraph.shared(np.zeros(3), name="w")
    x = T.dvector("x")
    f = cgraph.function([x], T.sum(x * w), updates=[(w, w + x)])
    compiled = f.compiled
    assert isinstance(compiled, CompiledModule) and compiled.signature is f.signature
    f(np.ones(3))
    key = ((3,), (3,))
    assert list(compiled.plans) == [key]
    plan = compiled.plan(key, [np.ones(3), w.get_value()])
    assert isinstance(plan, CallPlan) and plan is compiled.plans[key]
    assert plan.out_shapes == ((), (3,)) and plan.in_place == (True,)
    assert plan.params.dtype == np.int64
    f.loop(np.ones((4, 3)))
    cgraph.export_c(f, tmp_path / "lib")
    assert list(compiled.plans) == [key]
    np.testing.assert_array_equal(w.get_value(), np.full(3, 5.0))
    assert compiled.entry_point("_loop") is not None and compiled.c_path == f.c_path
    assert compiled.source_rendered or f.c_source  # rendered now or on first use
    assert f.c_source == compiled.c_source
