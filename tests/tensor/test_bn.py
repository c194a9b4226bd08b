"""Batch normalization (cgraph.tensor.nnet.bn) against numpy written here from Theano's
definitions (AbstractBatchNormTrain / Inference, BNComposite), in modes C and PY;
gradients by verify_grad."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.tensor.nnet import bn
from cgraph.tensor.type import TensorType


def train_reference(x, gamma, beta, axes, eps, factor, rmean, rvar):
    """Theano's AbstractBatchNormTrain.perform; the parameters broadcast to x."""
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    invstd = 1.0 / np.sqrt(var + eps)
    out = (x - mean) * (gamma * invstd) + beta
    count = x.size / mean.size
    new_mean = rmean * (1.0 - factor) + mean * factor
    new_var = rvar * (1.0 - factor) + (count / (count - 1)) * var * factor
    return out, mean, invstd, new_mean, new_var


# name: (input shape, axes, whether the parameters keep the input's rank)
CASES = {
    "per_activation_matrix": ((6, 4), "per-activation", False),
    "per_activation_full_rank": ((5, 3), "per-activation", True),
    "spatial_4d": ((4, 3, 5, 6), "spatial", False),
    "spatial_4d_full_rank": ((3, 2, 4, 5), "spatial", True),
    "axes_tuple_3d": ((4, 5, 3), (2, 0), False),
}


def _param_shape(shape, axes, full):
    return tuple(1 if a in axes else n for a, n in enumerate(shape)) if full else tuple(
        n for a, n in enumerate(shape) if a not in axes)


def _numeric_axes(axes, ndim):
    if axes == "per-activation":
        return (0,)
    if axes == "spatial":
        return (0, *range(2, ndim))
    return tuple(sorted(axes))


def _broadcast(p, shape, axes, full):
    """A parameter of _param_shape, with length-1 axes on `axes`."""
    return p if full else np.expand_dims(p, axes)


def _train_case(case):
    """One case's graphs (with running averages: 5 outputs; without: 3), its input
    values and the numpy results of both."""
    shape, axes, full = CASES[case]
    num_axes = _numeric_axes(axes, len(shape))
    pshape = _param_shape(shape, num_axes, full)
    rng = rng_for("bn", case)
    x_val = rng.standard_normal(shape) * 3 + 1
    g_val, b_val, rm_val = (rng.standard_normal(pshape) for _ in range(3))
    rv_val = rng.uniform(0.5, 2, pshape)
    x = TensorType("float64", (None,) * len(shape))("x")
    g, b, rm, rv = (TensorType("float64", (None,) * len(pshape))(n)
                    for n in ("g", "b", "rm", "rv"))
    outs = bn.batch_normalization_train(x, g, b, axes, epsilon=1e-3,
                                        running_average_factor=0.3, running_mean=rm,
                                        running_var=rv)
    outs3 = bn.batch_normalization_train(x, g, b, axes)  # without running averages
    assert len(outs) == 5 and len(outs3) == 3, case
    bc = [_broadcast(p, shape, num_axes, full) for p in (g_val, b_val, rm_val, rv_val)]
    want = train_reference(x_val, *bc[:2], num_axes, 1e-3, 0.3, *bc[2:])
    want = [r if k == 0 or full else r.reshape(pshape) for k, r in enumerate(want)]
    want3 = train_reference(x_val, *bc[:2], num_axes, 1e-4, 0.1, *bc[2:])[0]
    return [x, g, b, rm, rv], [*outs, *outs3], [x_val, g_val, b_val, rm_val, rv_val], (
        want, want3)


@pytest.mark.parametrize("mode", MODES)
def test_train_with_running_averages(mode):
    """Every case of CASES, with and without running averages, in one compiled function;
    a failure names the case and the output."""
    inputs, outputs, values, wanted = [], [], [], {}
    for case in sorted(CASES):
        ins, outs, vals, wanted[case] = _train_case(case)
        inputs += ins
        outputs += outs
        values += vals
    got = cgraph.function(inputs, outputs, mode=mode)(*values)
    for j, case in enumerate(sorted(CASES)):
        mine, (want, want3) = got[8 * j:8 * j + 8], wanted[case]
        for k, (a, r) in enumerate(zip(mine[:5], want)):
            assert a.shape == r.shape, (case, k, a.shape, r.shape)
            np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{case}: output {k}")
        np.testing.assert_allclose(mine[5], want3, rtol=1e-12, atol=1e-12,
                                   err_msg=f"{case}: without running averages")


@pytest.mark.parametrize("mode", MODES)
def test_float32_stays_float32(mode):
    rng = rng_for("bn32")
    x_val = rng.standard_normal((8, 3, 4, 4)).astype("float32")
    g_val, b_val = (rng.standard_normal(3).astype("float32") for _ in range(2))
    x, g, b = T.tensor4("x", dtype="float32"), T.vector("g", dtype="float32"), \
        T.vector("b", dtype="float32")
    out, mean, invstd = bn.batch_normalization_train(x, g, b, "spatial")
    test_out = bn.batch_normalization_test(x, g, b, mean, 1.0 / invstd ** 2, "spatial")
    f = cgraph.function([x, g, b], [out, mean, invstd, test_out], mode=mode)
    got = f(x_val, g_val, b_val)
    assert all(a.dtype == np.float32 for a in got)
    want = train_reference(x_val.astype(float), g_val[None, :, None, None],
                           b_val[None, :, None, None], (0, 2, 3), 1e-4, 0.1, 0, 0)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[2], want[2].ravel(), rtol=1e-4)
    # the test-mode formula with the batch's statistics: the same normalization
    np.testing.assert_allclose(got[3], want[0], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("full", [False, True])
def test_inference(mode, full):
    shape, num_axes = (4, 3, 5), (0, 2)
    pshape = _param_shape(shape, num_axes, full)
    rng = rng_for("bn-test", full)
    x_val = rng.standard_normal(shape)
    g_val, b_val, m_val = (rng.standard_normal(pshape) for _ in range(3))
    v_val = rng.uniform(0.5, 2, pshape)
    x = T.tensor3("x")
    ps = [TensorType("float64", (None,) * len(pshape))(n) for n in "gbmv"]
    out = bn.batch_normalization_test(x, *ps, axes=(0, 2), epsilon=1e-3)
    f = cgraph.function([x, *ps], out, mode=mode)
    g, b, mu, v = (_broadcast(p, shape, num_axes, full) for p in (g_val, b_val, m_val, v_val))
    want = (x_val - mu) * (g / np.sqrt(v + 1e-3)) + b
    np.testing.assert_allclose(f(x_val, g_val, b_val, m_val, v_val), want, rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bn_mode", ["low_mem", "high_mem"])
def test_batch_normalization_elementwise(mode, bn_mode):
    rng = rng_for("bn-elemwise", bn_mode)
    x_val = rng.standard_normal((5, 4))
    g_val, b_val, m_val = (rng.standard_normal(4) for _ in range(3))
    s_val = rng.uniform(0.5, 2, 4)
    x, g, b, mu, s = T.matrix("x"), T.vector("g"), T.vector("b"), T.vector("m"), T.vector("s")
    f = cgraph.function([x, g, b, mu, s], bn.batch_normalization(x, g, b, mu, s, bn_mode),
                        mode=mode)
    want = (x_val - m_val) * g_val / s_val + b_val
    np.testing.assert_allclose(f(x_val, g_val, b_val, m_val, s_val), want, rtol=1e-12)
    if mode == "C":  # one loop of the input's size (high_mem: gamma / std apart)
        kernels = [line for line in f.c_source.splitlines() if line.startswith("/* v")]
        assert len([k for k in kernels if "float64[?,?]" in k]) == 1, kernels
        assert len(kernels) == (1 if bn_mode == "low_mem" else 2), kernels


def test_gradients():
    rng = rng_for("bn-grad")
    x_val = rng.standard_normal((5, 3, 2, 2))
    g_val, b_val = rng.standard_normal(3), rng.standard_normal(3)
    cases = {
        "train spatial": (lambda x, g, b: bn.batch_normalization_train(x, g, b, "spatial")[0],
                          [x_val, g_val, b_val]),
        "train (0, 1)": (lambda x, g, b: bn.batch_normalization_train(x, g, b, (0, 1))[0],
                         [rng.standard_normal((4, 3, 2)), rng.standard_normal(2),
                          rng.standard_normal(2)]),
    }
    m_val, v_val = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    cases["test spatial"] = (
        lambda x, g, b, mu, v: bn.batch_normalization_test(x, g, b, mu, v, "spatial"),
        [x_val, g_val, b_val, m_val, v_val])
    for bn_mode in ("low_mem", "high_mem"):
        cases[bn_mode] = (
            lambda x, g, b, mu, s, k=bn_mode: bn.batch_normalization(x, g, b, mu, s, k),
            [x_val[:, :, 0, 0], g_val, b_val, m_val, v_val])
    verify_grad_cases(cases, rng=rng)  # one compiled module for the five checks


@pytest.mark.parametrize("mode", MODES)
def test_the_statistics_outputs_pass_no_gradient(mode):
    """As Theano's op: only the normalized output carries a gradient to the inputs."""
    x, g, b = T.matrix("x"), T.vector("g"), T.vector("b")
    rm, rv = T.vector("rm"), T.vector("rv")
    out, mean, invstd, new_m, new_v = bn.batch_normalization_train(
        x, g, b, running_mean=rm, running_var=rv)
    cost = mean.sum() + invstd.sum() + new_m.sum() + new_v.sum()
    f = cgraph.function([x, g, b, rm, rv], cgraph.grad(cost, x), mode=mode,
                        on_unused_input="ignore")
    x_val = rng_for("bn-zero").standard_normal((4, 3))
    np.testing.assert_array_equal(f(x_val, np.ones(3), np.zeros(3), np.zeros(3),
                                    np.ones(3)), np.zeros((4, 3)))


def test_bad_input():
    x, g = T.tensor4("x"), T.vector("g")
    with pytest.raises(ValueError, match="invalid axes 'channels'"):
        bn.batch_normalization_train(x, g, g, "channels")
    with pytest.raises(ValueError, match=r"axes should be less than ndim \(<4\)"):
        bn.batch_normalization_train(x, g, g, (0, 4))
    with pytest.raises(ValueError, match="at least one normalization axis"):
        bn.batch_normalization_train(x, g, g, ())
    with pytest.raises(ValueError, match=r"gamma .* must have 4 dimensions .* or 3"):
        bn.batch_normalization_train(x, g, g, "per-activation")
    with pytest.raises(ValueError, match=r"beta .* must have 4 dimensions .* or 1 .*got 2"):
        bn.batch_normalization_train(x, g, T.matrix(), "spatial")
    with pytest.raises(ValueError, match="running_mean and running_var must either"):
        bn.batch_normalization_train(x, g, g, "spatial", running_mean=g)
    with pytest.raises(ValueError, match="epsilon must be at least 1e-5"):
        bn.batch_normalization_train(x, g, g, "spatial", epsilon=1e-6)
    with pytest.raises(ValueError, match="length 1 on the normalization axis 0"):
        bn.batch_normalization_test(x, *[TensorType("float64", (2, None, 1, 1))()] * 4)
    with pytest.raises(ValueError, match='mode must be either "low_mem" or "high_mem"'):
        bn.batch_normalization(x, g, g, g, g, mode="fast")
