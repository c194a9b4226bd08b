"""Kernels whose loops worth vectorizing all say `omp simd` are compiled with gcc's
cheap vectorizer cost model for the others (CG_SIMD_KERNEL, csrc/cgraph.h): the Gemm
kernel (dot_add.c.j2, its copy of c into the output), the fused sum (fused_sum.c.j2),
as elementwise kernels already were. Each of their paths must still equal numpy."""

from __future__ import annotations

import re

import numpy as np

import cgraph
import cgraph.tensor as T


def marked(source: str, comment: str) -> bool:
    """Whether the kernel whose comment contains `comment` is a CG_SIMD_KERNEL."""
    return bool(re.search(r"/\* [^\n]*" + re.escape(comment) + r"[^\n]*\*/\nCG_SIMD_KERNEL\n"
                          r"CG_KERNEL int ", source))


def test_gemm_kernel_every_copy_of_c_equals_numpy():
    """c contiguous, c a broadcast bias row, c transposed (strided rows), a product that
    broadcasts into c (through a temporary)."""
    x, w, c = T.dmatrix("x"), T.dmatrix("w"), T.dmatrix("c")
    b = T.dvector("b")
    col = T.tensor("float64", shape=(None, 1))
    outs = [T.dot(x, w) + c, T.dot(x, w) + b, 0.5 * T.dot(x, w) - c.T, T.dot(x, col) + c]
    f = cgraph.function([x, w, c, b, col], outs)
    assert marked(f.c_source, "Gemm")
    rng = np.random.default_rng(0)
    for m, k, n in [(5, 7, 5), (20, 30, 20), (1, 3, 1)]:
        X, W = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        C, B = rng.standard_normal((m, n)), rng.standard_normal(n)
        Col = rng.standard_normal((k, 1))
        want = [X @ W + C, X @ W + B, 0.5 * (X @ W) - C.T, X @ Col + C]
        for got, exp in zip(f(X, W, C, B, Col), want, strict=True):
            np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12)


def test_fused_sum_dense_and_strided_equals_numpy():
    x = T.dmatrix("x")
    f = cgraph.function([x], [T.sum(T.exp(x) * x), T.sum(T.exp(x.T[::2]) * 2)])
    assert marked(f.c_source, "sum_of_fused")
    rng = np.random.default_rng(1)
    for shape in [(3, 4), (64, 33), (1, 1), (0, 5)]:
        X = rng.standard_normal(shape)
        got = f(X)
        np.testing.assert_allclose(got[0], np.sum(np.exp(X) * X), rtol=1e-12)
        np.testing.assert_allclose(got[1], np.sum(np.exp(X.T[::2]) * 2), rtol=1e-12)
