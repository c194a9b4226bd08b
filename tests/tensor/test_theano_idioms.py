"""Theano idioms of the tensor surface (#16), in modes C and PY against numpy: typed
constructors as types, static shapes, specify_shape, stacklists, mgrid/ogrid, xlogx,
numpy ufuncs on symbolic tensors, bool(x), nnet.softmax of a vector, x.eval,
cgraph.scalar and config.warn."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.tensor import nnet, special


def test_prefixed_constructors_are_tensor_types():
    assert isinstance(T.dscalar, T.TensorType) and isinstance(T.fmatrix, T.TensorType)
    a = T.dscalar("a")
    assert a.type == T.dscalar and a.name == "a"
    assert T.fmatrix().type == T.fmatrix and T.fmatrix != T.dmatrix
    assert T.lvector("i").dtype == "int64" and T.brow().broadcastable == (True, False)
    assert T.dcol("c").type.shape == (None, 1)
    # the plain constructors stay functions of floatX with a dtype keyword
    assert T.matrix("m", dtype="int32").type == T.imatrix
    b, c = T.dscalars("b", "c")
    assert (b.name, c.name) == ("b", "c") and b.type == T.dscalar


@pytest.mark.parametrize("mode", MODES)
def test_static_shapes_on_constructors(mode):
    col = T.matrix("col", shape=(None, 1), dtype="float64")
    m = T.dmatrix("m", shape=(2, None))
    assert col.broadcastable == (False, True) and m.type.shape == (2, None)
    assert T.TensorType("float64", (False, True)) == col.type  # Theano's broadcastable
    assert T.tensor("float32", broadcastable=(True, False)).type.shape == (1, None)
    f = cgraph.function([col, m], col + m, mode=mode)  # col broadcasts along axis 1
    a, b = np.arange(2.0).reshape(2, 1), np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f(a, b), a + b)
    with pytest.raises(ValueError, match="axis 1"):
        f(np.ones((2, 3)), b)
    with pytest.raises(ValueError, match="contradicts"):
        T.dcol("c", shape=(3, 2))


@pytest.mark.parametrize("mode", MODES)
def test_specify_shape_checks_at_run_time_and_types_statically(mode):
    x = T.dmatrix("x")
    y = T.specify_shape(x, (None, 1))
    assert y.type.shape == (None, 1) and y.broadcastable == (False, True)
    w = T.dmatrix("w")
    f = cgraph.function([x, w], [y * w, T.specify_shape(x, (3, None)).sum()], mode=mode)
    a, b = np.arange(3.0).reshape(3, 1), np.ones((3, 4))
    got = f(a, b)
    np.testing.assert_array_equal(got[0], a * b)
    assert got[1] == a.sum()
    with pytest.raises(ValueError, match=r"'x' has shape \(3, 2\).*\(None, 1\)"):
        f(np.ones((3, 2)), b)
    g = cgraph.function([x], cgraph.grad(T.specify_shape(x, (2, 2)).sum() * 3, x), mode=mode)
    np.testing.assert_array_equal(g(np.ones((2, 2))), np.full((2, 2), 3.0))
    with pytest.raises(ValueError, match=r"has 2 dimension"):
        T.specify_shape(x, (3,))
    with pytest.raises(TypeError, match="not an int"):
        T.specify_shape(x, (2.5, 2))


@pytest.mark.parametrize("mode", MODES)
def test_specify_shape_with_symbolic_lengths(mode):
    x, w, n = T.dmatrix("x"), T.dmatrix("w"), T.lscalar("n")
    y = T.specify_shape(x, (n, w.shape[1]))
    assert y.type.shape == (None, None)
    f = cgraph.function([x, w, n], y + w, mode=mode)
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f(a, a, 2), a + a)
    with pytest.raises(ValueError, match=r"'x' has shape \(2, 3\).*\(3, 3\)"):
        f(a, a, 3)
    with pytest.raises(ValueError, match=r"'x' has shape \(2, 3\).*\(2, 4\)"):
        f(a, np.ones((2, 4)), 2)


@pytest.mark.parametrize("mode", MODES)
def test_stacklists_mgrid_ogrid(mode):
    a, b, c, d = T.dscalars("a", "b", "c", "e")
    u, v = T.dvectors("u", "v")
    n = T.lscalar("n")
    outs = [T.stacklists([[a, b], [c, d]]), T.stacklists([[u, v], [v, u]]),
            *T.mgrid[0:n, 1:7:2], *T.ogrid[0:n, 0:3], T.mgrid[2:n]]
    f = cgraph.function([a, b, c, d, u, v, n], outs, mode=mode)
    uv, vv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    got = f(1.0, 2.0, 3.0, 4.0, uv, vv, 4)
    refs = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[uv, vv], [vv, uv]]),
            *np.mgrid[0:4, 1:7:2], *np.ogrid[0:4, 0:3], np.mgrid[2:4]]
    assert len(got) == len(refs)
    for g, r in zip(got, refs):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_array_equal(g, r)
    assert T.ogrid[0:n, 0:3][1].broadcastable == (True, False)
    with pytest.raises(NotImplementedError, match="step"):
        T.mgrid[0:1:5j, 0:2]


@pytest.mark.parametrize("mode", MODES)
def test_xlogx_and_xlogy0(mode, verify_grads):
    from cgraph.tensor.xlogx import xlogx, xlogy0

    x, y = T.dvectors("x", "y")
    f = cgraph.function([x, y], [xlogx(x), xlogy0(x, y)], mode=mode)
    xv, yv = np.array([0.0, 0.5, 2.0, 0.0]), np.array([0.0, 3.0, 4.0, 5.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        refs = [np.where(xv == 0, 0.0, xv * np.log(xv)), np.where(xv == 0, 0.0, xv * np.log(yv))]
    for g, r in zip(f(xv, yv), refs):
        np.testing.assert_allclose(g, r, rtol=1e-15)
    rng = rng_for("xlogx")
    verify_grads([xlogx, xlogy0], [rng.uniform(0.5, 2.0, size=4),
                                   (rng.uniform(0.5, 2.0, size=4), rng.uniform(0.5, 2.0, size=4))],
                 rng)


@pytest.mark.parametrize("mode", MODES)
def test_numpy_ufuncs_build_cgraph_ops(mode):
    x, y = T.dvectors("x", "y")
    a = np.array([0.5, 2.0, -1.0])
    built = [np.exp(x), np.add(x, y), a + x, a * x, a @ x, np.maximum(x, y), np.less(x, y),
             a < x, np.logical_and(x, y), np.isfinite(x / y), np.absolute(-x), np.sqrt(x * x),
             np.float64(2.0) * x, np.power(x, 2), np.negative(y)]
    assert all(isinstance(v, T.TensorVariable) for v in built)
    f = cgraph.function([x, y], built, mode=mode)
    xv, yv = np.array([1.0, -2.0, 0.0]), np.array([0.0, 3.0, 0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        refs = [np.exp(xv), xv + yv, a + xv, a * xv, a @ xv, np.maximum(xv, yv), xv < yv,
                a < xv, np.logical_and(xv, yv), np.isfinite(xv / yv), np.abs(-xv), np.abs(xv),
                2.0 * xv, xv ** 2, -yv]
    for g, r in zip(f(xv, yv), refs, strict=True):
        assert g.dtype == r.dtype
        np.testing.assert_array_equal(g, r)
    with pytest.raises(TypeError, match="hypot has no cgraph version"):
        np.hypot(x, y)
    with pytest.raises(TypeError, match=r"add\.reduce"):
        np.add.reduce(x)
    with pytest.raises(TypeError, match="out"):
        np.exp(x, out=np.empty(3))


def test_bool_follows_theano():
    x, y = T.dvectors("x", "y")
    assert bool(x) and bool(x + 1) and bool(T.constant(0.0))
    for comparison in (lambda: bool(x < y), lambda: bool(T.eq(x, y)), lambda: 0 < x < 1):
        with pytest.raises(TypeError, match="truth value"):
            comparison()
    if x:  # Theano programs test that a variable exists
        assert x.name == "x"


@pytest.mark.parametrize("mode", MODES)
def test_nnet_softmax_of_a_vector_is_a_row(mode):
    v = T.dvector("v")
    row, keep = nnet.softmax(v), special.softmax(v)
    assert row.type.shape == (1, None) and keep.ndim == 1
    a = np.array([1.0, -2.0, 3.0])
    ref = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    got = cgraph.function([v], [row, keep], mode=mode)(a)
    np.testing.assert_allclose(got[0], ref[None, :], rtol=1e-15)
    np.testing.assert_allclose(got[1], ref, rtol=1e-15)


def test_eval_compiles_once_per_variable_and_inputs():
    x, y = T.dvectors("x", "y")
    z = (x * 2 + y).sum()
    xv, yv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    assert z.eval({x: xv, y: yv}) == (xv * 2 + yv).sum()
    first = next(iter(z._fn_cache.values()))
    assert z.eval({x: yv, y: xv}) == (yv * 2 + xv).sum()
    assert z.eval({"x": xv, "y": yv}) == (xv * 2 + yv).sum()  # names as keys
    assert list(z._fn_cache.values()) == [first]  # compiled once
    s = cgraph.shared(np.arange(3.0), name="s")
    np.testing.assert_array_equal((s * 2).eval(), np.arange(3.0) * 2)
    assert T.constant(3.5).eval() == 3.5
    with pytest.raises(ValueError, match="depends on y"):
        z.eval({x: xv})
    with pytest.raises(ValueError, match="no input of the graph named 'q'"):
        z.eval({"q": xv, y: yv})
    assert z.eval({x: xv, y: yv}, mode="PY") == (xv * 2 + yv).sum()


def test_scalar_module():
    import cgraph.scalar as S

    assert S.float64 == T.dscalar and S.int8("i").type == T.bscalar
    assert isinstance(S.ScalarType("float32"), T.TensorType) and S.Scalar is S.ScalarType
    for dtypes in [("int32", "float32"), ("float32", "int8"), ("int8", "uint8"),
                   ("float32", "float64"), ("int64", "bool")]:
        expected = str((np.zeros((), dtypes[0]) + np.zeros((), dtypes[1])).dtype)
        assert S.upcast(*dtypes) == expected
    assert S.upcast("float32") == "float32"
    assert S.constant(2.5).ndim == 0 and S.as_scalar(S.float32("f")).dtype == "float32"
    with pytest.raises(TypeError, match="not a scalar"):
        S.as_scalar(T.dvector())
    with pytest.raises(ValueError, match="not a scalar"):
        S.constant([1, 2])


def test_config_warn_flags_are_accepted():
    from cgraph.configdefaults import UnknownFlagError, load_config

    cfg = load_config({"CGRAPH_FLAGS": "warn.round=False,warn.sum_div_dimshuffle_bug=True"})
    assert cfg.warn.round is False and cfg.warn.sum_div_dimshuffle_bug is True
    assert load_config({}).warn.sum_div_dimshuffle_bug is False  # not shared between configs
    cgraph.config.warn.ignore_bug_before = "all"
    assert cgraph.config.warn.ignore_bug_before == "all"
    with pytest.raises(UnknownFlagError, match="did you mean 'round'"):
        cgraph.config.warn.rounds = False
