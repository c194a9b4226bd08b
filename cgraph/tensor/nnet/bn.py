"""Batch normalization (`cgraph.tensor.nnet.bn`), as in theano.tensor.nnet.bn.

Built from existing ops, so the compiled graph is the two reductions (the mean, then
the mean of the squared deviations) and a fused elementwise loop for the result,
plus small loops over the parameters' shape (the inverse standard deviation, the
running averages). Gradients follow from the graph.

Theano's choices kept: `axes` "per-activation" is (0,), "spatial" (0, 2, 3, ...);
the parameters (gamma, beta, mean, var, running averages) have the inputs' rank with
length 1 on `axes`, or that rank less len(axes) (the axes left out); epsilon, cast to
floatX, must be at least 1e-5 (so 1e-5 itself fails under floatX=float32, as in
Theano); the running variance takes the unbiased variance (m / (m - 1) times the
batch's, m the count of normalized elements); and, as Theano's op, the outputs other
than the normalized one (mean, invstd, the new running averages) pass no gradient.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.tensor import math as m
from cgraph.tensor.elemwise import cast
from cgraph.tensor.shape import shape_i
from cgraph.tensor.specify_shape import specify_broadcastable
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["batch_normalization", "batch_normalization_test", "batch_normalization_train"]


def _axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """Theano's normalization axes: "per-activation" (0,), "spatial" (0, 2, ...), or
    the given ints, sorted."""
    if isinstance(axes, str):
        named = {"per-activation": (0,), "spatial": (0, *range(2, ndim))}
        if axes not in named:
            raise ValueError(f"batch normalization: invalid axes {axes!r} (expected "
                             "'per-activation', 'spatial' or a tuple of ints)")
        found = named[axes]
    elif isinstance(axes, (tuple, list, np.ndarray)):
        found = tuple(sorted(int(a) for a in axes))
    else:
        raise ValueError(f"batch normalization: invalid axes {axes!r}")
    if not found:
        raise ValueError("batch normalization: there should be at least one "
                         "normalization axis")
    if min(found) < 0 or max(found) >= ndim:
        raise ValueError(f"batch normalization: axes should be less than ndim (<{ndim}), "
                         f"but {found} given")
    return found


class _Params:
    """How the parameters meet the inputs: of the inputs' rank (length 1 on the axes),
    or of the rank less the axes, then given length-1 axes there (and the outputs
    given back without them)."""

    def __init__(self, inputs: TensorVariable, axes: tuple[int, ...], gamma: Any):
        self.ndim, self.axes = inputs.ndim, axes
        self.kept = tuple(a for a in range(inputs.ndim) if a not in axes)
        self.full = as_tensor_variable(gamma).ndim == inputs.ndim

    def __call__(self, value: Any, what: str) -> TensorVariable:
        v = as_tensor_variable(value)
        want = self.ndim if self.full else len(self.kept)
        if v.ndim != want:
            raise ValueError(
                f"batch normalization: {what} ({v.type}) must have {self.ndim} dimensions "
                f"(length 1 on the axes {self.axes}) or {len(self.kept)} (without them), "
                f"as gamma decides; got {v.ndim}")
        if self.full:
            for a in self.axes:
                if v.type.shape[a] not in (None, 1):
                    raise ValueError(f"batch normalization: {what} {v.type} must have "
                                     f"length 1 on the normalization axis {a}")
            # broadcast along the axes, as Theano's addbroadcast there (its rule: only
            # an axis of static length 1 broadcasts); each call checks the length
            return specify_broadcastable(v, *self.axes)
        pattern = ["x"] * self.ndim
        for i, a in enumerate(self.kept):
            pattern[a] = i
        return v.dimshuffle(*pattern)

    def back(self, v: TensorVariable) -> TensorVariable:
        """An output of the parameters' shape, as the parameters were given."""
        return v if self.full else v.dimshuffle(*self.kept)


def _epsilon(epsilon: float, dtype: str) -> np.ndarray:
    # Theano checks epsilon once cast to floatX: float32(1e-5) < 1e-5
    if np.asarray(epsilon, dtype=config.floatX) < 1e-5:
        raise ValueError(f"batch normalization: epsilon must be at least 1e-5, got "
                         f"{epsilon}")
    return np.asarray(epsilon, dtype=dtype)


def _float_input(inputs: Any) -> TensorVariable:
    x = as_tensor_variable(inputs)
    if not x.dtype.startswith("float"):
        x = cast(x, config.floatX)
    return x


def batch_normalization_train(inputs: Any, gamma: Any, beta: Any,
                              axes: Any = "per-activation", epsilon: float = 1e-4,
                              running_average_factor: float = 0.1,
                              running_mean: Any = None, running_var: Any = None
                              ) -> tuple[TensorVariable, ...]:
    """Normalize `inputs` over `axes` with the batch's statistics (Theano's signature).

    out = (inputs - mean) * (gamma * invstd) + beta, with mean and the (biased)
    variance over `axes` and invstd = 1 / sqrt(var + epsilon).

    Returns
    -------
    (out, mean, invstd), and with `running_mean` and `running_var` also
    (new_running_mean, new_running_var): running * (1 - factor) + batch's * factor,
    the variance unbiased (m / (m - 1), m the normalized count). mean, invstd and the
    running averages have the parameters' shape.
    """
    from cgraph.gradient import zero_grad  # cgraph.gradient imports the compiler

    x = _float_input(inputs)
    axes = _axes(axes, x.ndim)
    params = _Params(x, axes, gamma)
    g, b = params(gamma, "gamma"), params(beta, "beta")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch normalization: running_mean and running_var must either "
                         "both be given or both be None")
    eps = _epsilon(epsilon, x.dtype)
    mean = m.mean(x, axis=axes, keepdims=True)
    # (mean - x)^2 equals (x - mean)^2 bit for bit; written apart, the deviations are
    # not one array both loops read: the sum of squares fuses into its reduction and
    # the result's loop computes x - mean again
    var = m.mean(m.sqr(m.sub(mean, x)), axis=axes, keepdims=True)
    invstd = m.inv(m.sqrt(m.add(var, eps)))
    out = m.add(m.mul(m.sub(x, mean), m.mul(g, invstd)), b)
    results = [out, params.back(zero_grad(mean)), params.back(zero_grad(invstd))]
    if running_mean is not None:
        factor = np.asarray(running_average_factor, dtype=x.dtype)
        keep = np.asarray(1.0 - running_average_factor, dtype=x.dtype)
        count = cast(math.prod(shape_i(x, a) for a in axes), x.dtype)
        unbiased = m.mul(m.true_div(count, m.sub(count, np.asarray(1, dtype=x.dtype))), var)
        for running, batch in ((params(running_mean, "running_mean"), mean),
                               (params(running_var, "running_var"), unbiased)):
            new = m.add(m.mul(running, keep), m.mul(zero_grad(batch), factor))
            results.append(params.back(new))
    return tuple(results)


def batch_normalization_test(inputs: Any, gamma: Any, beta: Any, mean: Any, var: Any,
                             axes: Any = "per-activation", epsilon: float = 1e-4
                             ) -> TensorVariable:
    """Normalize `inputs` with given statistics (Theano's signature):
    (inputs - mean) * (gamma / sqrt(var + epsilon)) + beta, the parameters shaped as
    for `batch_normalization_train`."""
    x = _float_input(inputs)
    axes = _axes(axes, x.ndim)
    params = _Params(x, axes, gamma)
    g, b = params(gamma, "gamma"), params(beta, "beta")
    mu, v = params(mean, "mean"), params(var, "var")
    eps = _epsilon(epsilon, x.dtype)
    return m.add(m.mul(m.sub(x, mu), m.true_div(g, m.sqrt(m.add(v, eps)))), b)


def batch_normalization(inputs: Any, gamma: Any, beta: Any, mean: Any, std: Any,
                        mode: str = "low_mem") -> TensorVariable:
    """(inputs - mean) * gamma / std + beta, every operand broadcast (Theano's
    elementwise form): "low_mem" computes ((inputs - mean) * gamma) / std + beta per
    element, "high_mem" (inputs - mean) * (gamma / std) + beta. Both are one fused
    loop in C."""
    if mode == "low_mem":
        return m.add(m.true_div(m.mul(m.sub(inputs, mean), gamma), std), beta)
    if mode == "high_mem":
        return m.add(m.mul(m.sub(inputs, mean), m.true_div(gamma, std)), beta)
    raise ValueError(f'batch_normalization: mode must be either "low_mem" or "high_mem", '
                     f"got {mode!r}")
