"""Gradients: symbolic (in C and in PY mode) against central differences.

`verify_grad` projects an op's output on a random direction and compares the
symbolic gradient of that scalar with central differences, in float64.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet
from cgraph.gradient import GradientError, verify_grad

#: Elementwise ops with no useful derivative; their gradient must be zeros.
NON_DIFFERENTIABLE = {"eq", "neq", "lt", "le", "gt", "ge", "int_div", "sign", "floor", "ceil",
                      "trunc", "round", "round_half_away_from_zero", "isnan", "isinf",
                      "logical_not"}
#: Integer-only ops (no float gradient to check) and psi (no gradient rule: tested below);
#: the special functions whose parameter has no gradient (NotImplementedError unless it
#: is a constant: checked with constant parameters in tests/tensor/test_special_functions.py).
NOT_CHECKED = {"and_", "or_", "xor", "invert", "psi", "ive", "polygamma", "gammainc",
               "gammaincc", "gammaincinv", "gammainccinv", "betainc",
               "hyp2f1"}  # its gradient in z: tests/tensor/test_special_hyp2f1.py


def uniform(lo: float, hi: float) -> Callable:
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def away_from_zero(lo: float, hi: float) -> Callable:
    """Either sign, magnitude in [lo, hi]: keeps abs and divisors off their kinks and poles."""
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1, 1], shape)


def mod_points(rng: np.random.Generator, shape: tuple) -> list[np.ndarray]:
    """x, y with x / y at least 0.1 away from an integer (where x % y jumps)."""
    y = away_from_zero(0.5, 2.0)(rng, shape)
    x = y * (rng.integers(-2, 3, shape) + rng.uniform(0.1, 0.9, shape))
    return [x, y]


#: Points for verify_grad per op: one sampler per input (default uniform(-2, 2)).
GRAD_DOMAINS = {
    "abs": [away_from_zero(0.2, 2.0)],
    "log": [uniform(0.5, 3.0)],
    "sqrt": [uniform(0.5, 3.0)],
    "pow": [uniform(0.5, 2.0), uniform(-2.0, 2.0)],
    "true_div": [uniform(-2.0, 2.0), away_from_zero(0.5, 2.0)],
    "mod": mod_points,
    "log2": [uniform(0.5, 3.0)],
    "log10": [uniform(0.5, 3.0)],
    "log1p": [uniform(-0.5, 3.0)],
    "reciprocal": [away_from_zero(0.5, 2.0)],
    "tan": [uniform(-1.2, 1.2)],
    "arcsin": [uniform(-0.8, 0.8)],
    "arccos": [uniform(-0.8, 0.8)],
    "arctanh": [uniform(-0.8, 0.8)],
    "arccosh": [uniform(1.5, 3.0)],
    "gammaln": [uniform(0.5, 3.0)],
    "arctan2": [away_from_zero(0.5, 2.0), away_from_zero(0.5, 2.0)],
    "clip": [uniform(-2.0, 2.0), uniform(-3.0, -0.5), uniform(0.5, 3.0)],
    "logit": [uniform(0.1, 0.9)],
    "log1mexp": [uniform(-3.0, -0.2)],
    "xlogy": [uniform(-2.0, 2.0), uniform(0.5, 3.0)],
    "xlog1py": [uniform(-2.0, 2.0), uniform(-0.5, 3.0)],
    "gamma": [uniform(0.5, 3.0)],
    "beta": [uniform(0.5, 3.0), uniform(0.5, 3.0)],
    "betaln": [uniform(0.5, 3.0), uniform(0.5, 3.0)],
    "erfinv": [uniform(-0.9, 0.9)],
    "erfcinv": [uniform(0.1, 1.9)],
    "tri_gamma": [uniform(0.5, 3.0)],
}


def grad_points(name: str, nin: int, shape: tuple = ()) -> list[np.ndarray]:
    """Points for the gradient check of elementwise op `name` (0-d: compiles fastest)."""
    rng = rng_for("grad", name)
    domain = GRAD_DOMAINS.get(name, [uniform(-2.0, 2.0)] * nin)
    if callable(domain):
        return domain(rng, shape)
    return [draw(rng, shape) for draw in domain]


def sample(shape: tuple, key: str) -> np.ndarray:
    return rng_for("points", key).uniform(-2.0, 2.0, shape)


Entry = tuple[Callable, list[np.ndarray]]  # a function of tensors, and a point per argument


def combine(entries: dict[str, Entry]) -> tuple[Callable, list[np.ndarray], list[str]]:
    """One function of every entry's inputs whose gradient checks all the entries.

    Entries whose outputs share one shape are added (verify_grad then projects the
    sum on a random direction); otherwise the result is sum_k <entry_k(...), W_k>
    with fixed random weights W_k. Either way the gradient wrt entry k's inputs
    involves entry k alone: one compiled check covers many ops, and a failing input
    index names the entry. Returns the function, the points and a label per input.
    """
    funs, points, labels, shapes = [], [], [], []
    for label, (fun, pts) in entries.items():
        # typed as verify_grad types them: a length-1 axis broadcasts (Theano's rule)
        variables = [T.tensor(p.dtype, shape=tuple(1 if n == 1 else None for n in p.shape))
                     for p in pts]
        shapes.append(cgraph.function(variables, fun(*variables), mode="PY")(*pts).shape)
        funs.append((fun, len(pts)))
        points += pts
        labels += [f"{label} (argument {i})" for i in range(len(pts))]
    weights = None
    if len(set(shapes)) > 1:
        weights = [rng_for("weights", *labels).uniform(0.5, 1.5, s) for s in shapes]

    def total(*xs):
        result, k = None, 0
        for j, (fun, n) in enumerate(funs):
            term = fun(*xs[k:k + n])
            if weights is not None:
                term = T.sum(term * weights[j].astype(term.dtype))
            result = term if result is None else result + term
            k += n
        return result

    return total, points, labels


def check_grads(entries: dict[str, Entry], mode: str) -> None:
    """verify_grad on `combine(entries)`; a failure names the entry."""
    fun, points, labels = combine(entries)
    try:
        verify_grad(fun, points, mode=mode)
    except GradientError as err:
        k = int(re.search(r"input (\d+)", str(err)).group(1))
        pytest.fail(f"gradient of {labels[k]} is wrong: {err}")


def elementwise_entries(differentiable: bool) -> dict[str, Entry]:
    return {name: (op, grad_points(name, op.scalar_op.nin)) for name, op in T.ELEMENTWISE.items()
            if (name not in NON_DIFFERENTIABLE) == differentiable and name not in NOT_CHECKED}


def test_psi_has_no_gradient_rule():
    x = T.dvector("x")
    with pytest.raises(cgraph.gradient.UndefinedGradientError, match="psi"):
        T.grad(T.sum(T.psi(x)), x)
    g = T.grad(T.sum(T.gammaln(x)), x)  # gammaln's gradient is psi
    f = cgraph.function([x], g)
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [-0.5772156649015329,
                                                       0.42278433509846713], rtol=1e-14)


# --------------------------------------------------------------------------- elementwise


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_elementwise_grad(mode):
    check_grads(elementwise_entries(differentiable=True), mode)


@pytest.mark.parametrize("mode", MODES)
def test_non_differentiable_grad_is_zero(mode):
    # Gradients through comparisons (bool outputs) and through int_div/sign are zeros.
    entries = elementwise_entries(differentiable=False)
    assert set(entries) == NON_DIFFERENTIABLE
    fun, points, labels = combine(entries)
    variables = [T.dscalar() for _ in points]
    f = cgraph.function(variables, T.grad(T.sum(fun(*variables) * 3.0), variables), mode=mode)
    for g, p, label in zip(f(*points), points, labels, strict=True):
        assert g.dtype == np.float64 and g.shape == p.shape, label
        np.testing.assert_array_equal(g, np.zeros_like(p), err_msg=label)


def test_verify_grad_catches_a_wrong_gradient():
    # The check itself must be able to fail: x * x with a gradient rule of x is wrong.
    wrong = T.ScalarOp("wrong_sqr", 1, "({0} * {0})", np.square, lambda d: d[0],
                       lambda x, o, gz: [T.mul(gz, x)])
    with pytest.raises(GradientError, match="input 0"):
        verify_grad(T.Elemwise(wrong), [np.array([0.5, 1.5, -2.0])], mode="PY")


# --------------------------------------------------------------------------- other ops


def entries(table: dict[str, tuple[Callable, tuple]]) -> dict[str, Entry]:
    """{label: (fun, shapes)} -> {label: (fun, random points of those shapes)}."""
    return {label: (fun, [sample(s, f"{label} {k}") for k, s in enumerate(shapes)])
            for label, (fun, shapes) in table.items()}


GROUPS = {
    "reductions": {
        "sum": (lambda x: T.sum(x), [(2, 3, 4)]),
        "sum(axis=1)": (lambda x: T.sum(x, axis=1), [(2, 3, 4)]),
        "sum(axis=-1, keepdims)": (lambda x: T.sum(x, axis=-1, keepdims=True), [(2, 3, 4)]),
        "sum(axis=(0, 2))": (lambda x: T.sum(x, axis=(0, 2)), [(2, 3, 4)]),
        "mean(axis=(2, 0), keepdims)": (lambda x: T.mean(x, axis=(2, 0), keepdims=True),
                                        [(2, 3, 4)]),
    },
    "dot": {
        "matrix . matrix": (T.dot, [(2, 3), (3, 4)]),
        "matrix . vector": (T.dot, [(2, 3), (3,)]),
        "vector . matrix": (T.dot, [(3,), (3, 4)]),
        "vector . vector": (T.dot, [(3,), (3,)]),
        "A.T . B.T": (lambda a, b: T.dot(a.T, b.T), [(3, 2), (4, 3)]),
    },
    "concatenate": {
        "axis 0": (lambda a, b: T.concatenate([a, b]), [(2, 3), (1, 3)]),
        "axis 1, three parts": (lambda a, b: T.concatenate([a, b, a], axis=1), [(2, 3), (2, 1)]),
        "with the tutorial bias": (lambda a, b: T.concatenate([a, b, np.array([1.0])]),
                                   [(2,), (3,)]),
    },
    "shape ops": {
        "x.T": (lambda x: x.T, [(2, 3, 4)]),
        "m.dimshuffle('x', 1, 'x', 0)": (lambda m: m.dimshuffle("x", 1, "x", 0), [(2, 3)]),
        "m.T * m.T (a view used twice)": (lambda m: m.T * m.T, [(2, 3)]),
    },
    "broadcasting": {
        # verify_grad types a length-1 axis as broadcastable (as Theano's verify_grad)
        "exp((3,1)) * (3,4)": (lambda c, m: T.exp(c) * m, [(3, 1), (3, 4)]),
        "(4,) - (3,4)": (lambda v, m: v - m, [(4,), (3, 4)]),
        "0-d * (3,4)": (lambda s, m: s * m, [(), (3, 4)]),
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("group", GROUPS)
def test_grad(group, mode):
    check_grads(entries(GROUPS[group]), mode)


@pytest.mark.parametrize("mode", MODES)
def test_nnet_sigmoid_grad(mode):
    # Large |x| too: the stable forms must not overflow into NaN.
    verify_grad(nnet.sigmoid, [np.array([-30.0, -2.5, -0.1, 0.0, 0.7, 3.0, 30.0])], mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_float32_grad(mode):
    verify_grad(lambda x, y: T.sqrt(x) * T.tanh(y) / 3, [sample((3,), "x").astype("float32") + 3,
                                                          sample((3,), "y").astype("float32")],
                mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_static_broadcast_grad(mode):
    c, r, s, m = T.dcol(), T.drow(), T.dscalar(), T.dmatrix()
    cost = T.sum((c * r + s) * m)
    f = cgraph.function([c, r, s, m], T.grad(cost, [c, r, s, m]), mode=mode)
    cv, rv, sv, mv = sample((3, 1), "c"), sample((1, 4), "r"), sample((), "s"), sample((3, 4), "m")
    gc, gr, gs, gm = f(cv, rv, sv, mv)
    np.testing.assert_allclose(gc, (rv * mv).sum(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(gr, (cv * mv).sum(axis=0, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(gs, mv.sum(), rtol=1e-14)
    np.testing.assert_allclose(gm, cv * rv + sv, rtol=1e-14)
    assert [g.shape for g in (gc, gr, gs, gm)] == [(3, 1), (1, 4), (), (3, 4)]


# --------------------------------------------------------------------------- grad() itself


def test_grad_of_a_non_scalar_cost_raises_type_error():
    x = T.dvector()
    with pytest.raises(TypeError, match="scalar"):
        T.grad(x * 2, x)


def test_grad_wrt_an_unused_variable():
    x, unused = T.dvector(), T.dmatrix()
    cost = T.sum(x**2)
    with pytest.raises(ValueError, match="does not depend"):
        T.grad(cost, [x, unused])
    gx, gu = T.grad(cost, [x, unused], disconnected_inputs="ignore")
    for mode in MODES:
        f = cgraph.function([x, unused], [gx, gu], mode=mode)
        a, b = np.array([1.0, -2.0]), np.ones((2, 3))
        got_x, got_u = f(a, b)
        np.testing.assert_array_equal(got_x, 2 * a)
        assert got_u.dtype == np.float64
        np.testing.assert_array_equal(got_u, np.zeros((2, 3)))


@pytest.mark.parametrize("mode", MODES)
def test_tutorial_numbers(mode):
    x = T.dscalar()
    fx = T.exp(T.sin(x**2))
    f = cgraph.function(inputs=[x], outputs=[fx], mode=mode)
    fprime = cgraph.function([x], T.grad(fx, wrt=x), mode=mode)
    assert abs(f(10)[0] - 0.602681965908778) < 1e-12
    assert abs(fprime(15) - 4.347404090286685) < 1e-12
