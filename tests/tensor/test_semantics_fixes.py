"""Op semantics that must equal numpy (and Theano's rules) exactly: switch and fill keep
their operands' dtypes, var/std past the degrees of freedom, gradients through integer
outputs, Function.loop over plans that change per step, scan's n_steps, loop's counts."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.gradient import grad, jacobian
from cgraph.ifelse import ifelse
from cgraph.scan import scan

I64 = np.iinfo(np.int64)
U64 = np.iinfo(np.uint64)


def vec(dtype: str, name: str) -> T.TensorVariable:
    return T.TensorType(dtype, (None,)).make_variable(name)


def assert_exact(got: np.ndarray, want: np.ndarray) -> None:
    got = np.asarray(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want, strict=True)


# --------------------------------------------------------------------------- switch / fill

CONDS = {
    "float32": np.array([1, 0, 0.5, -0.0, np.nan, 1e-30, 0], np.float32),
    "float64": np.array([0, 2.5, -0.0, np.nan, 0, -1, 1e-300], np.float64),
    "uint64": np.array([U64.max, 0, 2**63, 0, 1, 0, 7], np.uint64),
    "int64": np.array([I64.min, 0, -1, 0, I64.max, 0, 1], np.int64),
    "bool": np.array([1, 0, 1, 0, 1, 1, 0], bool),
}
BRANCHES = {
    "int64": (np.array([I64.max, 2**53 + 1, I64.min, 3, -2**53 - 1, I64.max - 1, 9], np.int64),
              np.array([2**53 + 1, I64.max, 5, I64.min + 1, I64.min, 2**62 + 3, -7], np.int64)),
    "uint64": (np.array([U64.max, 2**63 + 1, 0, 2**53 + 1, 5, U64.max - 1, 1], np.uint64),
               np.array([2**64 - 3, 1, U64.max, 0, 2**63, 2**53 + 3, 8], np.uint64)),
    "mixed": (np.array([U64.max, 2**63, 0, 1, 2, 3, 4], np.uint64),
              np.array([I64.min, -1, I64.max, 0, -5, 6, 7], np.int64)),
    "int8_float32": (np.array([127, -128, 1, 2, 3, 4, 5], np.int8),
                     np.array([0.1, 1e30, -2.5, np.inf, 3, 4, 5], np.float32)),
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_switch_equals_numpy_where(mode):
    """Every condition dtype with every pair of branches, in one function (one module)."""
    combos = [(cd, br) for cd in CONDS for br in BRANCHES]
    inputs, outputs, values = [], [], []
    for cd, br in combos:
        cv, (av, bv) = CONDS[cd], BRANCHES[br]
        c, a, b = vec(cd, f"c_{cd}_{br}"), vec(av.dtype.name, "a"), vec(bv.dtype.name, "b")
        inputs += [c, a, b]
        outputs.append(T.switch(c, a, b))
        values += [cv, av, bv]
    f = cgraph.function(inputs, outputs, mode=mode)
    for (cd, br), got in zip(combos, f(*values), strict=True):
        cv, (av, bv) = CONDS[cd], BRANCHES[br]
        want = np.where(cv, av, bv)
        assert np.asarray(got).dtype == want.dtype, (cd, br, np.asarray(got).dtype)
        np.testing.assert_array_equal(got, want, strict=True, err_msg=f"{cd} {br}")


@pytest.mark.parametrize("mode", MODES)
def test_switch_inside_a_fused_loop_keeps_int64(mode):
    cv, (av, bv) = CONDS["float32"], BRANCHES["int64"]
    c, a, b, z = vec("float32", "c"), vec("int64", "a"), vec("int64", "b"), vec("int64", "z")
    f = cgraph.function([c, a, b, z], T.switch(c * 2, a - z, b + z), mode=mode)
    zeros = np.zeros_like(av)
    assert_exact(f(cv, av, bv, zeros), np.where(cv * 2, av, bv))


@pytest.mark.parametrize("mode", MODES)
def test_switch_gradient_with_a_float_condition(mode):
    cv = np.array([1, 0, 0.5, np.nan, -0.0], np.float32)
    c, a, b = vec("float32", "c"), T.dvector("a"), T.dvector("b")
    out = T.switch(c, a, b)
    cost = T.sum(out * np.arange(1.0, 6.0))
    ga, gb, gc = grad(cost, [a, b, c])
    f = cgraph.function([c, a, b], [ga, gb, gc], mode=mode)
    got_a, got_b, got_c = f(cv, np.ones(5), np.ones(5))
    taken = (cv != 0) | np.isnan(cv)
    assert_exact(got_a, np.where(taken, np.arange(1.0, 6.0), 0.0))
    assert_exact(got_b, np.where(taken, 0.0, np.arange(1.0, 6.0)))
    assert_exact(got_c, np.zeros(5, np.float32))


FILL_VALUES = [np.int64(I64.max), np.int64(2**53 + 1), np.uint64(U64.max), np.float64(0.1),
               np.float32(1e-45)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_fill_gives_the_value_in_its_own_dtype(mode):
    """fill(model, value) (Theano's second): value's dtype and value, model's shape; every
    model dtype with every value in one function (one module)."""
    combos = [(md, value) for md in ["float32", "float64", "int8", "bool"] for value in FILL_VALUES]
    inputs, outputs, values = [], [], []
    for md, value in combos:
        m = T.TensorType(md, (None, None)).make_variable("m")
        v = T.TensorType(value.dtype.name, ()).make_variable("v")
        out = T.fill(m, v)
        assert out.dtype == value.dtype.name
        inputs += [m, v]
        outputs.append(out)
        values += [np.ones((2, 3), md), value]
    f = cgraph.function(inputs, outputs, mode=mode)
    for (md, value), got in zip(combos, f(*values), strict=True):
        want = np.full((2, 3), value, value.dtype)
        assert np.asarray(got).dtype == want.dtype, (md, value)
        np.testing.assert_array_equal(got, want, strict=True, err_msg=f"{md} {value!r}")


@pytest.mark.parametrize("mode", MODES)
def test_fill_gradient(mode):
    m, v = T.fmatrix("m"), T.dscalar("v")
    gm, gv = grad(T.sum(T.fill(m, v) * 3.0), [m, v])
    f = cgraph.function([m, v], [gm, gv], mode=mode)
    got_m, got_v = f(np.ones((2, 3), np.float32), 0.5)
    assert_exact(got_m, np.zeros((2, 3), np.float32))
    assert_exact(got_v, np.float64(18.0))


# --------------------------------------------------------------------------- var / std


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_var_std_past_the_degrees_of_freedom_follow_numpy(mode):
    """Static and unknown shapes, every axis, ddof up to past the count: one function."""
    xv = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    xs = {static: T.TensorType("float64", (2, 3) if static else (None, None)).make_variable("x")
          for static in (False, True)}
    combos = [(static, axis, ddof) for static in (False, True) for axis in (None, 0, 1)
              for ddof in (2, 3, 4, 7, 2.5)]
    outputs = []
    for static, axis, ddof in combos:
        outputs += [T.var(xs[static], axis=axis, ddof=ddof), T.std(xs[static], axis=axis,
                                                                  ddof=ddof)]
    f = cgraph.function(list(xs.values()), outputs, mode=mode)
    got = f(xv, xv)
    for k, (static, axis, ddof) in enumerate(combos):
        got_var, got_std = got[2 * k], got[2 * k + 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want_var, want_std = (np.var(xv, axis=axis, ddof=ddof),
                                  np.std(xv, axis=axis, ddof=ddof))
        where = f"static={static} axis={axis} ddof={ddof}"
        np.testing.assert_allclose(got_var, want_var, rtol=1e-15, err_msg=where)
        np.testing.assert_allclose(got_std, want_std, rtol=1e-15, err_msg=where)
        assert not np.any(np.asarray(got_var) < 0), where


# --------------------------------------------------------------------------- integer outputs


@pytest.mark.parametrize("static", [True, False])
def test_jacobian_of_an_integer_output_is_zero_like_grad(static):
    x = T.TensorType("float64", (3,) if static else (None,)).make_variable("x")
    y = T.cast(10 * x, "int64")
    f = cgraph.function([x], [jacobian(y, x), grad(T.sum(y), x)], on_unused_input="ignore")
    jac, g = f(np.array([0.1, 0.5, 2.0]))
    assert_exact(jac, np.zeros((3, 3)))
    assert_exact(g, np.zeros(3))
    # a float output keeps its Jacobian
    f = cgraph.function([x], jacobian(10 * x, x), on_unused_input="ignore")
    assert_exact(f(np.array([0.1, 0.5, 2.0])), 10 * np.eye(3))


def test_known_gradient_of_an_integer_variable_stops_there():
    x = T.dvector("x")
    y = T.cast(x * 3, "int32")
    g = grad(None, x, known_grads={y: T.ones_like(y)})
    f = cgraph.function([x], g, on_unused_input="ignore")
    assert_exact(f(np.array([1.5, -2.0])), np.zeros(2))


# --------------------------------------------------------------------------- Function.loop


def _loop_equals_python(f, shared, xs, **kw):
    start = [s.get_value() for s in shared]
    want = [f(x) for x in xs]
    after = [s.get_value() for s in shared]
    for s, v in zip(shared, start):
        s.set_value(v)
    got = f.loop(xs, record_every=1, **kw)
    assert_exact(got, np.array(want))
    for s, v in zip(shared, after):
        assert_exact(s.get_value(), v)


def test_loop_follows_an_ifelse_on_an_updated_scalar():
    x = T.dscalar("x")
    count = cgraph.shared(np.int64(0), name="count")
    total = cgraph.shared(np.float64(0.0), name="total")
    out = ifelse(T.lt(count, 2), x, -x)
    f = cgraph.function([x], out, updates=[(count, count + 1), (total, total + out)])
    _loop_equals_python(f, [count, total], np.arange(1.0, 7.0))


def test_loop_follows_an_ifelse_on_an_updated_array():
    x = T.dvector("x")
    w = cgraph.shared(np.zeros(3), name="w")
    out = ifelse(T.gt(T.sum(w), 4.0), T.sum(x * w), -T.sum(x))
    f = cgraph.function([x], out, updates=[(w, w + x)])
    _loop_equals_python(f, [w], np.ones((6, 3)))


def test_loop_follows_the_plan_of_each_minibatch():
    xb = T.dmatrix("xb")
    count = cgraph.shared(np.int64(0), name="count")
    w = cgraph.shared(np.ones(3), name="w")
    out = ifelse(T.lt(count, 2), T.sum(T.dot(xb, w)), -T.sum(xb))
    f = cgraph.function([xb], out, updates=[(count, count + 1), (w, w * 1.5)])
    X = np.arange(15.0).reshape(5, 3)
    want = [f(X[i:i + 2]) for _ in range(2) for i in range(0, 5, 2)]  # a short last batch
    after = count.get_value(), w.get_value()
    count.set_value(np.int64(0))
    w.set_value(np.ones(3))
    got = f.loop(X, epochs=2, batch_size=2, record_every=1)
    assert_exact(got, np.array(want))
    assert_exact(count.get_value(), after[0])
    assert_exact(w.get_value(), after[1])


def test_loop_follows_a_scan_length_read_from_an_updated_shared():
    k = cgraph.shared(np.int64(1), name="k")
    x = T.dvector("x")
    doubled, _ = scan(lambda h: h * 2, outputs_info=x, n_steps=k)
    f = cgraph.function([x], T.sum(doubled[-1]), updates=[(k, k + 1)])
    _loop_equals_python(f, [k], np.ones((4, 2)))


def test_loop_with_a_condition_the_updates_do_not_change():
    x = T.dscalar("x")
    flag = cgraph.shared(np.int64(1), name="flag")
    total = cgraph.shared(np.float64(0.0), name="total")
    out = ifelse(flag, x, -x)
    f = cgraph.function([x], out, updates=[(total, total + out)])
    _loop_equals_python(f, [total], np.arange(1.0, 9.0))


_BAD_EPOCHS = """
import math, numpy as np, cgraph, cgraph.tensor as T
x = T.dscalar("x")
total = cgraph.shared(np.float64(1.0), name="total")
f = cgraph.function([x], x, updates=[(total, total + x)])
for bad in [math.nan, 0.5, math.inf, -1, "3", None, True, 2.0, np.float64(3)]:
    try:
        f.loop(np.arange(3.0), epochs=bad)
    except (TypeError, ValueError) as err:
        assert "epochs" in str(err), err
    else:
        raise AssertionError(f"epochs={bad!r} was accepted")
    assert total.get_value() == 1.0, (bad, total.get_value())
try:
    f.loop(np.arange(3.0), batch_size=1.5)
except TypeError as err:
    assert "batch_size" in str(err), err
else:
    raise AssertionError("batch_size=1.5 was accepted")
f.loop(np.arange(3.0), epochs=np.int64(2))
assert total.get_value() == 7.0, total.get_value()
print("ok")
"""


def test_loop_refuses_bad_epochs_before_any_step():
    # In a subprocess: an infinite count must not hang the test session.
    result = subprocess.run([sys.executable, "-c", _BAD_EPOCHS], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# --------------------------------------------------------------------------- scan n_steps


def _running_sum(n_steps):
    x = T.dvector("x")
    out, _ = scan(lambda xt, h: h + xt, sequences=x, outputs_info=T.zeros(()),
                  n_steps=n_steps)
    return x, out


@pytest.mark.parametrize("mode", MODES)
def test_scan_negative_symbolic_n_steps_raises(mode):
    n = T.lscalar("n")
    x, out = _running_sum(n)
    f = cgraph.function([x, n], out, mode=mode)
    assert_exact(f(np.arange(5.0), 3), np.array([0.0, 1.0, 3.0]))
    assert_exact(f(np.arange(5.0), 0), np.zeros(0))
    for bad in (-1, -2, -7):
        with pytest.raises(ValueError, match="n_steps must be >= 0"):
            f(np.arange(5.0), bad)


def test_scan_negative_constant_or_float_n_steps_is_refused_when_built():
    with pytest.raises(ValueError, match="n_steps must be >= 0, got -2"):
        _running_sum(-2)
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        _running_sum(2.5)
    with pytest.raises(ValueError, match="give n_steps"):
        scan(lambda h: h + 1, outputs_info=T.zeros(()))
