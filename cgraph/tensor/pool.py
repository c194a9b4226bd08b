"""2-D pooling as in Theano's `theano.tensor.signal.pool` (exposed there as
`cgraph.tensor.signal.pool`): `pool_2d` and the ops `Pool`, `MaxPoolGrad`,
`AveragePoolGrad`, `DownsampleFactorMaxGradGrad`, with one C kernel family
(`templates/pool2d.c.j2`: block kernels for windows that tile the image,
pool2d_tiled.c.j2; row kernels for the other windows, pool2d_rows.c.j2; a general loop
for rows wider than their buffers and for the gradient's gradient).

Windows follow Theano: window r starts at r * stride in the padded image and ends at
the padded image's end at the latest; max, sum and average_exc_pad read its part in
the image, average_inc_pad divides by its size in the padded image (ws[0] * ws[1]
with ignore_border). Max pooling's gradient goes to every position of the window
equal to the maximum (ties all get it, as in Theano's C MaxPoolGrad), summed over
overlapping windows. Where Theano gives an empty output, a window larger than the
padded image with ignore_border=True, cgraph raises ValueError.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, user_line
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.basic_ops import reshape
from cgraph.tensor.math import mul, zeros_like
from cgraph.tensor.shape import shape_i
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

__all__ = ["AveragePoolGrad", "DownsampleFactorMaxGradGrad", "MaxPoolGrad", "Pool",
           "pool_2d"]

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _pair(value: Any, what: str, minimum: int) -> tuple[int, int]:
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 for v in pair) or min(pair) < minimum:
        raise ValueError(f"pool_2d: {what} must be a pair of ints >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def out_length(size: int, ws: int, stride: int, pad: int, ignore_border: bool) -> int:
    """Theano's Pool.out_shape along one axis (-1 when a window does not fit)."""
    padded = size + 2 * pad
    if ignore_border:
        return -1 if padded < ws else (padded - ws) // stride + 1
    if stride >= ws:
        return (padded - 1) // stride + 1
    return max(0, (padded - 1 - ws) // stride + 1) + 1


def windows(size: int, n_out: int, ws: int, stride: int, pad: int
            ) -> Iterator[tuple[int, int, int]]:
    """(start, end) in the image and the size in the padded image of each window."""
    for r in range(n_out):
        start = r * stride
        end = min(start + ws, size + 2 * pad)
        yield max(start - pad, 0), min(end - pad, size), end - start


class _Pool(Op):
    """The pooling parameters and the output shape rule shared by the pool ops."""

    __props__ = ("ws", "ignore_border", "stride", "pad", "mode")
    #: the kernel's kind (templates/pool2d.c.j2)
    kind = ""

    def __init__(self, ws: Any, ignore_border: bool = True, stride: Any = None,
                 pad: Any = (0, 0), mode: str = "max"):
        self.ws = _pair(ws, "ws", 1)
        self.stride = self.ws if stride is None else _pair(stride, "stride", 1)
        self.pad = _pair(pad, "pad", 0)
        self.ignore_border = bool(ignore_border)
        if mode not in MODES:
            raise ValueError(f"pool_2d: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        if self.pad != (0, 0) and not self.ignore_border:
            raise NotImplementedError("pool_2d: padding works only with ignore_border=True")
        if self.pad[0] >= self.ws[0] or self.pad[1] >= self.ws[1]:
            raise NotImplementedError(f"pool_2d: the padding {self.pad} must be smaller than "
                                      f"the window {self.ws}")

    def pooled(self, shape: Sequence) -> tuple:
        """The pooled shape of an image batch `shape` (None entries stay unknown).
        Raises ValueError when a window does not fit (ignore_border) or the image has
        no rows or columns."""
        spatial = []
        for axis, (size, ws, st, pad) in enumerate(zip(shape[2:], self.ws, self.stride,
                                                      self.pad)):
            if size is None:
                spatial.append(None)
                continue
            n = out_length(size, ws, st, pad, self.ignore_border)
            if n < 0 or size == 0:
                raise ValueError(
                    f"{type(self).__name__}: the window {self.ws} (pad {self.pad}) does not "
                    f"fit the input {tuple(shape)} (axis {axis + 2} has {size} "
                    f"{'rows' if axis == 0 else 'columns'}; ignore_border="
                    f"{self.ignore_border})")
            spatial.append(n)
        return tuple(shape[:2]) + tuple(spatial)

    def _static(self, x: TensorVariable) -> tuple:
        try:
            return self.pooled(x.type.shape)
        except ValueError as err:
            where = user_line()
            raise ValueError(f"{err}{' (at ' + where + ')' if where else ''}") from None

    def _inputs(self, *args: Any) -> list[TensorVariable]:
        xs = [as_tensor_variable(a) for a in args]
        for k, v in enumerate(xs):
            if v.ndim != 4 or v.dtype not in ("float32", "float64") or v.dtype != xs[0].dtype:
                raise TypeError(f"{type(self).__name__}: input {k} must be a 4-d tensor of "
                                f"float32 or float64 like input 0, got {v.type}")
        return xs

    def _regions(self, shape: tuple) -> Iterator[tuple]:
        """(i, j, rows slice, cols slice, size in the padded image) of each window."""
        out = self.pooled(shape)
        rows = list(windows(shape[2], out[2], self.ws[0], self.stride[0], self.pad[0]))
        cols = list(windows(shape[3], out[3], self.ws[1], self.stride[1], self.pad[1]))
        for i, (r0, r1, rn) in enumerate(rows):
            for j, (c0, c1, cn) in enumerate(cols):
                size = rn * cn if self.mode == "average_inc_pad" else (r1 - r0) * (c1 - c0)
                yield i, j, slice(r0, r1), slice(c0, c1), size


class Pool(_Pool):
    """Pooling of the last two axes of a 4-d tensor (batch, channels, rows, cols)."""

    kind = "pool"

    def make_node(self, x: Any) -> Apply:
        (x,) = self._inputs(x)
        return Apply(self, [x], [TensorType(x.dtype, self._static(x)).make_variable()])

    def infer_shape(self, node: Apply, shapes: list, values: Any = None) -> list:
        return [self.pooled(shapes[0])]

    def perform(self, node: Apply, inputs: list) -> list:
        (x,) = inputs
        out = np.empty(self.pooled(x.shape), dtype=x.dtype)
        for i, j, rows, cols, size in self._regions(x.shape):
            region = x[:, :, rows, cols]
            if self.mode == "max":
                out[:, :, i, j] = region.max(axis=(2, 3))
            else:
                total = region.sum(axis=(2, 3))
                out[:, :, i, j] = total if self.mode == "sum" else total / x.dtype.type(size)
        return [out]

    def grad(self, inputs: list, output_grads: list) -> list:
        (x,), (gz,) = inputs, output_grads
        params = [getattr(self, p) for p in self.__props__]
        if self.mode == "max":
            return [MaxPoolGrad(*params)(x, self(x), gz)]
        return [AveragePoolGrad(*params)(x, gz)]


class MaxPoolGrad(_Pool):
    """(x, maxout, gz) -> the gradient wrt x of max pooling: gz of each window added at
    every position of the window where x equals the window's maximum."""

    kind = "maxgrad"

    def make_node(self, x: Any, maxout: Any, gz: Any) -> Apply:
        x, maxout, gz = self._inputs(x, maxout, gz)
        return Apply(self, [x, maxout, gz], [x.type.make_variable()])

    def infer_shape(self, node: Apply, shapes: list, values: Any = None) -> list:
        _check_pooled(self, shapes[0], shapes[1:])
        return [tuple(shapes[0])]

    def perform(self, node: Apply, inputs: list) -> list:
        x, maxout, gz = inputs
        gx = np.zeros(x.shape, dtype=x.dtype)
        for i, j, rows, cols, _ in self._regions(x.shape):
            hit = x[:, :, rows, cols] == maxout[:, :, i, j, None, None]
            gx[:, :, rows, cols] += hit * gz[:, :, i, j, None, None]
        return [gx]

    def grad(self, inputs: list, output_grads: list) -> list:
        x, maxout, _ = inputs
        (ggx,) = output_grads
        params = [getattr(self, p) for p in self.__props__]
        return [zeros_like(x), zeros_like(maxout),
                DownsampleFactorMaxGradGrad(*params)(x, maxout, ggx)]


class AveragePoolGrad(_Pool):
    """(x, gz) -> the gradient wrt x of sum or average pooling (x gives the shape)."""

    kind = "avggrad"

    def make_node(self, x: Any, gz: Any) -> Apply:
        x, gz = self._inputs(x, gz)
        return Apply(self, [x, gz], [x.type.make_variable()])

    def infer_shape(self, node: Apply, shapes: list, values: Any = None) -> list:
        _check_pooled(self, shapes[0], shapes[1:])
        return [tuple(shapes[0])]

    def perform(self, node: Apply, inputs: list) -> list:
        x, gz = inputs
        gx = np.zeros(x.shape, dtype=x.dtype)
        for i, j, rows, cols, size in self._regions(x.shape):
            scale = 1 if self.mode == "sum" else size
            gx[:, :, rows, cols] += (gz[:, :, i, j] / x.dtype.type(scale))[:, :, None, None]
        return [gx]

    def grad(self, inputs: list, output_grads: list) -> list:
        x, _ = inputs
        (ggx,) = output_grads
        return [zeros_like(x), Pool(*[getattr(self, p) for p in self.__props__])(ggx)]


class DownsampleFactorMaxGradGrad(_Pool):
    """(x, maxout, ggx) -> the gradient wrt gz of MaxPoolGrad: per window, the sum of
    ggx where x equals the maximum (Theano's C)."""

    kind = "gradgrad"

    def make_node(self, x: Any, maxout: Any, ggx: Any) -> Apply:
        x, maxout, ggx = self._inputs(x, maxout, ggx)
        return Apply(self, [x, maxout, ggx], [maxout.type.make_variable()])

    def infer_shape(self, node: Apply, shapes: list, values: Any = None) -> list:
        _check_pooled(self, shapes[0], shapes[1:2])
        if tuple(shapes[2]) != tuple(shapes[0]):
            raise ValueError(f"{type(self).__name__}: ggx {tuple(shapes[2])} does not have "
                             f"the shape of x {tuple(shapes[0])}")
        return [tuple(shapes[1])]

    def perform(self, node: Apply, inputs: list) -> list:
        x, maxout, ggx = inputs
        out = np.zeros(maxout.shape, dtype=x.dtype)
        for i, j, rows, cols, _ in self._regions(x.shape):
            hit = x[:, :, rows, cols] == maxout[:, :, i, j, None, None]
            out[:, :, i, j] = (hit * ggx[:, :, rows, cols]).sum(axis=(2, 3))
        return [out]

    def grad(self, inputs: list, output_grads: list) -> list:
        x, maxout, _ = inputs
        (g,) = output_grads
        params = [getattr(self, p) for p in self.__props__]
        return [zeros_like(x), zeros_like(maxout), MaxPoolGrad(*params)(x, maxout, g)]


def _check_pooled(op: _Pool, x_shape: Sequence, pooled: Sequence) -> None:
    expect = op.pooled(x_shape)
    for shape in pooled:
        if tuple(shape) != expect:
            raise ValueError(f"{type(op).__name__}: a pooled input {tuple(shape)} does not "
                             f"have the pooled shape {expect} of x {tuple(x_shape)}")


# --------------------------------------------------------------------------- the kernel


class PoolKernel(KernelBuilder):
    """The pool ops: the kernel picks its path per call from the shapes (see the
    module's docstring)."""

    family = "pool2d"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        layout = ParamLayout(self.family, img=4, out=2, ws=2, stride=2, pad=2,
                             st=(len(ins), 4))
        context = {"kind": node.op.kind, "mode": node.op.mode}
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context=context)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        img = tuple(in_shapes[0])
        op = node.op
        return kernel.layout.build(img=img, out=op.pooled(img)[2:], ws=op.ws,
                                   stride=op.stride, pad=op.pad,
                                   st=[s for _, strides in in_layouts for s in strides])


register_kernel(PoolKernel(), _Pool)


# --------------------------------------------------------------------------- the API


def pool_2d(input: Any, ws: Any = None, ignore_border: bool = True, stride: Any = None,
            pad: Any = (0, 0), mode: str = "max", ds: Any = None, st: Any = None,
            padding: Any = None) -> TensorVariable:
    """Theano's pool_2d: pooling over the last two axes of a tensor of rank >= 2.

    ws: the window (rows, cols); stride: the step between windows (default ws);
    pad: zeros added on both sides of each axis (needs ignore_border=True, smaller
    than ws); mode: "max", "sum", "average_inc_pad" (padding counted in the average)
    or "average_exc_pad". ignore_border=True drops partial windows at the end;
    False keeps them. ds, st and padding are Theano's older names of ws, stride and
    pad. Raises ValueError when a window does not fit the padded input
    (ignore_border=True), at build time for static shapes, else at call time.
    """
    ws = ds if ws is None else ws
    stride = st if stride is None else stride
    pad = padding if padding is not None else pad
    if ws is None:
        raise TypeError("pool_2d: ws (the window) is required")
    x = as_tensor_variable(input)
    if x.ndim < 2:
        raise ValueError(f"pool_2d: the input must have at least 2 axes, got {x.type}")
    op = Pool(ws, ignore_border, stride, pad, mode)
    if x.ndim == 4:
        return op(x)
    lead = [shape_i(x, k) for k in range(x.ndim - 2)]
    batch = functools.reduce(mul, lead) if lead else 1
    out = op(reshape(x, (batch, 1, shape_i(x, -2), shape_i(x, -1))))
    return reshape(out, (*lead, shape_i(out, 2), shape_i(out, 3)))
