"""Elementwise semantics beyond the op table: bool and integer rules, rounding modes,
aliases, and a Hypothesis property test of broadcasting over random shapes.

C and PY results are compared with numpy evaluating the same expression; each test
compiles one function with many outputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import MODES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cgraph
import cgraph.tensor as T


def check(fns: dict, expected: list, args: list, label: str = "") -> None:
    for mode, f in fns.items():
        for k, (got, want) in enumerate(zip(f(*args), expected, strict=True)):
            want = np.asarray(want)
            assert got.dtype == want.dtype, f"{mode} {label} output {k}: {got.dtype} {want.dtype}"
            assert got.shape == want.shape, f"{mode} {label} output {k}"
            np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True,
                                       err_msg=f"{mode} {label} output {k}")


def compile_modes(inputs, outputs) -> dict:
    return {m: cgraph.function(inputs, outputs, mode=m, on_unused_input="ignore") for m in MODES}


# --------------------------------------------------------------------------- bool and ints


def test_bool_arithmetic_follows_numpy():
    a, b = T.vector(dtype="bool"), T.vector(dtype="bool")
    exprs = [lambda a, b: ~a, lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a ** b,
             lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a & b, lambda a, b: a ^ b]
    fns = compile_modes([a, b], [e(a, b) for e in exprs] + [T.invert(a), T.bitwise_not(b),
                                                            T.sqr(a)])
    av, bv = np.array([True, True, False, False]), np.array([True, False, True, False])
    with np.errstate(all="ignore"):
        expected = [e(av, bv) for e in exprs] + [~av, ~bv, np.square(av)]
    assert [np.asarray(e).dtype.name for e in expected[1:4]] == ["int8"] * 3
    check(fns, expected, [av, bv], "bool")


def test_bool_negation_and_subtraction_raise_when_built():
    b = T.vector(dtype="bool")
    with pytest.raises(TypeError, match="negation of bools"):
        T.neg(b)
    with pytest.raises(TypeError, match="negation of bools"):
        b.__neg__()
    with pytest.raises(TypeError, match="subtraction of bools"):
        T.sub(b, b)
    assert (b - 1).dtype == "int64" and (1 - b).dtype == "int64"  # as numpy: b - 1


def test_integer_negative_powers_agree_in_c_and_py():
    # numpy raises for int ** negative int; cgraph gives C's value in both modes.
    x, y = T.bvector(), T.bvector()
    fns = compile_modes([x, y], [x ** y, x ** -1, T.power(x, y)])
    xv = np.array([1, -1, -1, 2, -3, 0, 5], dtype="int8")
    yv = np.array([-1, -1, -2, -1, -3, 2, 2], dtype="int8")
    want = np.array([1, -1, 1, 0, 0, 0, 25], dtype="int8")
    check(fns, [want, np.array([1, -1, -1, 0, 0, 0, 0], dtype="int8"), want], [xv, yv])


def test_integer_division_by_zero_gives_zero():
    x, y = T.vector(dtype="uint8"), T.wvector()
    fns = compile_modes([x, y], [x // 0, x % 0, y // T.zeros_like(y), y % T.zeros_like(y),
                                 x.astype("float64") // 0, y.astype("float32") % 0])
    xv, yv = np.array([0, 3, 255], dtype="uint8"), np.array([-7, 0, 7], dtype="int16")
    with np.errstate(all="ignore"):
        expected = [xv // np.uint8(0), xv % np.uint8(0), yv // np.int16(0), yv % np.int16(0),
                    xv.astype("float64") // 0, yv.astype("float32") % np.float32(0)]
    check(fns, expected, [xv, yv])


# --------------------------------------------------------------------------- rounding


def _half_away(a: np.ndarray) -> np.ndarray:
    return np.copysign(np.floor(np.abs(a) + 0.5), a)


def test_round_modes_and_decimals():
    d, f, i = T.dvector(), T.fvector(), T.lvector()
    outs = [T.round(d), d.round(), T.round(d, "half_away_from_zero"),
            T.round_half_to_even(d), T.round_half_away_from_zero(f), T.round(d, decimals=2),
            d.round(1), T.round(d, decimals=-1), T.round(i, decimals=-1), T.round(i, decimals=2)]
    fns = compile_modes([d, f, i], outs)
    dv = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 1.2345, 15.0, 25.0, -0.0, np.inf, np.nan])
    fv = np.array([0.49999997, 0.5, -1.5, 2.5], dtype="float32")
    iv = np.array([15, 25, -15, 7, 0])
    expected = [np.round(dv), np.round(dv), _half_away(dv), np.round(dv),
                _half_away(fv.astype("float64")).astype("float32"), np.round(dv, 2),
                np.round(dv, 1), np.round(dv, -1), np.round(iv, -1), iv]
    check(fns, expected, [dv, fv, iv])
    with pytest.raises(ValueError, match="mode"):
        T.round(d, mode="up")


# --------------------------------------------------------------------------- aliases


def test_aliases_are_the_table_ops():
    pairs = {"abs_": "abs", "sgn": "sign", "inv": "reciprocal", "square": "sqr",
             "power": "pow", "true_divide": "true_div", "floor_div": "int_div",
             "where": "switch", "fill": "second", "tensor_copy": "identity",
             "bitwise_not": "invert", "bitwise_and": "and_", "bitwise_or": "or_",
             "bitwise_xor": "xor"}
    for alias, name in pairs.items():
        assert getattr(T, alias).__name__ == name, alias
    x = T.dmatrix()
    filled = T.fill(x, 2)  # Theano's fill(model, value): value broadcast to model's shape
    assert filled.dtype == "float64" and filled.owner.op is T.ELEMENTWISE["second"]
    fns = compile_modes([x], [filled, T.tensor_copy(x), x.copy(), x.fill(-1.5)])
    a = np.arange(6.0).reshape(2, 3)
    check(fns, [np.full_like(a, 2), a, a, np.full_like(a, -1.5)], [a])


@pytest.mark.parametrize("floatx", ["float64", "float32"])
def test_python_floats_keep_float32(floatx, monkeypatch):
    monkeypatch.setattr(cgraph.config, "floatX", floatx)
    f = T.fvector()
    outs = [f * 0.1, T.maximum(f, 0.5), T.switch(f > 0, f, 0.0), T.clip(f, 0, 1.5),
            f.clip(-0.5, 0.5), T.round(f, decimals=1), 2.5 ** f, T.arctan2(f, 1.0),
            T.cast(f, "int32") / 2 if floatx == "float32" else f]
    assert [o.dtype for o in outs] == ["float32"] * len(outs)


# --------------------------------------------------------------------------- broadcasting

#: one compiled function per (broadcast patterns, dtype), reused by the Hypothesis examples.
_COMPILED: dict = {}
#: numpy twins of the expressions compiled for a pair of operands.
_BROADCAST_EXPRS = [
    lambda lib, x, y: x + y,
    lambda lib, x, y: x * y - y,
    lambda lib, x, y: lib.maximum(x, y),
    lambda lib, x, y: lib.where(x > y, x, y),
    lambda lib, x, y: (x < y),
]


def _broadcast_fn(sx: tuple, sy: tuple, dtype: str):
    """The function for operands of shapes like `sx` and `sy`: their length-1 axes are
    typed broadcastable (Theano's rule: only those stretch)."""
    px, py = (tuple(1 if n == 1 else None for n in s) for s in (sx, sy))
    key = (px, py, dtype)
    if key not in _COMPILED:
        x, y = T.tensor(dtype, shape=px), T.tensor(dtype, shape=py)
        outs = [e(T, x, y) for e in _BROADCAST_EXPRS]
        if dtype.startswith("float"):  # the gradient sums the broadcast axes back
            cost = T.sum(T.sin(x) * T.cos(y) * 3.0)
            outs += list(T.grad(cost, [x, y]))
        _COMPILED[key] = {m: cgraph.function([x, y], outs, mode=m) for m in MODES}
    return _COMPILED[key]


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: a common shape, then each operand's rank suffix with
    some axes set to 1 (lengths 0..3)."""
    ndim = draw(st.integers(0, 3))
    full = draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim))
    shapes = []
    for _ in range(2):
        rank = draw(st.integers(0, ndim))
        suffix = full[ndim - rank:]
        ones = draw(st.lists(st.booleans(), min_size=rank, max_size=rank))
        shapes.append(tuple(1 if o else n for n, o in zip(suffix, ones)))
    views = draw(st.lists(st.sampled_from(["plain", "reversed", "transposed"]),
                          min_size=2, max_size=2))
    return shapes, views, draw(st.sampled_from(["float64", "int32"]))


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """`g` summed back to `shape` (the numpy side of a broadcast operand's gradient)."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    axes = tuple(a for a, n in enumerate(shape) if n == 1 and g.shape[a] != 1)
    return g.sum(axis=axes, keepdims=True)


def _view(a: np.ndarray, how: str) -> np.ndarray:
    """`a`'s values in a strided layout: reversed (negative strides) or transposed."""
    if a.ndim == 0:
        return a
    if how == "reversed":
        return np.flip(np.flip(a).copy())
    if how == "transposed":
        return np.ascontiguousarray(a.T).T
    return a


@pytest.mark.slow
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(broadcast_pair())
def test_property_broadcasting_random_shapes(case):
    """Random broadcastable shapes (zero-length and length-1 axes, ranks 0-3, strided
    and reversed views): C and PY equal numpy, and gradients have the operand shapes."""
    (sx, sy), views, dtype = case
    rng = np.random.default_rng(len(sx) * 7 + len(sy))
    x = _view((rng.normal(size=sx) * 3).astype(dtype), views[0])
    y = _view((rng.normal(size=sy) * 3).astype(dtype), views[1])
    fns = _broadcast_fn(sx, sy, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [np.asarray(e(np, x, y)) for e in _BROADCAST_EXPRS]
    if dtype == "float64":
        expected += [unbroadcast(np.cos(x) * np.cos(y) * 3.0, sx),
                     unbroadcast(-np.sin(x) * np.sin(y) * 3.0, sy)]
    for mode, f in fns.items():
        for k, (got, want) in enumerate(zip(f(x, y), expected, strict=True)):
            assert got.dtype == want.dtype and got.shape == want.shape, (mode, k, sx, sy)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{mode} output {k} {sx} {sy} {views}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clip_with_nan_in_any_operand_equals_numpy(dtype):
    # cg_clip_nan computes max(x, lo) once; NaN in x, lo or hi gives NaN, as numpy's
    x, lo, hi = (T.vector(name, dtype=dtype) for name in ("x", "lo", "hi"))
    f = cgraph.function([x, lo, hi], T.clip(x, lo, hi))
    values = np.array([np.nan, -np.inf, -2.0, -0.0, 0.0, 0.5, 3.0, np.inf], dtype)
    a, b, c = (v.ravel() for v in np.meshgrid(values, values, values, indexing="ij"))
    with np.errstate(invalid="ignore"):
        want = np.minimum(np.maximum(a, b), c)
    got = f(a, b, c)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
