"""cgraph.tensor.linalg.expm against scipy.linalg.expm in modes C and PY (orders 0..6,
norms from 0.1 to 60: with and without squarings, batches, float32/float64, strided
input), its gradient against central differences, and NaN input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.tensor import linalg as la


@pytest.mark.parametrize("mode", MODES)
def test_expm_against_scipy(mode):
    x, xf, m = T.dtensor3("x"), T.ftensor3("xf"), T.dmatrix("m")
    f = cgraph.function([x, xf, m], [la.expm(x), la.expm(xf), la.expm(m)], mode=mode)
    rng = rng_for("expm", mode)
    for n, scale in ((1, 1.0), (3, 0.1), (4, 3.0), (6, 20.0), (5, 60.0), (0, 1.0)):
        a = rng.normal(size=(2, n, n)) * scale
        wide = np.zeros((2, n, 2 * n))
        wide[..., ::2] = a
        got, got32, one = f(wide[..., ::2], a.astype("float32"), a[0])
        want = np.array([sl.expm(m) for m in a]).reshape(a.shape)
        big = np.abs(want).max() if want.size else 1.0
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * big)
        np.testing.assert_allclose(one, want[0], rtol=1e-9, atol=1e-12 * big)
        assert got32.dtype == np.float32
        np.testing.assert_allclose(got32, want, rtol=5e-3, atol=1e-5 * big)
    sym = rng.normal(size=(4, 4))
    sym = sym + sym.T  # a symmetric matrix: V exp(w) V^T
    w, v = np.linalg.eigh(sym)
    np.testing.assert_allclose(f(sym[None], sym[None].astype("float32"), sym)[2],
                               (v * np.exp(w)) @ v.T, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_expm_nan_and_types(mode):
    m = T.dmatrix("m")
    f = cgraph.function([m], la.expm(m), mode=mode)
    assert np.isnan(f(np.array([[np.nan, 0.0], [0.0, 1.0]]))).any()
    with pytest.raises(TypeError, match="expm: input 0 must be float32 or float64"):
        la.expm(T.imatrix())
    with pytest.raises(ValueError, match="square"):
        la.expm(T.TensorType("float64", (2, 3))("r"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,scale", [((3, 3), 0.5), ((2, 3, 3), 2.0), ((4, 4), 8.0)])
def test_expm_grad(mode, shape, scale):
    a = rng_for("expm-grad", shape).normal(size=shape) * scale / 3
    verify_grad(la.expm, [a], rng=np.random.default_rng(1), mode=mode, rel_tol=1e-5)
