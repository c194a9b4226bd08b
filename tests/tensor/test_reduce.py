"""Reductions (sum, prod, mean, var, std, max, min, argmax, argmin, all, any, logsumexp):
C and PY results vs numpy over axes, keepdims, dtypes and layouts; gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cgraph
import cgraph.tensor as T


def _lse(a, axis=None, keepdims=False):
    a = np.asarray(a, dtype=np.result_type(a.dtype, np.float32))
    mx = np.max(a, axis=axis, keepdims=True, initial=-np.inf)
    mx = np.where(np.isinf(mx), 0, mx)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - mx), axis=axis, keepdims=True)) + mx
    return out if keepdims else np.squeeze(out, axis=axis)


#: name -> (cgraph function, numpy reference, output dtype rule for an input dtype)
REDUCTIONS = {
    "sum": (T.sum, np.sum),
    "prod": (T.prod, np.prod),
    "mean": (T.mean, np.mean),
    "var": (T.var, np.var),
    "std": (T.std, np.std),
    "max": (T.max, np.max),
    "min": (T.min, np.min),
    "all": (T.all, np.all),
    "any": (T.any, np.any),
    "logsumexp": (T.logsumexp, _lse),
}
#: reductions that take float inputs only (logsumexp converts integers, as scipy).
FLOAT_ONLY: set[str] = set()
AXES = [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2), ()]


def _expected_dtype(name: str, dtype: str) -> str:
    if name in ("sum", "prod"):
        if dtype.startswith("uint"):
            return "uint64"
        return "int64" if dtype.startswith("int") or dtype == "bool" else dtype
    if name in ("mean", "var", "std"):
        return dtype if dtype.startswith("float") else cgraph.config.floatX
    if name in ("all", "any"):
        return "bool"
    if name == "logsumexp" and not dtype.startswith("float"):
        return "float32" if np.dtype(dtype).itemsize <= 2 else "float64"
    return dtype


def _data(dtype: str, shape, rng) -> np.ndarray:
    if dtype.startswith("float"):
        return rng.uniform(0.5, 1.5, shape).astype(dtype)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    low = 0 if dtype.startswith("uint") else -3
    return rng.integers(low, 4, shape).astype(dtype)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["C", "PY"])
@pytest.mark.parametrize(("dtype", "keepdims"), [
    *[(d, k) for d in ("float64", "float32", "int32") for k in (False, True)],
    ("uint8", False), ("int16", False), ("bool", False)])
def test_every_reduction_every_axis(mode, dtype, keepdims):
    """One compiled function per (mode, dtype, keepdims): every reduction x every axis."""
    rng = np.random.default_rng(0)
    x = T.tensor(dtype, (None, None, None))
    names = [n for n in REDUCTIONS if dtype.startswith("float") or n not in FLOAT_ONLY]
    cases = [(n, ax) for n in names for ax in AXES]
    outs = [REDUCTIONS[n][0](x, axis=ax, keepdims=keepdims) for n, ax in cases]
    f = cgraph.function([x], outs, mode=mode)
    a = _data(dtype, (3, 4, 5), rng)
    tol = 1e-5 if dtype == "float32" else 1e-10
    for view in (a, a[::-1, :, ::2], a.transpose(2, 0, 1)):
        for (n, ax), got in zip(cases, f(view)):
            ref = np.asarray(REDUCTIONS[n][1](view, axis=ax, keepdims=keepdims))
            assert got.shape == ref.shape, (n, ax)
            assert got.dtype == _expected_dtype(n, dtype), (n, ax, got.dtype)
            if n in ("sum", "prod") or not dtype.startswith("float"):
                assert got.dtype == ref.dtype or n in ("mean", "var", "std"), (n, ax)
            t = 1e-5 if got.dtype == np.float32 else tol
            np.testing.assert_allclose(got, ref, rtol=t, atol=t, err_msg=f"{n} {ax}")


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_arg_reductions(mode):
    x = T.dmatrix()
    outs = [x.argmax(), x.argmin(), x.argmax(axis=0), x.argmin(axis=-1),
            T.argmax(x, axis=1, keepdims=True), x.T.argmax(axis=1)]
    f = cgraph.function([x], outs, mode=mode)
    a = np.array([[1.0, 5.0, 5.0, -2.0], [7.0, 0.0, 7.0, -2.0], [3.0, np.nan, 1.0, 0.0]])
    refs = [np.argmax(a), np.argmin(a), np.argmax(a, 0), np.argmin(a, -1),
            np.argmax(a, 1, keepdims=True), np.argmax(a.T, 1)]
    for got, ref in zip(f(a), refs):
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, ref)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["C", "PY"])
def test_zero_d_and_empty(mode):
    s, m = T.dscalar(), T.dmatrix()
    f = cgraph.function([s, m], [s.sum(), s.max(), T.argmax(s), m.sum(axis=0), m.prod(axis=0),
                                 m.any(axis=0), m.all(), m.max(axis=1)], mode=mode)
    got = f(2.5, np.zeros((0, 3)))
    refs = [2.5, 2.5, 0, np.zeros(3), np.ones(3), np.zeros(3, bool), True, np.zeros((0,))]
    for g, r in zip(got, refs):
        np.testing.assert_array_equal(g, r)
    g = cgraph.function([m], [m.max(axis=0)], mode=mode)
    with pytest.raises(ValueError, match="empty"):
        g(np.zeros((0, 3)))
    h = cgraph.function([m], [m.argmin()], mode=mode)
    with pytest.raises(ValueError, match="empty"):
        h(np.zeros((2, 0)))


def test_nan_propagates_and_bad_axis():
    x = T.dvector()
    f = cgraph.function([x], [x.max(), x.min(), x.sum()])
    assert all(np.isnan(v) for v in f(np.array([1.0, np.nan, 3.0])))
    with pytest.raises(ValueError, match="out of range"):
        T.max(x, axis=1)
    with pytest.raises(TypeError, match="axis"):
        T.argmax(T.dmatrix(), axis=(0, 1))


def test_float32_sum_accuracy():
    """float32 sums along a dense axis accumulate in double: not worse than numpy's
    pairwise sum."""
    x = T.fvector()
    f = cgraph.function([x], x.sum())
    a = np.full(10_000_000, 0.1, dtype=np.float32)
    exact = np.sum(a, dtype=np.float64)
    assert abs(float(f(a)) - exact) <= abs(float(np.sum(a)) - exact) + 1e-3


@pytest.mark.slow
def test_gradients(verify_grads):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 1.5, (3, 4))
    fns = [lambda v: T.sum(v, axis=0), lambda v: T.prod(v, axis=1),
           lambda v: T.prod(v), lambda v: T.mean(v, axis=(0, 1), keepdims=True),
           lambda v: T.var(v, axis=1), lambda v: T.std(v, axis=0, ddof=1),
           lambda v: T.max(v, axis=1), lambda v: T.min(v, axis=0, keepdims=True),
           lambda v: T.logsumexp(v, axis=-1), lambda v: T.sum(v, axis=1, dtype="float64"),
           lambda v: T.mean(v, axis=-1, acc_dtype="float64")]
    verify_grads(fns, [a] * len(fns), rng)



@pytest.mark.slow
def test_prod_grad_with_zeros():
    x = T.dmatrix()
    g = cgraph.function([x], T.grad(T.prod(x, axis=1).sum(), x))
    a = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [2.0, 3.0, 4.0]])
    expected = np.array([[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [12.0, 8.0, 6.0]])
    np.testing.assert_allclose(g(a), expected)


@pytest.mark.slow
def test_max_grad_at_ties_and_no_grad_of_args():
    x = T.dmatrix()
    cost = T.max(x, axis=1).sum() + T.min(x)
    g = cgraph.function([x], T.grad(cost, x))
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    np.testing.assert_array_equal(g(a), [[0, 1, 1], [1, 1, 1]])
    z = cgraph.function([x], T.grad(T.sum(x * T.argmax(x, axis=1).dimshuffle(0, "x")), x))
    np.testing.assert_array_equal(z(a), [[1, 1, 1], [0, 0, 0]])


def test_logsumexp_stable():
    x = T.dvector()
    f = cgraph.function([x], [T.logsumexp(x), T.special.logsumexp(x)])
    got = f(np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(got, 1000 + np.log(2))
    assert f(np.array([-np.inf, -np.inf]))[0] == -np.inf


@pytest.mark.slow
@settings(max_examples=15, deadline=None, database=None)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3), data=st.data())
def test_property_random_shapes_and_axes(shape, data):
    """Reductions over random axes of random shapes, with random keepdims and a reversed
    or transposed layout: sum, prod, mean, var, any, logsumexp, and max / argmax where
    numpy defines them (no empty reduced axis). One compiled function per example."""
    ndim = len(shape)
    axes = data.draw(st.lists(st.integers(-ndim, ndim - 1), unique_by=lambda a: a % max(ndim, 1),
                              max_size=ndim) if ndim else st.just([]))
    axis = tuple(axes) if axes or data.draw(st.booleans()) else None
    keep = data.draw(st.booleans())
    layout = data.draw(st.sampled_from(["plain", "reversed", "transposed"]))
    x = T.tensor("float64", (None,) * ndim)
    a = np.random.default_rng(0).normal(size=shape)
    if layout == "reversed" and ndim:
        a = np.flip(np.flip(a).copy())
    elif layout == "transposed" and ndim:
        a = np.ascontiguousarray(a.T).T
    reduced = range(ndim) if axis is None else [ax % ndim for ax in axis]
    nonempty = all(shape[ax] for ax in reduced)
    exprs = {"sum": (lambda lib, v: lib.sum(v, axis=axis, keepdims=keep)),
             "prod": (lambda lib, v: lib.prod(v, axis=axis, keepdims=keep)),
             "mean": (lambda lib, v: lib.mean(v, axis=axis, keepdims=keep)),
             "var": (lambda lib, v: lib.var(v, axis=axis, keepdims=keep)),
             "any": (lambda lib, v: lib.any(v, axis=axis, keepdims=keep)),
             "logsumexp": (lambda lib, v: (lib.logsumexp if lib is T else _lse)(
                 v, axis=axis, keepdims=keep))}
    if nonempty:
        exprs["max"] = lambda lib, v: lib.max(v, axis=axis, keepdims=keep)
        if axis is None or len(axis) == 1:
            ax = None if axis is None else axis[0]
            exprs["argmax"] = lambda lib, v: lib.argmax(v, axis=ax, keepdims=keep)
    f = cgraph.function([x], [e(T, x) for e in exprs.values()])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        refs = [np.asarray(e(np, a)) for e in exprs.values()]
    for name, got, ref in zip(exprs, f(a), refs, strict=True):
        assert got.shape == ref.shape, (name, shape, axis, keep)
        np.testing.assert_allclose(got, ref, atol=1e-12, equal_nan=True,
                                   err_msg=f"{name} {shape} {axis} {keep} {layout}")


#: (name, axis) pairs that numpy computes on an input of shape (2, 0, 3): reductions with
#: an identity over the empty axis, and max/min/argmax over non-empty axes only.
EMPTY_CASES = [(n, ax) for n in REDUCTIONS for ax in [None, 1, (0, 1), -1, ()]
               if n not in ("max", "min") or ax in (-1, (), 0)] + [
    ("max", -1), ("min", 0), ("argmax", -1), ("argmin", 0)]
#: numpy reduces a 0-d array over axis None or (); argmax/argmin also take axis 0.
ZERO_D_AXES = {"argmax": [None, 0], "argmin": [None, -1]}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["C", "PY"])
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_every_reduction_of_empty_and_0d_inputs(mode, dtype):
    """Every reduction of a 0-d input and of one with a zero-length axis, as numpy."""
    s, e = T.tensor(dtype, ()), T.tensor(dtype, (None, None, None))
    funcs = {**{n: f for n, (f, _) in REDUCTIONS.items()}, "argmax": T.argmax,
             "argmin": T.argmin}
    refs = {**{n: r for n, (_, r) in REDUCTIONS.items()}, "argmax": np.argmax,
            "argmin": np.argmin}
    cases = [(n, ax, k) for n, ax in EMPTY_CASES for k in (False, True)
             if dtype.startswith("float") or n not in FLOAT_ONLY]
    zero_d = [(n, ax, k) for n in funcs for ax in ZERO_D_AXES.get(n, [None, ()])
              for k in (False, True) if dtype.startswith("float") or n not in FLOAT_ONLY]
    outs = [funcs[n](e, axis=ax, keepdims=k) for n, ax, k in cases]
    outs += [funcs[n](s, axis=ax, keepdims=k) for n, ax, k in zero_d]
    f = cgraph.function([s, e], outs, mode=mode)
    sv, ev = np.asarray(2.5 if dtype.startswith("float") else 3, dtype=dtype), np.zeros(
        (2, 0, 3), dtype=dtype)
    labels = [(n, ax, k, "empty") for n, ax, k in cases] + [(n, ax, k, "0-d")
                                                              for n, ax, k in zero_d]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        refs_out = [np.asarray(refs[n](ev, axis=ax, keepdims=k)) for n, ax, k in cases]
        refs_out += [np.asarray(refs[n](sv, axis=ax, keepdims=k)) for n, ax, k in zero_d]
    for label, got, ref in zip(labels, f(sv, ev), refs_out, strict=True):
        assert got.shape == ref.shape, label
        np.testing.assert_allclose(got, ref, equal_nan=True, err_msg=str(label))


@pytest.mark.slow
def test_dtype_and_acc_dtype_arguments():
    x, b = T.dmatrix(), T.bmatrix()
    outs = [T.sum(x, dtype="float32"), x.sum(axis=0, acc_dtype="float32"),
            T.prod(b, axis=1, dtype="int8"), b.prod(acc_dtype="float64"),
            T.mean(b, dtype="float32"), x.mean(axis=1, dtype="float32"),
            T.mean(b, axis=0, acc_dtype="int8"), T.sum(b, dtype="int8")]
    assert [o.dtype for o in outs] == ["float32", "float64", "int8", "int64", "float32",
                                       "float32", "float64", "int8"]
    a = np.arange(6.0).reshape(2, 3) / 3
    c = np.array([[100, 100, 1], [-3, 2, 4]], dtype="int8")
    with np.errstate(over="ignore"):
        refs = [np.sum(a, dtype="float32"), a.astype("float32").sum(0).astype("float64"),
                np.prod(c, axis=1, dtype="int8"), np.int64(c.astype("float64").prod()),
                np.mean(c, dtype="float32"), np.mean(a, axis=1, dtype="float32"),
                c.sum(axis=0, dtype="int8") / 2.0, np.sum(c, dtype="int8")]
    for mode in ("C", "PY"):
        f = cgraph.function([x, b], outs, mode=mode)
        for k, (got, ref) in enumerate(zip(f(a, c), refs, strict=True)):
            np.testing.assert_allclose(got, ref, rtol=1e-6, err_msg=f"{mode} output {k}")


def test_axis_must_be_integers():
    x = T.dmatrix()
    for bad in (1.0, "0", [0.5]):
        with pytest.raises(TypeError, match="axis must be an int"):
            T.sum(x, axis=bad)
    assert T.sum(x, axis=np.int64(1)).ndim == 1 and T.max(x, axis=[0, 1]).ndim == 0


@pytest.mark.slow
def test_logsumexp_and_softmax_of_an_empty_axis():
    m = T.dmatrix()
    lse = T.logsumexp(m, axis=1)
    outs = [lse, T.logsumexp(m), T.nnet.softmax(m), T.nnet.log_softmax(m),
            T.grad(lse.sum(), m)]
    for mode in ("C", "PY"):
        f = cgraph.function([m], outs, mode=mode)
        got = f(np.zeros((2, 0)))
        np.testing.assert_array_equal(got[0], [-np.inf, -np.inf])
        assert got[1] == -np.inf and [g.shape for g in got[2:]] == [(2, 0)] * 3


@pytest.mark.parametrize("shape, axis, keep", [((1, 0), (), False), ((0, 1, 0), (0,), False),
                                               ((1, 3), (0,), True), ((2, 1, 3), (1,), False)])
def test_logsumexp_where_an_unknown_length_is_1_at_run_time(shape, axis, keep):
    """Found by the property test: the reduction's epilogue mapped its result's lengths
    onto its loop by skipping the 1s, which misplaced an axis of unknown static length
    that is 1 at run time (shapes (1, 0) and (0, 1, 0): a ShapeError naming a length 1
    that does not broadcast)."""
    x = T.tensor("float64", (None,) * len(shape))
    f = cgraph.function([x], T.logsumexp(x, axis=axis, keepdims=keep))
    a = np.random.default_rng(3).normal(size=shape)
    want = a if axis == () else _lse(a, axis=axis, keepdims=keep)
    got = f(a)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64"])
def test_max_and_min_of_contiguous_rows_in_lanes(dtype):
    """Row maxima and minima of a dense input compare in vector lanes: the same values as
    numpy at every position of the extreme and of a NaN (first, last, remainder), for
    rows of any length, and infinities kept."""
    x = T.matrix("x", dtype=dtype)
    f = cgraph.function([x], [T.max(x, axis=1), T.min(x, axis=1)])
    rng = np.random.default_rng(8)
    for n in [1, 7, 16, 33, 100]:
        a = rng.integers(-1000, 1000, size=(6, n)).astype(dtype)
        a[0, 0], a[1, -1] = 5000, -5000  # extremes at both ends
        if dtype.startswith("float"):
            a[2, n // 2] = np.nan
            a[3, -1] = np.nan
            a[4, 0] = -np.inf
            a[5, -1] = np.inf
        with np.errstate(invalid="ignore"):
            got_max, got_min = f(a)
            want = (np.max(a, axis=1), np.min(a, axis=1))
        np.testing.assert_array_equal(got_max, want[0])
        np.testing.assert_array_equal(got_min, want[1])


#: axes of a 4-d input whose reduced and kept axes alternate in runs: the innermost run
#: reduced (mode 3: a channel's sum over N, H, W) or kept (mode 4: a max over C)
RUN_AXES = [(0, 2, 3), (0, 2), (1, 3), (0, 3), (1,), (2,), (0, 1, 3), (1, 2)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_reductions_over_runs_of_axes_equal_numpy(dtype):
    """sum, prod, max, min, any, argmax and argmin (one axis) over reduced axes between
    kept ones, on dense inputs with length-1 axes among them (ties among the integers),
    NaN in one float input."""
    from cgraph.kernel.layout import contiguous_strides
    from cgraph.tensor.reduce_layout import reduce_values

    modes = {reduce_values(4, ax, (3, 4, 5, 6), contiguous_strides((3, 4, 5, 6)))["mode"]
             for ax in RUN_AXES}
    assert modes == {3, 4}
    rng = np.random.default_rng(7)
    x = T.tensor(dtype, (None,) * 4)
    names = ["sum", "prod", "max", "min", "any"]
    cases = [(n, ax) for n in names for ax in RUN_AXES]
    cases += [(n, ax) for n in ("argmax", "argmin") for ax in RUN_AXES + [(0,), (3,)]
              if len(ax) == 1]
    f = cgraph.function([x], [getattr(T, n)(x, axis=ax[0] if n.startswith("arg") else ax)
                              for n, ax in cases])
    tol = 1e-5 if dtype == "float32" else 1e-12
    for shape in ((3, 4, 5, 6), (2, 1, 33, 17), (1, 3, 1, 40)):
        a = _data(dtype, shape, rng)
        views = [a]
        if dtype != "int32":
            b = a.copy()
            b.flat[b.size // 2] = np.nan
            views.append(b)
        for v in views:
            for (n, ax), got in zip(cases, f(v)):
                ref = getattr(np, n)(v, axis=ax[0] if n.startswith("arg") else ax)
                np.testing.assert_allclose(got, ref, rtol=tol, atol=tol,
                                           err_msg=f"{n} {ax} {shape}")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_reductions_of_views_made_in_the_graph_equal_numpy(dtype):
    """Reductions reading a transposed, sliced or reversed view the graph made (the
    call path hands its inputs over contiguous, but a view inside the graph reaches
    the kernel as it is): kept axes merged in order, reduced ones taken by stride."""
    from cgraph.kernel.layout import contiguous_strides
    from cgraph.tensor.reduce_layout import reduce_values

    # a transposed matrix summed over axis 0: rows of stride 1 (mode 3); over axis 1,
    # or a column slice over axis 0: whole rows into the output (mode 4)
    assert reduce_values(2, (0,), (1000, 512), (1, 1000))["mode"] == 3
    assert reduce_values(2, (1,), (1000, 512), (1, 1000))["mode"] == 4
    assert reduce_values(2, (0,), (512, 500), (1000, 2))["mode"] == 4
    assert reduce_values(2, (1,), (6, 5), contiguous_strides((6, 5)))["mode"] == 1
    rng = np.random.default_rng(11)
    x = T.tensor(dtype, (None,) * 4)
    views = {"transposed": x.dimshuffle(1, 3, 0, 2), "sliced": x[:, ::2, :, 1::3],
             "reversed": x[::-1, :, ::-1]}
    cases = [(v, n, ax) for v in views for n in ("sum", "max", "min", "prod", "any")
             for ax in [(0,), (1,), (3,), (0, 2), (1, 3), (0, 1, 2)]]
    cases += [(v, n, ax) for v in views for n in ("argmax", "argmin")
              for ax in [0, 1, 3, None]]
    f = cgraph.function([x], [getattr(T, n)(views[v], axis=ax) for v, n, ax in cases])
    a = _data(dtype, (3, 4, 5, 7), rng)
    if dtype != "int32":
        a.flat[17] = np.nan
    numpy_views = {"transposed": a.transpose(1, 3, 0, 2), "sliced": a[:, ::2, :, 1::3],
                   "reversed": a[::-1, :, ::-1]}
    tol = 1e-5 if dtype == "float32" else 1e-12
    for (v, n, ax), got in zip(cases, f(a)):
        ref = getattr(np, n)(numpy_views[v], axis=ax)
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, err_msg=f"{v} {n} {ax}")
