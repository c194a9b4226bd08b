"""special.hyp2f1 against scipy.special.hyp2f1 (mpmath where scipy is less accurate), in
modes C and PY: 1e-13 relative over its documented domain (real a, b, c away from the
non-positive integers, z <= 1), the tails z -> 1 where the series converges there
(c - a - b > 0), z < 0 through Pfaff's transformations, polynomials, NaN outside the
domain, and the gradient with respect to z; the gradients with respect to a, b and c
against mpmath's differentiation of its hyp2f1 (1e-9 relative) over the same domain
(any c - a - b near z = 1) and by central differences."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.special as sp
from helpers import MODES, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.tensor import special
from cgraph.tensor.special_math import _HYP2F1_D

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
    check([[0.0, 2.0, 2.0], [3.0, 0.0, 1.0], [1.5, 1.5, 3.5], [0.9, 0.9, 0.0]], 1.0)


def test_excess_near_an_integer_close_to_one():
    # c - a - b (for z < 0: a - b) within 0.05 of an integer but not one, z past 0.999
    # (z < -999): the hypergeometric equation by Taylor steps
    rng = np.random.default_rng(3)
    a, b = parameters(rng, 40, -4, 4), parameters(rng, 40, -4, 4)
    near = rng.integers(-2, 4, 40) + rng.choice([-1, 1], 40) * rng.uniform(1e-9, 0.05, 40)
    c = a + b + near
    c = np.where((c < 0.1) & (np.abs(c - np.round(c)) < 0.1), c + 2.0, c)
    z = 1 - 10.0 ** -rng.uniform(3, 14, 40)
    check([a, b, c, z], exact(a, b, c, z), rtol=1e-10)  # 3e-11 at c = -7.3, else 4e-13
    b = a + rng.integers(-2, 3, 40) + rng.choice([-1, 1], 40) * rng.uniform(1e-9, 0.05, 40)
    c = parameters(rng, 40, 0.2, 6)
    z = -(10.0 ** rng.uniform(3, 8, 40))
    check([a, b, c, z], exact(a, b, c, z), rtol=1e-10)
    args = [[1.0, 1.0], [1.0, 1.02], [2.01, 2.0], [0.9999, -2000.0]]
    check(args, exact(*args), rtol=1e-12)


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


# ----------------------------------------------------------------- gradients in a, b, c


@functools.cache
def compiled_grads() -> dict:
    xs = [T.dvector(n) for n in "abcz"]
    grads = T.grad(T.sum(special.hyp2f1(*xs)), xs[:3])
    return {mode: cgraph.function(xs, grads, mode=mode) for mode in MODES}


def exact_grads(*args) -> np.ndarray:
    """d/da, d/db, d/dc by mpmath's differentiation (40 digits) of its hyp2f1."""
    out = []
    for v in zip(*np.broadcast_arrays(*args)):
        x = [mp.mpf(float(t)) for t in v]
        row = []
        for k in range(3):
            def f(t, k=k, x=x):
                return mp.hyp2f1(*[t if i == k else x[i] for i in range(3)], x[3])
            row.append(float(mp.diff(f, x[k])))
        out.append(row)
    return np.array(out).T


def check_grads(a, b, c, z, rtol: float = 1e-9) -> None:
    args = [np.ascontiguousarray(v, dtype="float64") for v in np.broadcast_arrays(a, b, c, z)]
    expected = exact_grads(*args)
    for mode, f in compiled_grads().items():
        for name, out, ref in zip("abc", f(*args), expected):
            np.testing.assert_allclose(out, ref, rtol=rtol, atol=0.0, equal_nan=True,
                                       err_msg=f"{mode}: d/d{name}")


def test_parameter_gradients_inside_the_unit_interval():
    rng = np.random.default_rng(10)
    a, b = parameters(rng, 40, -5, 5), parameters(rng, 40, -5, 5)
    c = np.concatenate([parameters(rng, 30, 0.2, 8), parameters(rng, 10, -5, -0.1)])
    check_grads(a, b, c, rng.uniform(-0.95, 0.95, 40))


def test_parameter_gradients_near_one():
    # any excess c - a - b: positive, negative, integer (the value's logarithmic case)
    # and near an integer; z = 1 - 1e-1 ... 1 - 1e-15
    rng = np.random.default_rng(11)
    a, b = parameters(rng, 40, -4, 4), parameters(rng, 40, -4, 4)
    excess = np.concatenate([rng.uniform(-3, 4, 20), rng.integers(-2, 4, 12),
                             rng.integers(-2, 4, 8) + rng.uniform(-0.04, 0.04, 8)])
    c = a + b + excess
    c = np.where((c < 0.1) & (np.abs(c - np.round(c)) < 0.1), c + 0.3 * np.sign(c - 0.5), c)
    check_grads(a, b, c, 1 - 10.0 ** -rng.uniform(1, 15, 40))
    check_grads(1.0, 1.0, 2.0, [0.999, 1 - 1e-9, 1 - 1e-15])  # -log(1 - z) / z


def test_parameter_gradients_for_negative_z():
    rng = np.random.default_rng(12)
    a, b = parameters(rng, 40, -5, 5), parameters(rng, 40, -5, 5)
    b[:10] = a[:10] + rng.integers(-2, 3, 10)  # a - b an integer
    c = parameters(rng, 40, -5, 8)
    check_grads(a, b, c, -(10.0 ** rng.uniform(-3, 5, 40)))


def test_parameter_gradients_for_larger_parameters():
    # abs(a), abs(b), c up to 10, z anywhere in the domain
    rng = np.random.default_rng(13)
    a, b = parameters(rng, 24, -10, 10), parameters(rng, 24, -10, 10)
    c = parameters(rng, 24, 0.5, 10)
    z = np.concatenate([rng.uniform(-0.9, 0.9, 8), 1 - 10.0 ** -rng.uniform(1, 12, 8),
                        -(10.0 ** rng.uniform(0, 4, 8))])
    check_grads(a, b, c, z)


def test_parameter_gradients_at_one_and_for_polynomials():
    # Gauss's sum at z = 1 (c - a - b > 0), where c - a may be a pole of 1/Gamma
    check_grads([0.5, -1.5, 2.0, -2.0, 1.0], [1.0, 2.5, -0.5, 1.25, -0.25],
                [3.5, 4.25, 2.75, 1.0, 2.5], 1.0)
    # a or b a non-positive integer: the value's series ends, the derivatives' does not
    check_grads([0.0, -1.0, -3.0, 2.5, -2.0], [2.0, 3.5, -0.5, -4.0, 1.25],
                [1.5, 0.5, 2.0, 3.25, 2.25], [0.5, -0.7, 0.95, -20.0, 0.3])


def test_parameter_gradients_outside_the_domain_are_nan():
    nan_points = ([1.0, 1.0, 1.0, np.nan, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0],
                  [2.0, -2.0, 1.5, 2.0, 2.5], [1.5, 0.5, 1.0, 0.5, -np.inf])
    for mode, f in compiled_grads().items():
        for out in f(*[np.array(v) for v in nan_points]):
            assert np.isnan(out).all(), (mode, out)


@pytest.mark.parametrize("mode", MODES)
def test_parameter_gradients_by_central_differences(mode):
    # the gradient graph as verify_grad builds it, every input a variable; and the
    # derivatives' own gradient in z (with constant a, b, c)
    pts = [np.array(v) for v in ([0.5, -1.5, 2.0, 1.25], [1.0, 2.5, 0.75, -0.5],
                                 [1.5, 3.25, 4.0, 2.5], [0.3, -2.0, 0.95, -30.0])]
    a, b, c = (T.constant(v) for v in pts[:3])
    cases = {"hyp2f1": (special.hyp2f1, pts)}
    for name in "abc":
        cases[f"d/d{name}"] = (lambda z, name=name: _HYP2F1_D[name](a, b, c, z), pts[3:])
    verify_grad_cases(cases, mode=mode)


def test_second_derivatives_in_the_parameters_raise():
    z = T.dvector("z")
    for k in range(3):
        params = [T.dvector(n) for n in "abc"]
        first = T.grad(T.sum(special.hyp2f1(*params, z)), params[k])
        with pytest.raises(NotImplementedError, match="second derivative"):
            T.grad(T.sum(first), [z])
