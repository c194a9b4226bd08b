"""special.hyp2f1 against scipy.special.hyp2f1 (mpmath where scipy is less accurate), in
modes C and PY: 1e-13 relative over its documented domain (real a, b, c away from the
non-positive integers, z <= 1), the tails z -> 1 where the series converges there
(c - a - b > 0), z < 0 through Pfaff's transformations, polynomials, NaN outside the
domain, and the gradient with respect to z."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.special as sp
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.tensor import special

mp = pytest.importorskip("mpmath")
mp.mp.dps = 40
RTOL = 1e-13


@functools.cache
def compiled(dtype: str = "float64") -> dict:
    xs = [T.vector(dtype=dtype) for _ in range(4)]
    return {mode: cgraph.function(xs, special.hyp2f1(*xs), mode=mode) for mode in MODES}


def run(*args, dtype: str = "float64") -> dict[str, np.ndarray]:
    args = [np.ascontiguousarray(a, dtype=dtype) for a in np.broadcast_arrays(*args)]
    return {mode: f(*args) for mode, f in compiled(dtype).items()}


def exact(*args) -> np.ndarray:
    return np.array([float(mp.hyp2f1(*v)) for v in zip(*np.broadcast_arrays(*args))])


def reference(*args) -> np.ndarray:
    """scipy's values, mpmath's where cgraph and scipy differ by more than RTOL."""
    args = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args])
    expected = sp.hyp2f1(*args)
    out = run(*args)["C"]
    off = ~np.isclose(out, expected, rtol=RTOL, atol=0.0, equal_nan=True)
    if off.any():
        expected[off] = exact(*[a[off] for a in args])
    return expected


def check(args, expected, rtol: float = RTOL) -> None:
    for mode, out in run(*args).items():
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=rtol,
                                   atol=0.0, equal_nan=True, err_msg=mode)


def parameters(rng, n: int, low: float, high: float) -> np.ndarray:
    """n values in [low, high], at least 0.1 away from the non-positive integers."""
    v = rng.uniform(low, high, n)
    near = (v < 0.1) & (np.abs(v - np.round(v)) < 0.1)
    return np.where(near, v + 0.3, v)


def test_inside_the_unit_interval():
    rng = np.random.default_rng(0)
    a, b = parameters(rng, 400, -5, 5), parameters(rng, 400, -5, 5)
    c = np.concatenate([parameters(rng, 300, 0.2, 8), parameters(rng, 100, -5, -0.1)])
    z = rng.uniform(-0.95, 0.95, 400)
    check([a, b, c, z], reference(a, b, c, z))


def test_tails_near_one():
    # convergent at 1 (c - a - b > 0): z = 1 - 1e-1 ... 1 - 1e-15 and z = 1 (Gauss's sum)
    rng = np.random.default_rng(1)
    a, b = parameters(rng, 300, -4, 4), parameters(rng, 300, -4, 4)
    c = a + b + rng.integers(0, 4, 300) + rng.uniform(0.1, 0.9, 300)  # see the domain
    z = 1 - 10.0 ** -rng.uniform(1, 15, 300)
    keep = (c > 0.1) | (np.abs(c - np.round(c)) > 0.1)
    a, b, c, z = a[keep], b[keep], c[keep], z[keep]
    check([a, b, c, z], reference(a, b, c, z))
    check([a, b, c, 1.0], reference(a, b, c, 1.0))
    # an excess near an integer: the power series, up to z = 0.999
    a, b = np.array([1.0, 0.5, 2.5, -1.5]), np.array([1.0, 1.5, 0.7, 2.25])
    c = a + b + np.array([0.0, 1.0, 2.02, 0.97])
    check([a, b, c, 0.999], reference(a, b, c, 0.999))
    check([1.0, 1.0, 2.0, 0.5], -np.log(0.5) / 0.5)
    # an integer excess (m = -3 .. 3): the series in 1 - z with logarithms
    a, b = parameters(rng, 200, -4, 4), parameters(rng, 200, -4, 4)
    c = a + b + rng.integers(-3, 4, 200)
    z = 1 - 10.0 ** -rng.uniform(1, 15, 200)
    keep = (c > 0.1) | (np.abs(c - np.round(c)) > 0.1)
    a, b, c, z = a[keep], b[keep], c[keep], z[keep]
    check([a, b, c, z], exact(a, b, c, z))
    z = 1 - 1e-12
    check([1.0, 1.0, 2.0, z], -np.log(1 - z) / z)  # -log(1 - z) / z; 1 - z is exact


def test_negative_z_by_pfaff():
    rng = np.random.default_rng(2)
    a, b = parameters(rng, 300, -5, 5), parameters(rng, 300, -5, 5)
    b = np.where(np.abs(a - b - np.round(a - b)) < 0.05, b + 0.2, b)  # see the domain
    c = parameters(rng, 300, -5, 8)
    z = -(10.0 ** rng.uniform(-3, 5, 300))
    check([a, b, c, z], reference(a, b, c, z))
    # a - b an integer (the series with logarithms after Pfaff's transformation)
    for z in (-500.0, -1e8):
        check([[1.0, 2.0, 0.5], [1.0, 1.0, 2.5], [2.0, 3.5, 1.5], z],
              exact([1.0, 2.0, 0.5], [1.0, 1.0, 2.5], [2.0, 3.5, 1.5], z))


def test_polynomials():
    # a or b a non-positive integer: a finite sum
    a = np.array([0.0, -1.0, -3.0, -7.0, 2.5, -4.0])
    b = np.array([2.0, 3.5, -0.5, 1.25, -5.0, -2.0])
    c = np.array([1.5, 0.5, 2.0, 9.5, 3.5, 0.25])
    for z in (-50.0, -0.7, 0.3, 0.95, 1.0):
        check([a, b, c, z], exact(a, b, c, z), rtol=1e-12)


def test_nan_outside_the_domain():
    out = run([1.0, 1.0, 1.0, 1.0, np.nan, np.inf, 1.0, 0.5, 1.0, 1.0],
              [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0],
              [2.0, 0.0, -3.0, 2.0, 2.0, 2.0, np.inf, 1.0, 1.5, 2.0],
              [1.5, 0.5, 0.5, np.nan, 0.5, 0.5, 0.5, 1.0, 1.0, -np.inf])
    for mode, values in out.items():
        assert np.isnan(values).all(), (mode, values)
    # the power series is not summed past z = 0.999 where c - a - b is near an integer
    for mode, values in run([1.0, 1.0], [1.0, 1.02], [2.01, 2.0], [0.9999, -2000.0]).items():
        assert np.isnan(values).all(), (mode, values)
    check([[0.0, 2.0, 2.0], [3.0, 0.0, 1.0], [1.5, 1.5, 3.5], [0.9, 0.9, 0.0]], 1.0)


def test_float32():
    a, b = np.float32([0.5, -1.5, 2.0]), np.float32([1.0, 2.5, 0.75])
    c, z = np.float32([1.5, 3.25, 4.0]), np.float32([0.5, -3.0, 0.99])
    expected = run(a, b, c, z)["C"]
    for mode, out in run(a, b, c, z, dtype="float32").items():
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=2e-6, err_msg=mode)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_in_z(mode):
    a, b, c = (T.constant(np.array(v)) for v in ([0.5, -1.5, 2.0], [1.0, 2.5, 0.75],
                                                   [1.5, 3.25, 4.0]))
    verify_grad(lambda z: special.hyp2f1(a, b, c, z), [np.array([0.3, -2.0, 0.95])],
                mode=mode)
    z = T.dvector("z")
    for k, name in enumerate("abc"):
        params = [a, b, c]
        params[k] = T.dvector(name)
        with pytest.raises(NotImplementedError,
                           match=f"hyp2f1: the gradient with respect to {name}"):
            T.grad(T.sum(special.hyp2f1(*params, z)), [z])
