"""PyTensor's `pytensor.tensor.signal.convolve1d` / `convolve2d`: the convolution of
two vectors or two matrices (scipy.signal.convolve's definition), as one conv2d of a
single image and a single filter (cgraph/tensor/conv.py), so the C kernel and the
gradients are conv2d's.

Modes as scipy's: "full" (every overlap, n + k - 1), "valid" (the kernel inside the
input, n - k + 1: a kernel longer than the input is a ValueError, where scipy swaps the
operands) and "same" (the input's length, the full result's centre, as scipy crops
it: from (k - 1) // 2). Only 1-d and 2-d operands: PyTensor's leading batch
dimensions are not supported.
"""

from __future__ import annotations

from typing import Any

from cgraph.tensor import math as m
from cgraph.tensor.conv import conv2d
from cgraph.tensor.shape import shape_i
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["convolve1d", "convolve2d"]

_MODES = ("full", "valid", "same")


def _operands(in1: Any, in2: Any, ndim: int, name: str
              ) -> tuple[TensorVariable, TensorVariable]:
    a, b = as_tensor_variable(in1), as_tensor_variable(in2)
    for v, what in ((a, "in1"), (b, "in2")):
        if v.ndim != ndim:
            raise TypeError(f"{name}: {what} must be a {ndim}-d tensor, got {v.type} "
                            "(leading batch dimensions are not supported)")
    return a, b


def _convolve(a: TensorVariable, b: TensorVariable, mode: str, name: str) -> TensorVariable:
    """conv2d of a (1, 1, H, W) image with a (1, 1, kh, kw) filter, flipped (a
    convolution, not a correlation), cropped for "same"."""
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be 'full', 'valid' or 'same', got {mode!r}")
    pattern = ("x",) * (4 - a.ndim) + tuple(range(a.ndim))
    border = "valid" if mode == "valid" else "full"
    out = conv2d(a.dimshuffle(*pattern), b.dimshuffle(*pattern), border_mode=border,
                 filter_flip=True)
    out = out[(0,) * (4 - a.ndim)]
    if mode == "same":
        index = []
        for d in range(a.ndim):
            start = m.int_div(m.sub(shape_i(b, d), 1), 2)
            index.append(slice(start, m.add(start, shape_i(a, d))))
        out = out[tuple(index)]
    return out


def convolve1d(in1: Any, in2: Any, mode: str = "full") -> TensorVariable:
    """The convolution of the vectors `in1` and `in2` (numpy.convolve,
    scipy.signal.convolve), mode "full", "valid" or "same"."""
    a, b = _operands(in1, in2, 1, "convolve1d")
    return _convolve(a, b, mode, "convolve1d")


def convolve2d(in1: Any, in2: Any, mode: str = "full") -> TensorVariable:
    """The 2-d convolution of the matrices `in1` and `in2` (scipy.signal.convolve2d
    with zero fill), mode "full", "valid" or "same"."""
    a, b = _operands(in1, in2, 2, "convolve2d")
    return _convolve(a, b, mode, "convolve2d")
