"""The tiles path of products (templates/gemm_tiles.c.j2): mid-size float products
whose b has contiguous rows, computed by cgraph's own register tiles on AVX-512 and
shared by its pool threads (csrc/cg_pool.h); elsewhere the same plan runs BLAS.

Against numpy for M, N and K around the tile's edges (6 rows, 4 vectors of columns),
every layout of a that the path reads in place, Gemm's alpha and beta with c read in
place, broadcast as a bias row or a column, an elementwise epilogue applied unit by
unit, the in-place SGD update, NaN and infinity; the same bits on one thread and two;
and the planner's routing. `everywhere` widens the path to every size so that small
shapes reach it.
"""

from __future__ import annotations

import os
import platform

import numpy as np
import pytest
from helpers import (
    assert_gemm_alpha_beta,
    assert_layout_products,
    assert_sgd_update_in_place,
    rng_for,
)

import cgraph
import cgraph.tensor as T
from cgraph.tensor import blas_ops
from cgraph.tensor.blas_ops import DOT_PATHS, PRODUCT, Gemm, product_params
from cgraph.tensor.gemm_epilogue import GemmEpilogue

TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=3e-5, atol=3e-5)}
PATH = PRODUCT.slots().path
TILES = DOT_PATHS["tiles"]


def avx512() -> bool:
    """Whether this machine's modules take the tiles path (built with -march=native)."""
    try:
        with open("/proc/cpuinfo") as info:
            return " avx512f" in info.read()
    except OSError:
        return False


@pytest.fixture
def everywhere(monkeypatch):
    """The tiles path for every float product that it can read in place."""
    for least in ("TILES_MIN_WORK", "TILES_MIN_K", "TILES_MIN_M", "TILES_MIN_N"):
        monkeypatch.setattr(blas_ops, least, 0)
    monkeypatch.setattr(blas_ops, "BLAS_MIN_WORK", dict.fromkeys(blas_ops.BLAS_MIN_WORK, 0))


def test_the_planner_routes_mid_size_products():
    def path(m, n, k, strides=None, dtype="float64"):
        return product_params(m, n, k, strides or (k, 1, n, 1), blas=True, dtype=dtype)[PATH]

    assert path(128, 256, 784) == TILES                          # the MLP's forward
    assert path(784, 256, 128, (1, 784, 256, 1)) == TILES        # its weight gradient, a^T
    assert path(128, 256, 784, dtype="float32") == TILES
    assert path(128, 784, 256, (256, 1, 1, 256)) == DOT_PATHS["gemm"]  # b^T: strided rows
    assert path(128, 256, 2000) == DOT_PATHS["gemm"]             # K past TILES_MAX_K
    assert path(4096, 512, 16) == DOT_PATHS["gemm"]              # K below TILES_MIN_K
    assert path(64, 64, 64) == DOT_PATHS["gemm"]                 # small: BLAS
    assert path(128, 16, 784, dtype="float32") == DOT_PATHS["gemm"]  # N below TILES_MIN_N
    assert path(128, 256, 784, dtype="int64") != TILES
    assert path(128, 256, 784, (1568, 2, 256, 1)) == DOT_PATHS["gemm"]  # a packed for BLAS
    assert product_params(128, 256, 784, (784, 1, 256, 1), blas=False)[PATH] == DOT_PATHS["loop"]


#: a's layouts the path reads in place: the views, and the shape of the array viewed.
LAYOUTS = {
    "NN": (lambda a, b: (a, b), lambda m, k, n: ((m, k), (k, n))),
    "TN": (lambda a, b: (a.T, b), lambda m, k, n: ((k, m), (k, n))),
    "rows of b apart": (lambda a, b: (a, b[:, 1:-2]), lambda m, k, n: ((m, k), (k, n + 3))),
    "rows of a apart": (lambda a, b: (a[::2], b), lambda m, k, n: ((2 * m, k), (k, n))),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_sizes_around_the_tiles_against_numpy(everywhere, dtype, layout):
    sizes = [(m, k, n) for m in (2, 5, 6, 7, 13) for k in (1, 3, 40)
             for n in (2, 15, 16, 17, 33, 64, 65, 130)]
    sizes += [(128, 784, 256), (37, 300, 100), (200, 7, 70)]
    assert_layout_products(LAYOUTS[layout], f"tiles {layout}", dtype, sizes, TOLERANCE[dtype])
    views, shapes = LAYOUTS[layout]
    rng = rng_for("tiles path", dtype, layout)
    a, b = (rng.uniform(-1, 1, shape).astype(dtype) for shape in shapes(13, 40, 65))
    va, vb = views(a, b)
    strides = (va.strides[0] // va.itemsize, va.strides[1] // va.itemsize,
               vb.strides[0] // vb.itemsize, vb.strides[1] // vb.itemsize)
    assert product_params(13, 65, 40, strides, blas=True, dtype=dtype)[PATH] == TILES


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gemm_reads_c_in_place_and_broadcast(everywhere, dtype):
    sizes = [(7, 300, 70), (13, 5, 16), (128, 100, 256), (1, 9, 33)]
    assert_gemm_alpha_beta("tiles gemm", dtype, sizes, TOLERANCE[dtype])
    A, B, C = (T.matrix(name, dtype=dtype) for name in "ABC")
    column = cgraph.function([A, B, C], Gemm(0.5, 2.0)(A.T, B, T.addbroadcast(C[:, :1], 1)))
    rng = rng_for("tiles column", dtype)
    for m, k, n in sizes:
        a, b = rng.uniform(-1, 1, (k, m)).astype(dtype), rng.uniform(-1, 1, (k, n)).astype(dtype)
        c = rng.uniform(-1, 1, (m, n)).astype(dtype)
        np.testing.assert_allclose(column(a, b, c), 0.5 * (a.T @ b) + 2 * c[:, :1],
                                   **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_epilogue_runs_on_every_unit(everywhere, dtype):
    # tanh(x W + b): Gemm with a bias row and a fused tanh, as in an MLP's layer
    x, w, b = T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype), T.vector("b", dtype=dtype)
    f = cgraph.function([x, w, b], T.tanh(T.dot(x, w) + b) * 3)
    assert any(isinstance(node.op, GemmEpilogue) for node in f.fgraph.toposort())
    rng = rng_for("tiles epilogue", dtype)
    for m, k, n in [(128, 784, 256), (7, 30, 65), (61, 200, 100)]:
        xv, wv = rng.uniform(-1, 1, (m, k)).astype(dtype), rng.uniform(-1, 1, (k, n)).astype(dtype)
        bv = rng.uniform(-1, 1, n).astype(dtype)
        np.testing.assert_allclose(f(xv, wv, bv), np.tanh(xv @ wv + bv) * 3, **TOLERANCE[dtype])


def test_in_place_sgd_update(everywhere):
    # W -= lr * x.T @ g: Gemm(-lr, 1) written into W's own storage by the tiles
    assert_sgd_update_in_place('tiles sgd', 300, 70)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nan_and_infinity_propagate_as_numpy(everywhere, dtype):
    A, B = T.matrix("A", dtype=dtype), T.matrix("B", dtype=dtype)
    f = cgraph.function([A, B], T.dot(A, B))
    rng = rng_for("tiles nan", dtype)
    a, b = rng.uniform(-1, 1, (9, 20)).astype(dtype), rng.uniform(-1, 1, (20, 70)).astype(dtype)
    a[1, 3], a[4, 0], b[7, 2], b[0, 69] = np.nan, np.inf, -np.inf, np.nan
    with np.errstate(invalid="ignore"):
        want = a @ b
    got = f(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


@pytest.mark.skipif(not avx512(), reason="the tiles path is built for AVX-512 only")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_bits_on_one_thread_and_two(dtype):
    """Each element is one tile's sum over k in order, whichever thread computes it."""
    a, b, c = (T.matrix(name, dtype=dtype) for name in "abc")
    rng = rng_for("tiles threads", dtype)
    x = rng.standard_normal((128, 784)).astype(dtype)
    y = rng.standard_normal((784, 256)).astype(dtype)
    z = rng.standard_normal((128, 256)).astype(dtype)
    outs = []
    for flags in ({"blas_threads": "library"}, {"blas_one_thread_below": 2**40}):
        with cgraph.config.change_flags(**flags):
            f = cgraph.function([a, b, c], [T.dot(a, b), T.dot(a.T, c)])
        outs.append([f(x, y, z) for _ in range(5)])
    first = outs[0][0]
    for calls in outs:
        for got in calls:
            for g, want in zip(got, first, strict=True):
                np.testing.assert_array_equal(g, want)
    np.testing.assert_allclose(first[0], x @ y, **TOLERANCE[dtype] if dtype == "float64"
                               else dict(rtol=1e-4, atol=1e-3))


@pytest.mark.skipif(os.cpu_count() == 1, reason="one CPU: no second thread")
def test_threads_of_concurrent_callers_do_not_mix(everywhere):
    """Two Python threads calling tiled products at once: each gets its own result (a
    pool thread busy with one caller's job is skipped by the other)."""
    import threading

    A, B = T.dmatrix("A"), T.dmatrix("B")
    f = cgraph.function([A, B], T.dot(A, B))
    rng = rng_for("tiles concurrent")
    pairs = [(rng.uniform(-1, 1, (96, 300)), rng.uniform(-1, 1, (300, 130))) for _ in range(2)]
    errors = []

    def run(a, b):
        for _ in range(30):
            if not np.allclose(f(a, b), a @ b, rtol=1e-12, atol=1e-12):
                errors.append("mismatch")

    threads = [threading.Thread(target=run, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 flags")
def test_modules_built_without_avx512_run_the_same_plan_on_blas(everywhere):
    """The planner does not know the module's target: a tiles plan in a module built
    without AVX-512 (here -mavx2) runs BLAS gemm, and Gemm's epilogue after it."""
    x, w, b = T.dmatrix("x"), T.dmatrix("w"), T.dvector("b")
    with cgraph.config.change_flags(cflags="-O2 -mavx2 -mfma"):
        f = cgraph.function([x, w, b], [T.dot(x, w), T.tanh(T.dot(x, w) + b)])
    assert "-mavx2" in f.build_options.cflags
    rng = rng_for("tiles avx2")
    xv, wv = rng.uniform(-1, 1, (61, 200)), rng.uniform(-1, 1, (200, 100))
    bv = rng.uniform(-1, 1, 100)
    assert product_params(61, 100, 200, (200, 1, 100, 1), blas=True)[PATH] == TILES
    got = f(xv, wv, bv)
    np.testing.assert_allclose(got[0], xv @ wv, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], np.tanh(xv @ wv + bv), rtol=1e-12, atol=1e-12)
