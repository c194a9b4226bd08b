"""Neural-network ops (`cgraph.tensor.nnet`), as in theano.tensor.nnet.

Numerically stable forms: softplus is max(x, 0) + log1p(exp(-abs(x))) (no overflow at
+-1000); softmax and log_softmax subtract the maximum along the axis first. As in
Theano, softmax of a matrix normalises each row (axis=-1) unless `axis` says otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor import math as m
from cgraph.tensor.basic_ops import flatten, reshape, shape_list
from cgraph.tensor.conv import conv2d, conv3d
from cgraph.tensor.elemwise import Elemwise, ScalarOp, cast
from cgraph.tensor.math import sigmoid, to_float
from cgraph.tensor.nnet import abstract_conv, bn
from cgraph.tensor.reduce import expand_reduced, normalize_axes
from cgraph.tensor.reductions import MaxShift, logsumexp
from cgraph.tensor.shape import shape_i
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable


def _softplus_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(to_float([x.dtype.name]))


# max(x, 0) as a comparison, not fmax(): gcc vectorizes no loop calling fmax without
# -ffinite-math-only, so the loop ran scalar exp and log1p (float32 512x1000: 9.4 ms,
# numpy 0.45); a NaN still gives NaN through log1p
_softplus = Elemwise(ScalarOp(
    "softplus", 1, "((({t}){0} > 0 ? ({t}){0} : 0) + log1p(exp(-fabs(({t}){0}))))",
    _softplus_np,
    to_float, lambda x, o, gz: [m.mul(gz, sigmoid(x))], nonnegative=True))


def softplus(x: Any) -> TensorVariable:
    """log(1 + exp(x)), computed without overflow for large abs(x)."""
    return _softplus(x)


def relu(x: Any, alpha: float = 0.0) -> TensorVariable:
    """Rectified linear unit: x where x > 0, else alpha * x (Theano's relu)."""
    x = as_tensor_variable(x)
    neg = m.mul(np.asarray(alpha, dtype=x.dtype), x) if alpha else m.zeros_like(x)
    return m.switch(m.gt(x, 0), x, neg)


def elu(x: Any, alpha: float = 1.0) -> TensorVariable:
    """Exponential linear unit: x where x > 0, else alpha * (exp(x) - 1)."""
    x = as_tensor_variable(x)
    dtype = to_float([x.dtype])
    return m.switch(m.gt(x, 0), cast(x, dtype),
                    m.mul(np.asarray(alpha, dtype=dtype), m.expm1(x)))


def softmax(x: Any, axis: int | None = -1) -> TensorVariable:
    """exp(x) / sum(exp(x)) along `axis` (default the last: each row of a matrix; None:
    all axes); the maximum is subtracted first. Integers give floats.

    As in Theano, a vector gives a (1, n) row (Theano's softmax makes a vector a row
    first); `cgraph.tensor.special.softmax` (PyTensor's) keeps the vector.
    """
    x = as_tensor_variable(x)
    return softmax_keep_rank(x.dimshuffle("x", 0) if x.ndim == 1 else x, axis)


def softmax_keep_rank(x: Any, axis: int | None = -1) -> TensorVariable:
    """softmax with the result shaped as `x`, a vector too (PyTensor's `special.softmax`)."""
    x = as_tensor_variable(x)
    x = cast(x, to_float([x.dtype]))  # int8 - max(int8) could wrap around
    axes = normalize_axes(None if x.ndim == 0 else axis, x.ndim)  # 0-d: 1 (NaN stays)
    e = m.exp(m.sub(x, expand_reduced(MaxShift(axes)(x), x.ndim, axes)))
    return m.true_div(e, m.sum(e, axis=axes, keepdims=True))


def log_softmax(x: Any, axis: int | None = -1) -> TensorVariable:
    """log(softmax(x)) along `axis`, computed as x - logsumexp(x) (stable)."""
    x = as_tensor_variable(x)
    x = cast(x, to_float([x.dtype]))
    axes = normalize_axes(None if x.ndim == 0 else axis, x.ndim)
    return m.sub(x, logsumexp(x, axis=axes, keepdims=True))


class OneHot(Op):
    """Rows of `n` zeros with a 1 at each label; `n` is a constant or, when None, the
    length of the last axis of a second input. Labels out of range raise IndexError."""

    __props__ = ("n", "dtype")

    def __init__(self, n: int | None, dtype: str):
        self.n, self.dtype = n, dtype

    def make_node(self, labels: Any, *like: Any) -> Apply:
        labels = as_tensor_variable(labels)
        if labels.ndim != 1 or not (labels.dtype.startswith(("int", "uint"))):
            raise TypeError(f"one_hot: labels must be an integer vector, not {labels.type}")
        like_vars = [as_tensor_variable(v) for v in like]
        n = self.n if self.n is not None else like_vars[0].type.shape[-1]
        out = TensorType(self.dtype, (labels.type.shape[0], n)).make_variable()
        return Apply(self, [labels, *like_vars], [out])

    def _n(self, shapes: list[tuple[int, ...]]) -> int:
        return self.n if self.n is not None else shapes[1][-1]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [(shapes[0][0], self._n(shapes))]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        labels, n = inputs[0], self._n([v.shape for v in inputs])
        if labels.size and (labels.min() < 0 or labels.max() >= n):
            raise IndexError(f"one_hot: a label is out of range [0, {n}): {labels}")
        return [np.asarray(labels[:, None] == np.arange(n), dtype=self.dtype)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [None] * len(inputs)



class OneHotKernel(KernelBuilder):
    """OneHot: each row zero but a 1 at its label; a label out of range is an
    IndexError (templates/one_hot.c.j2)."""

    family = "one_hot"

    def layout(self, node: Apply) -> ParamLayout:
        return ParamLayout(self.family, rows=1, n=1, label_stride=1)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        (rows,), (st,) = in_layouts[0]
        return kernel.layout.build(rows=rows, n=node.op._n(in_shapes), label_stride=st)


register_kernel(OneHotKernel(), OneHot)


def _labels_one_hot(labels: TensorVariable, op: OneHot, *like: TensorVariable
                    ) -> TensorVariable:
    """`op` applied to integer labels of any rank: rows for the flattened labels, then
    the labels' shape with a last axis of the classes."""
    if labels.ndim == 1:
        return op(labels, *like)
    if not labels.dtype.startswith(("int", "uint")):
        raise TypeError(f"one_hot: labels must be integers, not {labels.type}")
    rows = op(flatten(labels), *like)
    return reshape(rows, [*shape_list(labels), shape_i(rows, 1)])


def one_hot(labels: Any, n: int, dtype: str | None = None) -> TensorVariable:
    """A 1 at each integer label among `n` zeros: shape `labels.shape + (n,)`, so an
    (len(labels), n) matrix for a label vector (dtype floatX by default). Labels out
    of range raise IndexError when the function is called."""
    labels = as_tensor_variable(labels)
    return _labels_one_hot(labels, OneHot(int(n), dtype or config.floatX))


to_one_hot = one_hot


def _sigmoid_input(v: TensorVariable) -> TensorVariable | None:
    """x when `v` is sigmoid(x) (so that crossentropies can use its stable form)."""
    owner = v.owner
    if owner is not None and isinstance(owner.op, Elemwise) and owner.op.scalar_op.name == \
            "sigmoid":
        return owner.inputs[0]
    return None


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> TensorVariable:
    """-sum(true_dist * log(coding_dist), axis=-1) for one-hot (or soft) targets, or
    -log(coding_dist[..., true_dist[...]]) for integer labels of one rank less (a label
    vector for a matrix of rows, or labels (batch, time) for (batch, time, classes)).
    Labels out of range raise IndexError when the function is called."""
    coding_dist, true_dist = as_tensor_variable(coding_dist), as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim - 1:
        true_dist = _labels_one_hot(true_dist, OneHot(None, coding_dist.dtype), coding_dist)
    elif true_dist.ndim != coding_dist.ndim:
        raise TypeError(f"categorical_crossentropy: true_dist {true_dist.type} must be of "
                        f"the rank of coding_dist {coding_dist.type} or one less")
    return m.neg(m.sum(m.mul(true_dist, m.log(coding_dist)), axis=-1))


def sigmoid_binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """binary_crossentropy(sigmoid(output), target) for pre-sigmoid `output` (Theano's),
    computed as target * softplus(-output) + (1 - target) * softplus(output): finite,
    accurate near 0, with the finite gradient sigmoid(output) - target, whatever the size
    of output."""
    output, target = as_tensor_variable(output), as_tensor_variable(target)
    return m.add(m.mul(target, softplus(m.neg(output))),
                 m.mul(m.sub(1, target), softplus(output)))


def binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """-(target * log(output) + (1 - target) * log(1 - output)), elementwise.

    When `output` is `sigmoid(z)`, this is `sigmoid_binary_crossentropy(z, target)`,
    whose value and gradient stay finite where sigmoid(z) rounds to 0 or 1.
    """
    output, target = as_tensor_variable(output), as_tensor_variable(target)
    z = _sigmoid_input(output)
    if z is not None:
        return sigmoid_binary_crossentropy(z, target)
    return m.neg(m.add(m.mul(target, m.log(output)),
                       m.mul(m.sub(1, target), m.log(m.sub(1, output)))))


__all__ = ["abstract_conv", "binary_crossentropy", "bn", "categorical_crossentropy", "conv2d",
           "conv3d", "elu", "log_softmax",
           "one_hot", "relu", "sigmoid", "sigmoid_binary_crossentropy", "softmax", "softplus",
           "to_one_hot"]
