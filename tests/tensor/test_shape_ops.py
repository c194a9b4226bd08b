"""Shape and construction ops, compiled to C and in mode "PY", against numpy.

Each test compiles one function with many outputs (one per op) and calls it with
several layouts: contiguous, transposed, strided with a negative step, empty.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from helpers import MODES, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import csrc_dir

RNG = np.random.default_rng(11)

#: label -> (cgraph expression, numpy expression) of a matrix `x` and an int `n`.
MATRIX_OPS = {
    # (-1 next to a zero length is refused, as numpy does: tests/codegen/test_sizes.py)
    "reshape(-1,2m)": (lambda x, n: T.reshape(x, (-1, 2 * x.shape[1])),
                       lambda x, n: x.reshape(-1, 2 * x.shape[1])),
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
    # symbolic counts, tuples of axes, Theano's spellings
    "repeat(n)": (lambda x, n: T.repeat(x, n, axis=0), lambda x, n: np.repeat(x, n, axis=0)),
    "x.repeat(n, -1)": (lambda x, n: x.repeat(n, -1), lambda x, n: np.repeat(x, n, -1)),
    "tile((n, 2))": (lambda x, n: T.tile(x, (n, 2)), lambda x, n: np.tile(x, (n, 2))),
    "roll((1, -n), (0, 1))": (lambda x, n: T.roll(x, (1, -n), axis=(0, 1)),
                              lambda x, n: np.roll(x, (1, -n), axis=(0, 1))),
    "roll(2, (0, 1))": (lambda x, n: T.roll(x, 2, axis=(0, 1)),
                        lambda x, n: np.roll(x, 2, axis=(0, 1))),
    "expand_dims((0, 3))": (lambda x, n: T.expand_dims(x, (0, 3)),
                            lambda x, n: np.expand_dims(x, (0, 3))),
    "expand_dims((-1, 1))": (lambda x, n: T.expand_dims(x, (-1, 1)),
                             lambda x, n: np.expand_dims(x, (-1, 1))),
    "stack(x, x) (Theano)": (lambda x, n: T.stack(x, x), lambda x, n: np.stack([x, x])),
    "stack([x, x], -1)": (lambda x, n: T.stack([x, x], -1), lambda x, n: np.stack([x, x], -1)),
    "shape_padleft": (lambda x, n: T.shape_padleft(x, 2), lambda x, n: x[None, None]),
    "shape_padright": (lambda x, n: T.shape_padright(x), lambda x, n: x[..., None]),
    "shape_padaxis": (lambda x, n: T.shape_padaxis(x, 1), lambda x, n: x[:, None]),
    "full_like": (lambda x, n: T.full_like(x, 3), lambda x, n: np.full_like(x, 3)),
    "zeros_like": (lambda x, n: T.zeros_like(x), lambda x, n: np.zeros_like(x)),
    "ones_like(int8)": (lambda x, n: T.ones_like(x, "int8"), lambda x, n: np.ones_like(x, "int8")),
    "x.ravel()": (lambda x, n: x.ravel(), lambda x, n: x.ravel()),
    "diagonal": (lambda x, n: T.diagonal(x), lambda x, n: np.diagonal(x).copy()),
    "x.diagonal(1)": (lambda x, n: x.diagonal(1), lambda x, n: np.diagonal(x, 1).copy()),
    "diagonal(-1, 1, 0)": (lambda x, n: T.diagonal(x, -1, 1, 0),
                           lambda x, n: np.diagonal(x, -1, 1, 0).copy()),
    "x.trace()": (lambda x, n: x.trace(), lambda x, n: np.trace(x)),
    "trace(-2)": (lambda x, n: T.trace(x, -2), lambda x, n: np.trace(x, -2)),
    "diag(matrix)": (lambda x, n: T.diag(x, 1), lambda x, n: np.diag(x, 1)),
    "diag(vector)": (lambda x, n: T.diag(x.ravel(), -1), lambda x, n: np.diag(x.ravel(), -1)),
    "x.copy()": (lambda x, n: x.copy(), lambda x, n: x.copy()),
    "x.squeeze()": (lambda x, n: T.shape_padleft(x).squeeze(), lambda x, n: x),
    # x.shape: a vector, and a tuple of scalars while building
    "x.shape": (lambda x, n: x.shape, lambda x, n: np.array(x.shape)),
    "T.shape(x) * 2": (lambda x, n: T.shape(x) * 2, lambda x, n: np.array(x.shape) * 2),
    "x.size": (lambda x, n: x.size, lambda x, n: np.int64(x.size)),
    "zeros(x.shape)": (lambda x, n: T.zeros(x.shape, x.dtype), lambda x, n: np.zeros_like(x)),
    "ones(x.shape[::-1])": (lambda x, n: T.ones(x.shape[::-1]),
                            lambda x, n: np.ones(x.shape[::-1])),
    "x.reshape((-1, x.shape[1]))": (lambda x, n: x.reshape((-1, x.shape[1])),
                                    lambda x, n: x.reshape(-1, x.shape[1])),
    "x.reshape(x.shape)": (lambda x, n: x.T.reshape(x.T.shape), lambda x, n: x.T),
    "arange(x.shape[0])": (lambda x, n: T.arange(x.shape[0]),
                           lambda x, n: np.arange(x.shape[0])),
    "unpacked x.shape": (lambda x, n: T.alloc(x.dtype == "int64", *x.shape),
                         lambda x, n: np.full(x.shape, x.dtype == "int64")),
    "reshape(stack(shape))": (lambda x, n: T.reshape(x, T.stack([x.shape[1], x.shape[0]])),
                              lambda x, n: x.reshape(x.shape[1], x.shape[0])),
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


@pytest.mark.slow
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


GRADS.update({
    "repeat(symbolic)": lambda v: T.repeat(v, v.shape[0] - 1, 1),
    "tile(symbolic)": lambda v: T.tile(v, (v.shape[0] - 1, 2)),
    "roll(tuple)": lambda v: T.roll(v, (1, 2), axis=(0, 1)),
    "expand_dims(tuple)": lambda v: T.expand_dims(v, (0, 2)) * 2,
    "squeeze(runtime axis)": lambda v: T.squeeze(T.reshape(v, (T.shape(v)[0] // 3, -1)), 0),
    "full_like, pads": lambda v: T.full_like(v, 2.0) * T.shape_padleft(v)[0]
                                + T.shape_padright(v)[:, :, 0],
    "reshape(shape vector)": lambda v: T.reshape(v, v.shape[::-1]),
    "diagonal, trace": lambda v: T.diagonal(v, 1) * 2 + T.trace(v) + v.T.diagonal(-1),
    "diag(vector)": lambda v: T.diag(v.ravel(), 2),
})


@pytest.mark.slow
def test_gradients():
    # cumprod's gradient divides by the input: keep it away from zero.
    point = np.random.default_rng(1).uniform(0.5, 2.0, size=(3, 4))
    verify_grad_cases({name: (fn, [point]) for name, fn in GRADS.items()})  # one module


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
    with pytest.raises(ValueError, match="its length is 2, not 1"):
        T.squeeze(x, 0)
    with pytest.raises(ValueError, match="out of range"):
        T.sort(x, -3)


@pytest.mark.parametrize("mode", MODES)
def test_runtime_checked_shapes(mode):
    """squeeze of an axis of unknown length, and reshape to an int vector of unknown
    length: fine when the call's values fit, a clear ValueError otherwise."""
    x, target = T.dmatrix("x"), T.lvector("target")
    f = cgraph.function([x, target], [T.squeeze(x, 0), x.squeeze(axis=(0,)),
                                      T.reshape(x, target, ndim=2)], mode=mode)
    a = np.arange(4.0).reshape(1, 4)
    got = f(a, np.array([2, -1]))
    for out, exp in zip(got, [a[0], a[0], a.reshape(2, 2)]):
        _check(out, exp, mode)
    with pytest.raises(ValueError, match="axis 0 of shape \\(2, 2\\) is not 1"):
        f(a.reshape(2, 2), np.array([2, 2]))
    with pytest.raises(ValueError, match="has 3 entries for a reshape to 2 axes"):
        f(a, np.array([1, 2, 2]))


def test_shape_is_a_vector_that_reads_like_a_tuple():
    x, s = T.tensor("float64", (3, None, 4)), T.dscalar()
    assert x.shape.type == T.TensorType("int64", (3,)) and len(x.shape) == 3
    assert x.shape[0].data == 3 and x.shape[-1].data == 4  # static lengths are constants
    assert x.shape[1].owner is not None and len(x.shape[1:]) == 2
    n, m, k = x.shape
    assert m is not n and (n.data, k.data) == (3, 4)
    assert len(s.shape) == 0 and s.size.data == 1
    assert T.shape_i(x, 1) is not None and T.shape_i(x, -1).data == 4
    assert T.drow().broadcastable == (True, False) and x.broadcastable == (False,) * 3
    with pytest.raises(IndexError):
        x.shape[3]
    for mode in MODES:
        f = cgraph.function([x], [x.shape, T.shape(x)[1], x.shape[1:][0] * 2], mode=mode)
        shape, middle, twice = f(np.zeros((3, 5, 4)))
        assert shape.dtype == np.int64 and shape.tolist() == [3, 5, 4]
        assert middle == 5 and twice == 10


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_repeat_with_a_count_per_element(mode):
    x, counts = T.dmatrix("x"), T.lvector("counts")
    outs = [T.repeat(x, counts, axis=0), T.repeat(x, [1, 0, 3], axis=1),
            T.repeat(x, counts[:1].repeat(6)), x.repeat(counts, axis=-2)]
    f = cgraph.function([x, counts], outs, mode=mode)
    a = np.arange(6.0).reshape(2, 3)
    for c in (np.array([2, 3]), np.array([0, 1]), np.array([0, 0])):
        want = [np.repeat(a, c, axis=0), np.repeat(a, [1, 0, 3], axis=1),
                np.repeat(a, np.full(6, c[0])), np.repeat(a, c, axis=-2)]
        for got, ref in zip(f(a, c), want):
            assert got.shape == ref.shape
            np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError, match="one count per element"):
        f(a, np.array([1, 2, 3]))
    verify_grad_cases({"repeat": (lambda v: T.repeat(v, np.array([2, 0, 1]), axis=1) ** 2,
                                  [RNG.standard_normal((2, 3))])}, mode)


def test_construction_errors_are_clear():
    with pytest.raises(ValueError, match="3 counts for an axis of length 2"):
        T.repeat(T.tensor("float64", shape=(2,)), [1, 2, 0], axis=0)
    with pytest.raises(ValueError, match="negative count"):
        T.tile(T.dvector(), -1)
    with pytest.raises(ValueError, match="repeated axis"):
        T.expand_dims(T.dvector(), (0, -3))
    with pytest.raises(ValueError, match="2 shifts for axes"):
        T.roll(T.dmatrix(), (1, 2), axis=(0, 1, 1))
    with pytest.raises(TypeError, match="expected integer scalars"):
        T.repeat(T.dvector(), T.dscalar())
    with pytest.raises(ValueError, match="ndim=3 for a shape vector of length 2"):
        T.reshape(T.dmatrix(), T.stack(T.dmatrix().shape), ndim=3)


def test_generated_c_is_warning_free(tmp_path):
    """The kernels of this file's ops (shape vectors of every rank, strided copies with
    symbolic counts, diagonal views and their scatter) compile with -Wall -Wextra."""
    x, s, n = T.dmatrix("x"), T.dscalar("s"), T.lscalar("n")
    f = cgraph.function([x, s, n], [x.shape, s.shape, T.shape(x) * 2, T.tile(x, (n, 1)),
                                    T.repeat(x, n, 0), T.diag(x.ravel()), x.diagonal(1),
                                    T.grad(x.trace() + s, [x, s])[0], T.squeeze(x, 0),
                                    T.eye(n, 3, 1), T.arange(n)])
    source = tmp_path / "shape_ops.c"
    source.write_text(f.c_source)
    # -Wno-unused-variable: the entry function names every input, also those whose shape
    # alone is read (x for x.shape); the kernels' parameters are all checked.
    subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                    "-Werror", "-Wno-unused-variable", f"-I{csrc_dir()}", str(source)],
                   check=True)


@pytest.mark.parametrize("build", [
    lambda m: T.cumsum(m, 1.5), lambda m: T.sort(m, 0.0), lambda m: T.expand_dims(m, 1.0),
    lambda m: T.squeeze(m, 0.5), lambda m: T.swapaxes(m, 0.0, 1),
    lambda m: T.concatenate([m, m], 1.0), lambda m: T.stack([m, m], 1.0),
    lambda m: T.split(m, [1, 1], 2, 1.0), lambda m: T.repeat(m, 2, 1.0),
    lambda m: T.roll(m, 1, 1.0), lambda m: T.diagonal(m, 0, 0.0, 1),
    lambda m: m.transpose(1.0, 0), lambda m: T.diff(m, 1, 0.5), lambda m: T.sum(m, 1.0),
    lambda m: T.nnet.softmax(m, 1.0)], ids=lambda f: "")
def test_non_integer_axes_raise_type_error_when_built(build):
    with pytest.raises(TypeError, match="axis|pattern"):
        build(T.dmatrix())
