"""Shape and construction ops, compiled to C and in mode "PY", against numpy.

Each test compiles one function with many outputs (one per op) and calls it with
several layouts: contiguous, transposed, strided with a negative step, empty.
"""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad

MODES = ("C", "PY")

#: label -> (cgraph expression, numpy expression) of a matrix `x` and an int `n`.
MATRIX_OPS = {
    # numpy refuses -1 next to a zero length; cgraph gives the -1 axis length 0 there.
    "reshape(n,-1)": (lambda x, n: T.reshape(x, (n, -1)),
                      lambda x, n: x.reshape(n, -1) if x.size else x.reshape(n, 0)),
    "reshape(shape)": (lambda x, n: T.reshape(x, (x.shape[1], x.shape[0])),
                       lambda x, n: x.reshape(x.shape[1], x.shape[0])),
    "flatten": (lambda x, n: T.flatten(x), lambda x, n: x.ravel()),
    "flatten2": (lambda x, n: T.flatten(T.expand_dims(x, 0), 2),
                 lambda x, n: x[None].reshape(1, -1)),
    "alloc": (lambda x, n: T.alloc(x, n, x.shape[0], x.shape[1]),
              lambda x, n: np.broadcast_to(x, (n, *x.shape))),
    "zeros": (lambda x, n: T.zeros((n, 2), x.dtype), lambda x, n: np.zeros((n, 2), x.dtype)),
    "ones": (lambda x, n: T.ones(n, x.dtype), lambda x, n: np.ones(n, x.dtype)),
    "full": (lambda x, n: T.full((2, n), 3, x.dtype), lambda x, n: np.full((2, n), 3, x.dtype)),
    "tile": (lambda x, n: T.tile(x, (2, 1, 3)), lambda x, n: np.tile(x, (2, 1, 3))),
    "repeat": (lambda x, n: T.repeat(x, 2, axis=1), lambda x, n: np.repeat(x, 2, axis=1)),
    "repeat_flat": (lambda x, n: T.repeat(x, 3), lambda x, n: np.repeat(x, 3)),
    "roll0": (lambda x, n: T.roll(x, 1, axis=0), lambda x, n: np.roll(x, 1, axis=0)),
    "roll_n": (lambda x, n: T.roll(x, -n, axis=1), lambda x, n: np.roll(x, -n, axis=1)),
    "roll_flat": (lambda x, n: T.roll(x, n), lambda x, n: np.roll(x, n)),
    "transpose": (lambda x, n: T.transpose(x, (1, 0)), lambda x, n: x.transpose(1, 0)),
    "swapaxes": (lambda x, n: T.swapaxes(x, 0, -1), lambda x, n: np.swapaxes(x, 0, -1)),
    "expand_dims": (lambda x, n: T.expand_dims(x, -1), lambda x, n: np.expand_dims(x, -1)),
    "squeeze": (lambda x, n: T.squeeze(T.expand_dims(x, 1)), lambda x, n: x),
    "stack": (lambda x, n: T.stack([x, x + x], 1), lambda x, n: np.stack([x, x + x], 1)),
    "concatenate": (lambda x, n: T.concatenate([x, x], 1), lambda x, n: np.concatenate([x, x], 1)),
    "cumsum0": (lambda x, n: T.cumsum(x, 0), lambda x, n: np.cumsum(x, 0)),
    "cumsum": (lambda x, n: T.cumsum(x), lambda x, n: np.cumsum(x)),
    "cumprod1": (lambda x, n: T.cumprod(x, 1), lambda x, n: np.cumprod(x, 1)),
    "diff": (lambda x, n: T.diff(x), lambda x, n: np.diff(x)),
    "diff2_0": (lambda x, n: T.diff(x, 2, 0), lambda x, n: np.diff(x, 2, 0)),
    "sort": (lambda x, n: T.sort(x), lambda x, n: np.sort(x)),
    "sort0": (lambda x, n: T.sort(x, 0), lambda x, n: np.sort(x, 0)),
    "sort_flat": (lambda x, n: T.sort(x, None), lambda x, n: np.sort(x, None)),
    "argsort": (lambda x, n: T.argsort(x), lambda x, n: np.argsort(x, kind="stable")),
    "argsort0": (lambda x, n: T.argsort(x, 0), lambda x, n: np.argsort(x, 0, kind="stable")),
    "split1": (lambda x, n: T.split(x, [1, x.shape[1] - 1], 2, 1)[1],
               lambda x, n: np.split(x, [1], 1)[1]),
    "split0": (lambda x, n: T.split(x, [x.shape[0] - n // 2, n // 2], 2, 0)[0],
               lambda x, n: np.split(x, [x.shape[0] - n // 2], 0)[0]),
    "eye": (lambda x, n: T.eye(n, 3, 1, x.dtype), lambda x, n: np.eye(n, 3, 1, dtype=x.dtype)),
    "identity_like": (lambda x, n: T.identity_like(x),
                      lambda x, n: np.eye(*x.shape, dtype=x.dtype)),
    "arange": (lambda x, n: T.arange(n), lambda x, n: np.arange(n)),
    "arange3": (lambda x, n: T.arange(1, 2 * n + 1, 2, dtype=x.dtype),
                lambda x, n: np.arange(1, 2 * n + 1, 2, dtype=x.dtype)),
}


def _layouts(dtype: str) -> dict[str, tuple[np.ndarray, int]]:
    rng = np.random.default_rng(0)
    base = (rng.normal(size=(4, 6)) * 5).astype(dtype)
    base[1, 2] = base[1, 4]  # ties: argsort must be stable
    if dtype.startswith("float"):
        base[2, 3] = np.nan  # NaNs sort last
    return {"contiguous": (base, 4), "transposed": (base.T, 3),
            "strided": (base[::2, ::-1], 2), "empty": (np.zeros((0, 3), dtype), 0)}


def _check(actual, expected, label):
    assert actual.dtype == expected.dtype, f"{label}: dtype {actual.dtype} vs {expected.dtype}"
    assert actual.shape == expected.shape, f"{label}: shape {actual.shape} vs {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=1e-6, equal_nan=True, err_msg=label)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_matrix_ops_against_numpy(dtype):
    x, n = T.matrix("x", dtype=dtype), T.lscalar("n")
    labels = list(MATRIX_OPS)
    outputs = [MATRIX_OPS[k][0](x, n) for k in labels]
    fns = {m: cgraph.function([x, n], outputs, mode=m) for m in MODES}
    for layout, (data, k) in _layouts(dtype).items():
        with np.errstate(all="ignore"):
            expected = [np.asarray(MATRIX_OPS[lab][1](data, k)) for lab in labels]
        for mode, f in fns.items():
            for lab, out, exp in zip(labels, f(data, k), expected):
                _check(out, exp, f"{mode} {dtype} {lab} [{layout}]")


@pytest.mark.parametrize("mode", MODES)
def test_zero_d_and_vectors(mode):
    s, v = T.dscalar("s"), T.dvector("v")
    outs = [T.reshape(s, (1, 1)), T.flatten(s), T.alloc(s, 2, 3), T.expand_dims(s, 0),
            T.reshape(T.reshape(s, (1,)), ()), T.cumsum(s),
            T.sort(v), T.tile(s, 3), T.repeat(s, 2)]
    f = cgraph.function([s, v], outs, mode=mode)
    sv, vv = 2.5, np.array([3.0, np.nan, -1.0, 3.0])
    expected = [np.reshape(sv, (1, 1)), np.reshape(sv, -1), np.full((2, 3), sv),
                np.expand_dims(sv, 0), np.asarray(sv), np.cumsum(sv), np.sort(vv),
                np.tile(sv, 3), np.repeat(sv, 2)]
    for i, (out, exp) in enumerate(zip(f(sv, vv), expected)):
        _check(out, np.asarray(exp), f"{mode} output {i}")


GRADS = {
    "reshape": lambda v: T.reshape(v, (2, -1)),
    "flatten": lambda v: T.flatten(v),
    "tile": lambda v: T.tile(v, (2, 1, 3)),
    "repeat": lambda v: T.repeat(v, 3, 0),
    "roll": lambda v: T.roll(v, -1, 1),
    "alloc": lambda v: T.alloc(v, 2, 3, 4),
    "alloc_scalar": lambda v: T.alloc(v.sum(), 2, 3),
    "cumsum": lambda v: T.cumsum(v, 0),
    "cumprod": lambda v: T.cumprod(v, 1),
    "diff": lambda v: T.diff(v, 2, 1),
    "sort": lambda v: T.sort(v, 0),
    "views": lambda v: (T.stack([v, v * 2], 1) + T.swapaxes(T.expand_dims(v, 0), 0, 1)
                        + T.squeeze(T.expand_dims(v, 1), 1).dimshuffle(0, "x", 1)),
    "split": lambda v: T.split(v, [1, 3], 2, 1)[1] * 2 + T.split(v, [3, 1], 2, 1)[0],
    "concatenate": lambda v: T.concatenate([v, v * 3], 0),
}


@pytest.mark.parametrize("name", list(GRADS))
def test_gradients(name):
    # cumprod's gradient divides by the input: keep it away from zero.
    point = np.random.default_rng(1).uniform(0.5, 2.0, size=(3, 4))
    verify_grad(GRADS[name], [point])


@pytest.mark.parametrize("mode", MODES)
def test_runtime_errors(mode):
    x, n = T.dmatrix("x"), T.lscalar("n")
    f = cgraph.function([x, n], T.reshape(x, (n, -1)), mode=mode)
    with pytest.raises(ValueError, match="cannot reshape an array of shape"):
        f(np.zeros((2, 3)), 4)
    h = cgraph.function([x, n], T.split(x, [n, 1], 2, 1)[0], mode=mode)
    with pytest.raises(ValueError, match="do not add up to the axis length 3"):
        h(np.zeros((2, 3)), 1)
    g = cgraph.function([n], T.arange(0, 5, n), mode=mode)
    with pytest.raises(ValueError, match="step must not be zero"):
        g(0)


def test_build_errors():
    x = T.tensor("float64", (2, 3))
    with pytest.raises(ValueError, match="cannot reshape an array of shape"):
        T.reshape(x, (4, -1))
    with pytest.raises(ValueError, match="out of range"):
        T.cumsum(x, 2)
    with pytest.raises(ValueError, match="out of range"):
        T.swapaxes(x, 0, 3)
    with pytest.raises(ValueError, match="not known to have length 1"):
        T.squeeze(x, 0)
    with pytest.raises(ValueError, match="out of range"):
        T.sort(x, -3)
