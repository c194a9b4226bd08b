"""The narrow product path (`cg_narrow_*` in templates/gemm.c.j2): products with at
most 16 columns (NARROW_N), which the planner gives it instead of BLAS gemm.

Against numpy for every layout of the operands (transposed, sliced, strided, reversed),
N and K from 1 to 17 and around the panel's edges, M = 0, 1 and odd, Gemm's alpha and
beta (the in-place SGD update among them), both float dtypes, NaN and infinity, and a
panel that cannot be allocated. The tests widen the path to every size it can take
(no least sizes, NARROW_N = 1..16, no BLAS_MIN_WORK) so that small shapes reach it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import (
    assert_gemm_alpha_beta,
    assert_layout_products,
    assert_products_survive_short_memory,
    assert_sgd_update_in_place,
    rng_for,
)

import cgraph
import cgraph.tensor as T
from cgraph.tensor import blas_ops
from cgraph.tensor.blas_ops import DOT_PATHS, PRODUCT, product_params

TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-5)}
PATH, PACKED_B = PRODUCT.slots().path, PRODUCT.slots().b.packed
NARROW = DOT_PATHS["narrow"]


@pytest.fixture
def everywhere(monkeypatch):
    """The narrow path for every product of 1 to 16 columns, however small."""
    for least in ("NARROW_MIN_A", "NARROW_MIN_K", "NARROW_MIN_M"):
        monkeypatch.setattr(blas_ops, least, 0)
    monkeypatch.setattr(blas_ops, "NARROW_N", range(1, blas_ops.NARROW_WIDTH + 1))
    monkeypatch.setattr(blas_ops, "NARROW_DTYPES", ("float32", "float64"))
    monkeypatch.setattr(blas_ops, "NARROW_MAX_A", 2**62)
    monkeypatch.setattr(blas_ops, "BLAS_MIN_WORK", dict.fromkeys(blas_ops.BLAS_MIN_WORK, 0))


def test_the_planner_routes_narrow_products():
    def path(m, n, k, strides=None):
        return product_params(m, n, k, strides or (k, 1, n, 1), blas=True)[PATH]

    assert path(600, 10, 784) == NARROW                        # logistic regression
    assert path(784, 10, 600, (1, 784, 10, 1)) == NARROW       # its gradient, a^T
    assert path(128, 10, 784) == NARROW and path(784, 10, 128) == NARROW
    assert path(128, 10, 256) == DOT_PATHS["gemm"]             # small: BLAS is faster
    assert path(384, 10, 256) == DOT_PATHS["gemm"] and path(400, 10, 256) == NARROW
    assert path(1000, 10, 100) == DOT_PATHS["gemm"]            # short K
    assert path(2, 10, 50000) == DOT_PATHS["gemm"]             # few rows
    assert path(600, 3, 784) == DOT_PATHS["gemm"]              # 3 of 16 columns
    assert path(60000, 10, 784) == DOT_PATHS["gemm"]           # a past NARROW_MAX_A
    float32 = product_params(600, 10, 784, (784, 1, 10, 1), blas=True, dtype="float32")
    assert float32[PATH] == DOT_PATHS["gemm"]                  # sgemm kept
    assert path(600, 17, 784) == DOT_PATHS["gemm"]             # wider than the panel
    assert path(600, 1, 784) == DOT_PATHS["gemv_a"]
    assert path(1, 10, 784) == DOT_PATHS["gemv_b"]
    params = product_params(600, 10, 784, (784, 1, 1, 784), blas=True)
    assert params[PACKED_B] == 784 * blas_ops.NARROW_WIDTH     # b's panel, any layout
    assert product_params(600, 10, 784, (784, 1, 10, 1), blas=False)[PATH] == DOT_PATHS["loop"]


#: Each layout: the views the graph multiplies, and the shapes of the arrays they are
#: views of, for an m x k by k x n product.
LAYOUTS = {
    "NN": (lambda a, b: (a, b), lambda m, k, n: ((m, k), (k, n))),
    "NT": (lambda a, b: (a, b.T), lambda m, k, n: ((m, k), (n, k))),
    "TN": (lambda a, b: (a.T, b), lambda m, k, n: ((k, m), (k, n))),
    "TT": (lambda a, b: (a.T, b.T), lambda m, k, n: ((k, m), (n, k))),
    "strided": (lambda a, b: (a[::2, ::3], b[::3, ::2]),
                lambda m, k, n: ((2 * m, 3 * k), (3 * k, 2 * n))),
    "reversed": (lambda a, b: (a[::-1, ::-2], b[::-2, ::-1]),
                 lambda m, k, n: ((m, 2 * k), (2 * k, n))),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_layout_and_size_against_numpy(everywhere, dtype, layout):
    sizes = [(m, k, n) for m in (2, 7, 13) for k in (1, 2, 5, 16, 17) for n in range(2, 17)]
    sizes += [(0, 5, 10), (1, 40, 10), (37, 300, 10), (9, 600, 16), (6, 2000, 9)]
    assert_layout_products(LAYOUTS[layout], f"narrow {layout}", dtype, sizes, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gemm_alpha_beta(everywhere, dtype):
    assert_gemm_alpha_beta("gemm", dtype, [(7, 300, 10), (13, 5, 16), (2, 17, 3), (1, 9, 11)],
                           TOLERANCE[dtype])


def test_in_place_sgd_update(everywhere):
    # W -= lr * h.T @ g: Gemm(-lr, 1) written into W's own storage.
    assert_sgd_update_in_place('sgd', 256, 10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nan_and_infinity_propagate_as_numpy(everywhere, dtype):
    A, B = T.matrix("A", dtype=dtype), T.matrix("B", dtype=dtype)
    f, g = cgraph.function([A, B], T.dot(A, B)), cgraph.function([A, B], T.dot(A.T, B.T))
    rng = rng_for("nan", dtype)
    a, b = rng.uniform(-1, 1, (9, 20)).astype(dtype), rng.uniform(-1, 1, (20, 10)).astype(dtype)
    a[1, 3], a[4, 0], b[7, 2], b[0, 9] = np.nan, np.inf, -np.inf, np.nan
    with np.errstate(invalid="ignore"):
        want = a @ b
    got = f(a, b), g(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T))
    for out, exp in zip(got, [want, want], strict=True):
        np.testing.assert_array_equal(np.isnan(out), np.isnan(exp))
        np.testing.assert_allclose(out, exp, **TOLERANCE[dtype])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="ASan's shadow memory does not fit a limited address space")
@pytest.mark.slow  # a child process
def test_a_panel_that_cannot_be_allocated_falls_back_to_the_loop():
    """Dot and Gemm never fail: without memory for b's panel the loop computes the
    product."""
    assert product_params(16, 10, 300_000, (300_000, 1, 10, 1), blas=True)[PATH] == NARROW
    # b's panel (k x 16) is 38 MB, above glibc's largest mmap threshold (32 MB)
    assert_products_survive_short_memory(
        "k = 300_000; w_shape, x_shape, y_shape = (16, 10), (16, k), (k, 10)")
