"""The runtime: C shared by modules, compiled once per cache and options into one
object per part, and linked into each module whose C names the part (backend.Runtime,
cgraph/backend/runtime.py); and cgraph's own runtime linked into function modules."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.backend import Runtime, cache, default_options, load_module, stats
from cgraph.compile.toolchain import runtime

PARTS = {
    "cg_rt_twice": "double cg_rt_twice(double x) { return 2 * x; }\n",
    "cg_rt_thrice": "double cg_rt_thrice(double x) { return 3 * x; }\n",
}
built: list[str] = []


def part_source(part: str) -> str:
    built.append(part)
    return PARTS[part]


def module(name: str, factor: str) -> str:
    """A module whose entry scales a double array by the runtime's part `name`."""
    return f"""#include <stdint.h>
#ifndef CG_RUNTIME
#error "a module built with a runtime is compiled with CG_RUNTIME"
#endif
double {name}(double x);
int cg_rt_test_{factor}(const int64_t *P, char *err, void *a0)
{{
    double *x = (double *)a0;
    (void)err;
    for (int64_t i = 0; i < P[0]; ++i)
        x[i] = {name}(x[i]);
    return 0;
}}
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CGRAPH_PREBUILT", "off")  # the parts are built here, not installed
    cache._memo.clear()
    built.clear()
    yield tmp_path / "cache"
    cache._memo.clear()


def run(m, entry: str, x: np.ndarray) -> np.ndarray:
    P = np.array([x.size], dtype=np.int64)
    err = m.ffi.new("char[200]")
    rc = getattr(m.lib, entry)(m.ffi.cast("int64_t *", m.ffi.from_buffer(P)), err,
                               m.ffi.from_buffer(x))
    assert rc == 0
    return x


def test_a_part_compiles_once_per_cache_and_only_where_named(private_cache):
    options = default_options()
    options = type(options)(**{**options.__dict__, "runtime": Runtime(
        "test-runtime-1", tuple(PARTS), part_source)})
    x = np.arange(5.0)
    first = load_module(module("cg_rt_twice", "a"),
                        "int cg_rt_test_a(const int64_t *P, char *err, void *a0);", options)
    np.testing.assert_array_equal(run(first, "cg_rt_test_a", x.copy()), 2 * x)
    assert built == ["cg_rt_twice"]  # the module names one part: only that one compiles
    objects = sorted((private_cache / "runtime").glob("*.o"))
    assert len(objects) == 1
    stamp = objects[0].stat().st_mtime_ns
    second = load_module(module("cg_rt_twice", "b"),
                         "int cg_rt_test_b(const int64_t *P, char *err, void *a0);", options)
    np.testing.assert_array_equal(run(second, "cg_rt_test_b", x.copy()), 2 * x)
    assert built == ["cg_rt_twice"] and objects[0].stat().st_mtime_ns == stamp  # reused
    third = load_module(module("cg_rt_thrice", "c"),
                        "int cg_rt_test_c(const int64_t *P, char *err, void *a0);", options)
    np.testing.assert_array_equal(run(third, "cg_rt_test_c", x.copy()), 3 * x)
    assert built == ["cg_rt_twice", "cg_rt_thrice"]
    assert len(list((private_cache / "runtime").glob("*.o"))) == 2


@pytest.mark.slow  # two functions and the C call path's module, in a fresh cache
def test_function_modules_link_cgraphs_runtime(private_cache):
    """A dot's product is the runtime's (the module declares it), built once for two
    functions; results equal numpy's, through the call and through Function.loop."""
    assert {"cg_rt_loop_run", "cg_rt_gemm_float64"} <= set(runtime().parts)
    a, b = T.dmatrix("a"), T.dmatrix("b")
    w = cgraph.shared(np.full((3, 3), 0.5))
    f = cgraph.function([a, b], T.dot(a, b) + 1)
    source = f.c_source
    assert "cg_rt_gemm_float64(" in source and "cg_rt_loop_run(" in source
    compiled = stats.compiles
    objects = {p: p.stat().st_mtime_ns for p in (private_cache / "runtime").glob("*.o")}
    assert len(objects) == 2  # the loop's part and float64's products
    x = np.arange(12.0).reshape(3, 4)
    y = np.arange(8.0).reshape(4, 2)
    np.testing.assert_allclose(f(x, y), x @ y + 1, rtol=1e-15)
    step = cgraph.function([a], T.sum(T.dot(a, w)), updates=[(w, w * 0.5)])
    assert stats.compiles == compiled + 1
    assert {p: p.stat().st_mtime_ns for p in (private_cache / "runtime").glob("*.o")} == objects
    rows = np.arange(24.0).reshape(4, 2, 3)
    expected, v = [], w.get_value()
    for r in rows:  # numpy's steps
        expected.append(np.sum(r @ v))
        v = v * 0.5
    costs = step.loop(rows, record_every=1)
    np.testing.assert_allclose(np.ravel(costs), expected, rtol=1e-15)
    np.testing.assert_allclose(w.get_value(), v, rtol=1e-15)
