"""Indexing (`x[...]`, set_subtensor, inc_subtensor), compiled to C and in mode "PY",
against numpy.

Each table holds (description, index expression) pairs; one expression serves both
sides: it is applied to symbolic inputs (x, i, j, v, w, m) and to their numpy values.
One compiled function computes every row of a table, so few modules are built.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from helpers import MODES, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import csrc_dir
from cgraph.gradient import verify_grad

DTYPES = ("float64", "float32", "int32")

#: values of the index inputs: i, j (int64 scalars), v (int64 vector), w (int32 matrix),
#: m (a bool mask of x's first axis); x has shape (4, 5, 6).
I, J = 1, -2
V = np.array([0, -1, 2, 2])
W = np.array([[1, 0], [3, -4]], dtype="int32")
M = np.array([True, False, True, True])

GETITEM = [
    ("int", lambda x, i, j, v, w, m: x[1]),
    ("negative int", lambda x, i, j, v, w, m: x[-1]),
    ("two ints", lambda x, i, j, v, w, m: x[2, -3]),
    ("all ints (0-d)", lambda x, i, j, v, w, m: x[1, 2, -1]),
    ("slice", lambda x, i, j, v, w, m: x[1:3]),
    ("slice with step", lambda x, i, j, v, w, m: x[::2]),
    ("negative step", lambda x, i, j, v, w, m: x[::-1]),
    ("negative step with bounds", lambda x, i, j, v, w, m: x[3:0:-2]),
    ("clipped bounds", lambda x, i, j, v, w, m: x[-10:10, 4:100]),
    ("empty slice", lambda x, i, j, v, w, m: x[3:1]),
    ("inner slices", lambda x, i, j, v, w, m: x[:, 1:4, ::-3]),
    ("new axes", lambda x, i, j, v, w, m: x[None, :, np.newaxis, 1]),
    ("ellipsis", lambda x, i, j, v, w, m: x[..., 2]),
    ("ellipsis in the middle", lambda x, i, j, v, w, m: x[1, ..., ::2]),
    ("symbolic int", lambda x, i, j, v, w, m: x[i]),
    ("symbolic negative int", lambda x, i, j, v, w, m: x[:, j]),
    ("symbolic slice", lambda x, i, j, v, w, m: x[i:j]),
    ("symbolic step", lambda x, i, j, v, w, m: x[::j, i::i]),
    ("symbolic arithmetic", lambda x, i, j, v, w, m: x[i, j:, i:i + 2]),
    ("chained views", lambda x, i, j, v, w, m: x[::-1][1:, ::2][:, None, 0]),
    ("view of a transpose", lambda x, i, j, v, w, m: x.transpose(2, 0, 1)[1:, ::-1]),
    ("int vector", lambda x, i, j, v, w, m: x[v]),
    ("int32 matrix", lambda x, i, j, v, w, m: x[w]),
    ("inner axis", lambda x, i, j, v, w, m: x[:, v]),
    ("last axis", lambda x, i, j, v, w, m: x[..., v]),
    ("two arrays", lambda x, i, j, v, w, m: x[v, v[::-1]]),
    ("broadcast arrays", lambda x, i, j, v, w, m: x[w[:, :1], v[:2]]),
    ("array and int", lambda x, i, j, v, w, m: x[v, 1]),
    ("array and symbolic int", lambda x, i, j, v, w, m: x[v, :, i]),
    ("int, slice, array (not adjacent)", lambda x, i, j, v, w, m: x[1, :, v]),
    ("array, slice, array", lambda x, i, j, v, w, m: x[v, :, v]),
    ("empty ellipsis between arrays", lambda x, i, j, v, w, m: x[:, v, ..., v]),
    ("slice then array", lambda x, i, j, v, w, m: x[1:3, v]),
    ("negative step then array", lambda x, i, j, v, w, m: x[::-1, w]),
    ("new axis then array", lambda x, i, j, v, w, m: x[None, v]),
    ("array of a transpose", lambda x, i, j, v, w, m: x.T[v]),
    ("empty index array", lambda x, i, j, v, w, m: x[v[:0]]),
    ("list of ints", lambda x, i, j, v, w, m: x[[3, 0, 0]]),
    ("mask of the first axis", lambda x, i, j, v, w, m: x[m]),
    ("mask from the data", lambda x, i, j, v, w, m: x[x > 0]),
    ("2-d mask", lambda x, i, j, v, w, m: x[x[:, :, 0] > 0]),
    ("inner mask", lambda x, i, j, v, w, m: x[:, x[0, :, 0] > 0]),
    ("mask and array", lambda x, i, j, v, w, m: x[m, 1:, v[:1]]),
    ("empty mask", lambda x, i, j, v, w, m: x[x > 1000]),
    ("0-d True", lambda x, i, j, v, w, m: x[True]),
    ("0-d False", lambda x, i, j, v, w, m: x[False]),
    ("numpy 0-d bool", lambda x, i, j, v, w, m: x[np.bool_(True), 1:]),
    ("0-d bool array", lambda x, i, j, v, w, m: x[..., np.array(False)]),
    ("symbolic 0-d bools", lambda x, i, j, v, w, m: x[m[0], :, m[1]]),
    ("0-d bool and int (not adjacent)", lambda x, i, j, v, w, m: x[1, :, True]),
    ("0-d bool and array", lambda x, i, j, v, w, m: x[v, True]),
    ("two 0-d bools", lambda x, i, j, v, w, m: x[True, 1:, m[2]]),
]

#: (description, target, value): set_subtensor(target, value) and inc_subtensor; the
#: target indexes x itself (its index is replayed on numpy through `_Recorder`).
SETITEM = [
    ("int", lambda x, i, j, v, w, m: x[1], lambda x, i, j, v, w, m: x[2] * 2 + 1),
    ("scalar value", lambda x, i, j, v, w, m: x[1:3, ::-2], lambda x, i, j, v, w, m: 7),
    ("broadcast row", lambda x, i, j, v, w, m: x[:, 1:4], lambda x, i, j, v, w, m: x[0, 0]),
    ("negative step", lambda x, i, j, v, w, m: x[::-1, j],
     lambda x, i, j, v, w, m: x[0, 0] - 1),
    ("new axis", lambda x, i, j, v, w, m: x[None, i, 1:],
     lambda x, i, j, v, w, m: x[1, 1:][None] * 3),
    ("symbolic slice", lambda x, i, j, v, w, m: x[i:j, ::i], lambda x, i, j, v, w, m: 5),
    ("empty region", lambda x, i, j, v, w, m: x[3:1], lambda x, i, j, v, w, m: 5),
    ("repeated indices", lambda x, i, j, v, w, m: x[v], lambda x, i, j, v, w, m: x[0] + 1),
    ("matrix of indices", lambda x, i, j, v, w, m: x[w], lambda x, i, j, v, w, m: x[1, :, :1]),
    ("inner axis", lambda x, i, j, v, w, m: x[:, v], lambda x, i, j, v, w, m: x[:, :1] * 2),
    ("two arrays, repeated", lambda x, i, j, v, w, m: x[v, v[::-1]],
     lambda x, i, j, v, w, m: x[0, 0] + 3),
    ("not adjacent", lambda x, i, j, v, w, m: x[1, :, v], lambda x, i, j, v, w, m: 2),
    ("mask", lambda x, i, j, v, w, m: x[m], lambda x, i, j, v, w, m: -1),
    ("mask and array", lambda x, i, j, v, w, m: x[m, :, v[:1]],
     lambda x, i, j, v, w, m: x[0, :, 0]),
    ("leading length-1 axes", lambda x, i, j, v, w, m: x[1:3],
     lambda x, i, j, v, w, m: x[None, 2:, ::-1][:, :2] * 2),
    ("leading axes, repeated", lambda x, i, j, v, w, m: x[v, 1],
     lambda x, i, j, v, w, m: x[None, None, :1, 0] - 1),
    ("0-d True", lambda x, i, j, v, w, m: x[True], lambda x, i, j, v, w, m: x[2]),
    ("0-d False", lambda x, i, j, v, w, m: x[False], lambda x, i, j, v, w, m: 5),
    ("0-d True and int", lambda x, i, j, v, w, m: x[:, True, i],
     lambda x, i, j, v, w, m: x[0, :1]),
    ("0-d bools and array", lambda x, i, j, v, w, m: x[np.bool_(True), v, ..., True],
     lambda x, i, j, v, w, m: x[0, :, :1]),
]


def _inputs(dtype: str):
    x = T.tensor(dtype, (None, None, None), "x")
    return x, T.lscalar("i"), T.lscalar("j"), T.lvector("v"), T.imatrix("w"), T.bvector("m")


def _symbolic_args(x, i, j, v, w, m):
    return x, i, j, v, w, T.cast(m, "bool")


def _layouts(dtype: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    base = (rng.normal(size=(4, 5, 6)) * 10).astype(dtype)
    big = (rng.normal(size=(8, 5, 12)) * 10).astype(dtype)
    return {"contiguous": base, "strided": big[::2, :, ::-2],
            "fortran": np.asfortranarray(base)}


def _check(actual, expected, label):
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{label}: dtype {actual.dtype} vs {expected.dtype}"
    assert actual.shape == expected.shape, f"{label}: shape {actual.shape} vs {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=1e-6, err_msg=label)


def _numpy_set(x, index, value, inc: bool) -> np.ndarray:
    """numpy's result of set/inc_subtensor of x[index]."""
    out = x.copy()
    if inc:
        np.add.at(out, index, _drop_leading_ones(value, out[index].ndim))
    else:
        out[index] = value
    return out


def _drop_leading_ones(value, ndim: int) -> np.ndarray:
    """What numpy's assignment does to a value of more axes (np.add.at does not)."""
    value = np.asarray(value)
    extra = max(value.ndim - ndim, 0)
    assert value.shape[:extra] == (1,) * extra
    return value.reshape(value.shape[extra:])


class _Recorder:
    """`r[key]` returns key: recovers the numpy index of a table row."""

    def __getitem__(self, key):
        return key


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_getitem_against_numpy(dtype):
    sym = _inputs(dtype)
    args = _symbolic_args(*sym)
    outputs = [fn(*args) for _, fn in GETITEM]
    fns = {mode: cgraph.function(list(sym), outputs, mode=mode) for mode in MODES}
    for layout, data in _layouts(dtype).items():
        expected = [np.asarray(fn(data, I, J, V, W, M)) for _, fn in GETITEM]
        for mode, f in fns.items():
            got = f(data, I, J, V, W, M.astype("int8"))
            for (label, _), out, exp in zip(GETITEM, got, expected):
                _check(out, exp, f"{mode} {dtype} {label} [{layout}]")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_set_and_inc_subtensor_against_numpy(dtype):
    sym = _inputs(dtype)
    args = _symbolic_args(*sym)
    outputs = []
    for _, target, value in SETITEM:
        outputs += [T.set_subtensor(target(*args), value(*args)),
                    T.inc_subtensor(target(*args), value(*args))]
    fns = {mode: cgraph.function(list(sym), outputs, mode=mode, on_unused_input="ignore")
           for mode in MODES}
    for layout, data in _layouts(dtype).items():
        expected = []
        for _, target, value in SETITEM:
            index = target(_Recorder(), I, J, V, W, M)
            y = np.asarray(value(data, I, J, V, W, M)).astype(dtype)
            expected += [_numpy_set(data, index, y, False), _numpy_set(data, index, y, True)]
        for mode, f in fns.items():
            got = f(data, I, J, V, W, M.astype("int8"))
            for k, (out, exp) in enumerate(zip(got, expected)):
                label = f"{mode} {dtype} {SETITEM[k // 2][0]} {'inc' if k % 2 else 'set'}"
                _check(out, exp, f"{label} [{layout}]")


#: (description, chain, key, value): set/inc_subtensor(chain(x)[key], value) update all
#: of x, as numpy's assignment through the views chain(x) does.
NESTED = [
    ("int of a slice", lambda x, i, v: x[1:], lambda i, v: 0, lambda x, i, v: x[0, 0] * 2),
    ("slice of a step", lambda x, i, v: x[::2], lambda i, v: slice(1, 3),
     lambda x, i, v: x[1:2] + 1),
    ("three views", lambda x, i, v: x[::-1, 1:][:, ::2], lambda i, v: (i, slice(None), -1),
     lambda x, i, v: 3),
    ("array after views", lambda x, i, v: x[1:, :, ::-1][:, 1:], lambda i, v: v[:3],
     lambda x, i, v: x[0, 0, :]),
    ("0-d bool after a view", lambda x, i, v: x[:, i], lambda i, v: True,
     lambda x, i, v: x[0, 0][None] - 1),
]


@pytest.mark.parametrize("mode", MODES)
def test_nested_targets_update_the_whole_tensor(mode):
    x, i, v = T.dtensor3("x"), T.lscalar("i"), T.lvector("v")
    outputs = []
    for _, chain, key, value in NESTED:
        target = chain(x, i, v)[key(i, v)]
        outputs += [T.set_subtensor(target, value(x, i, v)),
                    T.inc_subtensor(target, value(x, i, v))]
    f = cgraph.function([x, i, v], outputs, mode=mode)
    data = _layouts("float64")["contiguous"]
    got = f(data, I, V)
    for k, (label, chain, key, value) in enumerate(NESTED):
        y = np.asarray(value(data, I, V), dtype="float64")
        for inc, out in zip([False, True], got[2 * k:2 * k + 2]):
            expected = data.copy()
            view = chain(expected, I, V)  # a numpy view: writing it writes expected
            if inc:
                np.add.at(view, key(I, V), _drop_leading_ones(y, view[key(I, V)].ndim))
            else:
                view[key(I, V)] = y
            _check(out, expected, f"{mode} {label} {'inc' if inc else 'set'}")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_gradients_of_nested_targets(mode):
    rng = np.random.default_rng(5)
    x0, y0 = rng.normal(size=(5, 3)), rng.normal(size=(2, 3))

    def fun(x, y):
        return _rows(T.set_subtensor(x[1:][0], y[0]), T.inc_subtensor(x[::2][1:3], y),
                     T.set_subtensor(x[::-1][[0, 0], 1:], y[:, 1:]),
                     T.inc_subtensor(x[1:, ::2][True], y[:1, :2]))

    verify_grad_cases({"nested targets": (fun, [x0, y0])}, mode)


def test_repeated_indices_accumulate_like_add_at():
    x, idx, y = T.dvector("x"), T.imatrix("idx"), T.dmatrix("y")
    f = cgraph.function([x, idx, y], [T.inc_subtensor(x[idx], y),
                                      T.inc_subtensor(x[idx], 1.0),
                                      T.set_subtensor(x[idx], 2.0)])
    rng = np.random.default_rng(2)
    xv = rng.normal(size=5)
    iv = np.array([[0, 0, 4], [-1, 0, 2]], dtype="int32")  # 0 three times, 4 twice
    yv = rng.normal(size=(2, 3))
    added, counted, written = f(xv, iv, yv)
    expected = xv.copy()
    np.add.at(expected, iv, yv)
    np.testing.assert_allclose(added, expected)
    np.testing.assert_allclose(counted - xv, np.bincount(iv.ravel() % 5, minlength=5))
    np.testing.assert_allclose(written, np.where(np.isin(np.arange(5), iv % 5), 2.0, xv))


@pytest.mark.parametrize("mode", MODES)
def test_symbolic_indices_follow_each_call(mode):
    x, i, j = T.dmatrix("x"), T.lscalar("i"), T.lscalar("j")
    f = cgraph.function([x, i, j], [x[i], x[i:j, ::j], x[:, i:]], mode=mode)
    data = np.arange(20.0).reshape(4, 5)
    for iv, jv in [(0, 1), (3, -1), (-4, 2), (2, 2), (1, -3), (0, 5)]:
        for out, exp in zip(f(data, iv, jv), [data[iv], data[iv:jv, ::jv], data[:, iv:]]):
            _check(out, exp, f"{mode} i={iv} j={jv}")


def test_basic_indexing_is_a_view():
    x, i = T.dmatrix("x"), T.lscalar("i")
    f = cgraph.function([x, i], x[::-1, i][None] * 2.0)
    steps = f._lowered.program.steps
    assert [s.kernel.family for s in steps] == ["elementwise"]
    assert any(d.kind == "view" for d in f._lowered.program.decls)
    data = np.arange(12.0).reshape(3, 4)
    _check(f(data, -1), data[::-1, -1][None] * 2, "view")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_out_of_range_errors(mode):
    x, i, v = T.dmatrix("x"), T.lscalar("i"), T.lvector("v")
    data = np.zeros((3, 4))
    f = cgraph.function([x, i], x[:, i], mode=mode)
    with pytest.raises(IndexError, match=r"index 4 is out of bounds for axis 1 with size 4 "
                                         r"\(indexing an array of shape \(3, 4\)\)"):
        f(data, 4)
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 1 with size 4"):
        f(data, -5)
    g = cgraph.function([x, v], [x[v], x[1:, v]], mode=mode)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        g(data, np.array([0, 3]))
    with pytest.raises(IndexError, match="index -4 is out of bounds for axis 0 with size 3"):
        g(data, np.array([-4, 0, 1]))
    h = cgraph.function([x, v], T.inc_subtensor(x[:, v], 1.0), mode=mode)
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 1 with size 4"):
        h(data, np.array([9]))
    u = T.tensor("uint8", (None,), "u")
    k = cgraph.function([x, u], x[u], mode=mode)
    with pytest.raises(IndexError, match="index 200 is out of bounds for axis 0 with size 3"):
        k(data, np.array([200], dtype="uint8"))
    _check(k(data + 1, np.array([2, 0], dtype="uint8")), np.ones((2, 4)), "uint8 index")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_other_runtime_errors(mode):
    x, i, b, y = T.dmatrix("x"), T.lscalar("i"), T.bvector("b"), T.dvector("y")
    data = np.zeros((3, 4))
    f = cgraph.function([x, i], x[::i], mode=mode)
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        f(data, 0)
    g = cgraph.function([x, b], x[T.cast(b, "bool")], mode=mode)
    with pytest.raises(IndexError, match="boolean index did not match indexed array along "
                                         "axis 0; size of axis is 3 but size of corresponding "
                                         "boolean axis is 2"):
        g(data, np.array([1, 0], dtype="int8"))
    h = cgraph.function([x, y], T.set_subtensor(x[1:], y), mode=mode)
    with pytest.raises(ValueError, match=r"value array of shape \(3,\) could not be broadcast "
                                         r"to indexing result of shape \(2, 4\)"):
        h(data, np.zeros(3))
    z = T.dtensor3("z")
    k = cgraph.function([x, z], [T.set_subtensor(x[1:], z), T.inc_subtensor(x[[0, 0]], z)],
                        mode=mode)
    for bad in [(2, 2, 4), (1, 4, 1)]:  # numpy drops leading length-1 axes only
        with pytest.raises(ValueError, match=rf"value array of shape \({bad[0]}, {bad[1]}, "
                                             rf"{bad[2]}\) could not be broadcast"):
            k(data, np.zeros(bad))


def test_build_time_errors():
    x = T.tensor("float64", (3, 4), "x")
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 1 with size 4"):
        x[:, -5]
    with pytest.raises(IndexError, match="too many indices for array: array is 2-dimensional, "
                                         "but 3 were indexed"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(TypeError, match="indices must be integers"):
        x[T.dvector("f")]
    with pytest.raises(TypeError, match="slice bounds must be integers"):
        x[:T.dscalar("s")]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[::0]
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])]
    with pytest.raises(IndexError, match="could not be broadcast together"):
        x[np.array([0, 1]), np.array([0, 1, 2])]
    with pytest.raises(TypeError, match="must be an indexed tensor"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="cannot cast y"):
        T.inc_subtensor(T.lmatrix("n")[0], 1.5)
    with pytest.raises(TypeError, match="immutable"):
        x[0] = 1.0
    with pytest.raises(ValueError, match=r"value of type float64\[3\] could not be "
                                         r"broadcast to indexing result of shape \(4,\)"):
        T.set_subtensor(x[0], np.zeros(3))
    with pytest.raises(ValueError, match=r"value of type float64\[2,2,4\] could not be "
                                         r"broadcast to indexing result of shape \(2, 4\)"):
        T.set_subtensor(x[1:], np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match=r"float64\[2,\?,4\] could not be broadcast to "
                                         r"indexing result of shape \(4,\)"):
        T.inc_subtensor(x[0], T.tensor("float64", (2, None, 4)))
    assert T.inc_subtensor(x[0], T.tensor("float64", (1, None, 4))).type == x.type


def test_static_shapes():
    x, i = T.tensor("float64", (3, 4, None), "x"), T.lscalar("i")
    assert x[1].type.shape == (4, None)
    assert x[::-2, i:].type.shape == (2, None, None)
    assert x[None, ..., 1].type.shape == (1, 3, 4)
    assert x[np.array([[0, 1, 1]])].type.shape == (1, 3, 4, None)
    assert x[:, [0, 1], 0].type.shape == (3, 2)
    assert x[0, :, [0, 1]].type.shape == (2, 4)  # numpy: not adjacent, index axes first
    assert x[T.lvector()].type.shape == (None, 4, None)
    assert x[x > 0].type.shape == (None,)
    assert T.set_subtensor(x[i], 1.0).type == x.type


def test_take_and_nonzero():
    x, v = T.dmatrix("x"), T.lvector("v")
    r, c = T.nonzero(x > 1)
    f = cgraph.function([x, v], [T.take(x, v), T.take(x, v, axis=1), x.take(v[1:], axis=-2), r, c])
    data = np.arange(6.0).reshape(2, 3)
    vals = np.array([2, 0, -1])
    expected = [np.take(data, vals), np.take(data, vals, axis=1), np.take(data, vals[1:], axis=0),
                *np.nonzero(data > 1)]
    for out, exp in zip(f(data, vals), expected):
        _check(out, exp, "take/nonzero")


def test_generated_c_is_warning_free(tmp_path):
    x, i, v, u = T.dmatrix("x"), T.lscalar("i"), T.lvector("v"), T.tensor("uint16", (None,))
    f = cgraph.function([x, i, v, u], [x[v, 1:], x[u], T.inc_subtensor(x[v, 0], 1.0),
                                       T.set_subtensor(x[i, 1:i], 2.0), x[x > 0],
                                       T.set_subtensor(x[0, 0], 1.0)])
    source = tmp_path / "subtensor.c"
    source.write_text(f.c_source)
    subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                    "-Werror", f"-I{csrc_dir()}", str(source)], check=True)


def _rows(*parts):
    return T.concatenate([T.flatten(p) for p in parts])


@pytest.mark.slow
def test_gradients_of_indexing():
    point = np.random.default_rng(3).normal(size=(4, 3))
    mask = np.array([[True, False, True], [False, False, True], [True, True, True],
                     [False, False, False]])
    verify_grad_cases({"indexing": (
        lambda x: _rows(x[1], x[::-1, 1:], x[None, -1, ::-2], x[[0, 2, 2, -1]], x[:, [1, 1]],
                        x[[0, 1], [2, 2]], x[1:, [0, 0]], x[mask]), [point])})


@pytest.mark.slow
def test_gradients_of_set_and_inc_subtensor():
    rng = np.random.default_rng(4)
    x0, y0, r0 = rng.normal(size=(4, 3)), rng.normal(size=(3,)), rng.normal(size=(2, 3))
    idx = np.array([0, 2, 2])

    def fun(x, y, r):
        return _rows(T.inc_subtensor(x[idx], y), T.set_subtensor(x[1:3], r),
                     T.inc_subtensor(x[1:, ::-1], y * 2), T.set_subtensor(x[[3, 1]], r),
                     T.inc_subtensor(x[idx, 1:], r[:, 1:][None, 0]))

    verify_grad_cases({"set and inc": (fun, [x0, y0, r0])})


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_gradients_of_set_subtensor_with_repeated_indices(mode):
    """numpy keeps the last write to a place: only it gets y's gradient."""
    rng = np.random.default_rng(6)
    x0, y0, r0 = rng.normal(size=(4, 3)), rng.normal(size=(3,)), rng.normal(size=(5, 3))
    rows, cols = np.array([[2, 0], [2, -1]]), np.array([1, 1])

    def fun(x, y, r):
        return _rows(T.set_subtensor(x[[0, 2, 2, -1, 3]], r),  # -1 and 3: one place
                     T.set_subtensor(x[[1, 1, 0]], y),  # y broadcast, written 3 times
                     T.set_subtensor(x[rows, :2], r[:1, :2]),
                     T.set_subtensor(x[[0, 0], cols], r[:2, 0]),
                     T.set_subtensor(x[1:][[2, 2, 0]][:, [0, 0]], r[:3, :2]),
                     T.set_subtensor(x[x[:, 0] > 0], y),  # a mask: distinct places
                     T.inc_subtensor(x[[1, 1, 0]], r[:3]))

    verify_grad_cases({"repeated indices": (fun, [x0, y0, r0])}, mode)
    # The gradient of y, by hand: the last write of each place counts.
    x, y = T.dmatrix("x"), T.dmatrix("y")
    out = T.set_subtensor(x[[0, 2, 0, 2, 1]], y)
    g = cgraph.function([x, y], cgraph.grad(T.sum(out * np.arange(12.0).reshape(4, 3)), y),
                        mode=mode)
    expected = np.arange(12.0).reshape(4, 3)[[0, 2, 0, 2, 1]]
    expected[:2] = 0
    _check(g(x0, r0), expected, f"{mode} last writes")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_gradients_of_values_with_leading_axes_and_0d_bools(mode):
    rng = np.random.default_rng(7)
    x0, y0 = rng.normal(size=(4, 3)), rng.normal(size=(1, 2, 3))

    def fun(x, y):
        return _rows(T.set_subtensor(x[1:3], y), T.inc_subtensor(x[1:3], y),
                     T.inc_subtensor(x[[0, 0]], y[:, None]),
                     T.set_subtensor(x[2], y[:, :1]),
                     x[True], x[False], x[1, True],
                     x[[0, 2], True] * T.addbroadcast(y[0, :1], 0),  # Theano's rule
                     T.set_subtensor(x[True, 2:], y))

    verify_grad(fun, [x0, y0], mode=mode)
    x, b = T.dmatrix("x"), T.tensor("bool", (), "b")
    g = cgraph.function([x, b], cgraph.grad(T.sum(x[b] * 2.0) + T.sum(x[:, b, 1]), x),
                        mode=mode)
    for bv in [True, False]:
        _check(g(x0, bv), (2.0 + np.eye(3)[1]) * np.ones((4, 3)) * bv, f"{mode} x[b] {bv}")
