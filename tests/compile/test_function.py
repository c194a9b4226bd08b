"""function(): the tutorial end to end, updates, shared variables, givens, bad input."""

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet
from cgraph.codegen import ShapeError
from cgraph.compile import UnusedInputError


@pytest.mark.parametrize("mode", MODES)
def test_tutorial_numbers(mode):
    x = T.dscalar()
    fx = T.exp(T.sin(x**2))
    f = cgraph.function(inputs=[x], outputs=[fx], mode=mode)
    result = f(10)
    assert isinstance(result, list) and len(result) == 1
    assert result[0].shape == () and result[0].dtype == np.float64
    assert abs(result[0] - 0.602681965908778) < 1e-12
    fprime = cgraph.function([x], T.grad(fx, wrt=x), mode=mode)
    g = fprime(15)
    assert isinstance(g, np.ndarray) and g.shape == ()
    assert abs(g - 4.347404090286685) < 1e-12


def _xor_model(mode, seed=0):
    rng = np.random.default_rng(seed)
    x = T.dvector()
    y = T.dscalar()

    def layer(x, w):
        b = np.array([1], dtype=cgraph.config.floatX)
        return nnet.sigmoid(T.dot(w.T, T.concatenate([x, b])))

    theta1 = cgraph.shared(np.array(rng.random((3, 3)), dtype=cgraph.config.floatX))
    theta2 = cgraph.shared(np.array(rng.random((4, 1)), dtype=cgraph.config.floatX))
    out1 = T.sum(layer(layer(x, theta1), theta2))
    fc = (out1 - y) ** 2
    cost = cgraph.function(inputs=[x, y], outputs=fc, mode=mode, updates=[
        (theta1, theta1 - 0.1 * T.grad(fc, wrt=theta1)),
        (theta2, theta2 - 0.1 * T.grad(fc, wrt=theta2))])
    run_forward = cgraph.function(inputs=[x], outputs=out1, mode=mode)
    return cost, run_forward, theta1, theta2


def _numpy_xor_step(t1, t2, x, y):
    """One SGD step of the tutorial's network, by hand, for reference."""
    def sig(z):
        return 1 / (1 + np.exp(-z))
    a0 = np.concatenate([x, [1.0]])
    h = sig(t1.T @ a0)
    a1 = np.concatenate([h, [1.0]])
    o = sig(t2.T @ a1)
    out = o.sum()
    cost = (out - y) ** 2
    d_o = 2 * (out - y) * o * (1 - o)
    g2 = np.outer(a1, d_o)
    d_h = (t2[:3] @ d_o) * h * (1 - h)
    g1 = np.outer(a0, d_h)
    return cost, t1 - 0.1 * g1, t2 - 0.1 * g2


@pytest.mark.parametrize("mode", MODES)
def test_xor_step_matches_numpy(mode):
    cost, _, theta1, theta2 = _xor_model(mode)
    t1, t2 = theta1.get_value(), theta2.get_value()
    for x, y in [([0, 1], 1), ([1, 1], 0), ([1, 0], 1)]:
        c = cost(np.array(x), np.int64(y))
        ref_cost, t1, t2 = _numpy_xor_step(t1, t2, np.array(x, float), float(y))
        np.testing.assert_allclose(c, ref_cost, rtol=1e-12)
        np.testing.assert_allclose(theta1.get_value(), t1, rtol=1e-12)
        np.testing.assert_allclose(theta2.get_value(), t2, rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_xor_trains(mode):
    cost, run_forward, _, _ = _xor_model(mode, seed=1)
    inputs = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    exp_y = np.array([1, 1, 0, 0])
    epochs = 10000 if mode == "C" else 1500
    for _ in range(epochs):
        for k in range(4):
            cur = cost(inputs[k], exp_y[k])
    predictions = [float(run_forward(list(v))) for v in inputs]
    if mode == "C":
        assert cur < 0.01
        np.testing.assert_array_equal(np.round(predictions), exp_y)
    else:
        assert cur < 0.3


@pytest.mark.parametrize("mode", MODES)
def test_updates_use_old_values(mode):
    a = cgraph.shared(np.array([1.0, 2.0]), name="a")
    b = cgraph.shared(np.array([3.0, 4.0]), name="b")
    swap = cgraph.function([], [a + b], updates=[(a, b), (b, a)], mode=mode)
    (total,) = swap()
    np.testing.assert_array_equal(total, [4.0, 6.0])
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    swap()
    np.testing.assert_array_equal(a.get_value(), [1.0, 2.0])


@pytest.mark.parametrize("mode", MODES)
def test_updates_as_dict_and_no_outputs(mode):
    s = cgraph.shared(np.float64(1.0))
    inc = cgraph.function([], updates={s: s * 2}, mode=mode)
    assert inc() is None
    inc()
    assert s.get_value() == 4.0


def test_shared_copy_semantics():
    value = np.array([1.0, 2.0])
    s = cgraph.shared(value)
    value[0] = 99.0
    assert s.get_value()[0] == 1.0
    got = s.get_value()
    got[1] = 99.0
    assert s.get_value()[1] == 2.0
    borrowed = np.array([5.0, 6.0])
    s.set_value(borrowed, borrow=True)
    assert s.get_value(borrow=True) is borrowed
    s.set_value([7, 8])
    assert s.get_value().dtype == np.float64
    with pytest.raises(TypeError, match="1-d"):
        s.set_value(np.zeros((2, 2)))


def test_shared_value_may_change_shape():
    s = cgraph.shared(np.ones(3))
    f = cgraph.function([], s.sum())
    assert f() == 3.0
    s.set_value(np.ones(5))
    assert f() == 5.0


@pytest.mark.parametrize("mode", MODES)
def test_givens(mode):
    x = T.dvector("x")
    y = T.dvector("y")
    s = cgraph.shared(np.array([1.0, 2.0]))
    f = cgraph.function([y], (x * 2).sum(), givens={x: y + s}, mode=mode)
    assert f(np.array([1.0, 1.0])) == 10.0


@pytest.mark.parametrize("mode", MODES)
def test_outputs_that_are_inputs_or_views(mode):
    x = T.dmatrix("x")
    f = cgraph.function([x], [x, x.T, x], mode=mode)
    data = np.arange(6.0).reshape(2, 3)
    a, b, c = f(data)
    np.testing.assert_array_equal(a, data)
    np.testing.assert_array_equal(b, data.T)
    assert a is not data and a is not c
    a[0, 0] = 42.0
    assert data[0, 0] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_lossless_conversions_accepted(mode):
    x = T.dvector()
    f = cgraph.function([x], x * 2, mode=mode)
    np.testing.assert_array_equal(f([1, 2]), [2.0, 4.0])
    np.testing.assert_array_equal(f(np.array([1, 2], dtype=np.int32)), [2.0, 4.0])
    fv = T.fvector()
    g = cgraph.function([fv], fv * 2, mode=mode)
    assert g([1.5]).dtype == np.float32


def test_bad_arguments_raise_clearly():
    x = T.dvector("x")
    y = T.dvector("y")
    f = cgraph.function([x, y], x + y)
    with pytest.raises(TypeError, match="takes 2 argument"):
        f(np.ones(3))
    with pytest.raises(TypeError, match="input 0 \\(x\\).*1-d"):
        f(np.ones((2, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        f(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="complex|convert"):
        f(np.ones(3, dtype=complex), np.ones(3))
    with pytest.raises(TypeError):
        f("abc", np.ones(3))


def test_downcast_needs_permission():
    x = T.fvector("x")
    f = cgraph.function([x], x * 2)
    with pytest.raises(TypeError, match="allow_input_downcast"):
        f(np.ones(3))
    g = cgraph.function([x], x * 2, allow_input_downcast=True)
    out = g(np.array([1.0, 2.0]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2.0, 4.0])


def test_dot_shape_mismatch_at_call_time():
    a = T.dmatrix("a")
    v = T.dvector("v")
    f = cgraph.function([a, v], T.dot(a, v))
    np.testing.assert_allclose(f(np.ones((2, 3)), np.ones(3)), [3.0, 3.0])
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(4,\)"):
        f(np.ones((2, 3)), np.ones(4))


def test_static_dot_mismatch_at_build_time():
    a = T.tensor("float64", shape=(2, 3))
    b = T.tensor("float64", shape=(4, 2))
    with pytest.raises(ValueError, match="not aligned"):
        T.dot(a, b)


def test_function_argument_errors():
    x = T.dvector("x")
    y = T.dvector("y")
    with pytest.raises(UnusedInputError, match="y"):
        cgraph.function([x, y], x * 2)
    f = cgraph.function([x, y], x * 2, on_unused_input="ignore")
    np.testing.assert_array_equal(f([1.0], [5.0]), [2.0])
    with pytest.raises(ValueError, match="neither an input"):
        cgraph.function([x], x + y)
    with pytest.raises(TypeError, match="free variable"):
        cgraph.function([x * 2], x)
    s = cgraph.shared(np.ones(2))
    with pytest.raises(TypeError, match="not a shared variable"):
        cgraph.function([x], x, updates=[(x, x * 2)])
    with pytest.raises(TypeError, match="ranks differ"):
        cgraph.function([], updates=[(s, s.sum())])
    with pytest.raises(ValueError, match="unknown mode"):
        cgraph.function([x], x, mode="GPU")


def test_c_source_is_readable_and_deterministic():
    def build():
        x = T.dvector("x")
        return cgraph.function([x], T.exp(x) * 2)

    f1, f2 = build(), build()
    assert f1.c_source == f2.c_source
    assert "/* v" in f1.c_source and "exp(" in f1.c_source
    assert "CG_KERNEL int k" in f1.c_source
    assert "Python.h" not in f1.c_source


def test_names_cannot_inject_c():
    x = T.dvector("x */ int evil; /*")
    f = cgraph.function([x], x + 1)
    assert "*/ int evil" not in f.c_source
    assert f.c_source.count("/*") == f.c_source.count("*/")
    np.testing.assert_array_equal(f([1.0]), [2.0])
