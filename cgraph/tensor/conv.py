"""Convolutions as in Theano's `theano.tensor.nnet.abstract_conv`: `conv2d`, `conv3d`
and their gradients as functions of their own.

Layout (batch, channels, rows, cols) for 2-D images and (batch, channels, depth, rows,
cols) for 3-D ones; filters (filters, channels / groups, *taps). The filters are
flipped (a true convolution) unless `filter_flip=False` (cross-correlation, what most
deep-learning libraries call a convolution). The ops are in
cgraph/tensor/conv_ops.py, their C kernel in cgraph/tensor/conv_kernel.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.tensor.conv_kernel import border_pads, conv_out_length
from cgraph.tensor.conv_ops import (
    AbstractConv2d,
    AbstractConv2d_gradInputs,
    AbstractConv2d_gradWeights,
    AbstractConv3d,
    AbstractConv3d_gradInputs,
    AbstractConv3d_gradWeights,
    conv_tuple,
    parse_border_mode,
)
from cgraph.tensor.elemwise import cast
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["AbstractConv2d", "AbstractConv2d_gradInputs", "AbstractConv2d_gradWeights",
           "AbstractConv3d", "AbstractConv3d_gradInputs", "AbstractConv3d_gradWeights",
           "conv2d", "conv2d_grad_wrt_inputs", "conv2d_grad_wrt_weights", "conv3d",
           "conv3d_grad_wrt_inputs", "conv3d_grad_wrt_weights", "conv_output_shape"]

_FLOATS = ("float32", "float64")
#: spatial axes -> (forward, gradient wrt the filters, wrt the input)
_OPS = {2: (AbstractConv2d, AbstractConv2d_gradWeights, AbstractConv2d_gradInputs),
        3: (AbstractConv3d, AbstractConv3d_gradWeights, AbstractConv3d_gradInputs)}


# --------------------------------------------------------------------------- the API


def _common(a: Any, b: Any) -> tuple[TensorVariable, TensorVariable]:
    """Both operands in their common float dtype (Theano upcasts)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    dtype = np.result_type(a.dtype, b.dtype).name
    if dtype not in _FLOATS:
        dtype = "float64" if np.dtype(dtype).itemsize > 2 else "float32"
    return (a if a.dtype == dtype else cast(a, dtype)), (b if b.dtype == dtype else cast(b, dtype))


def _check_hint(v: TensorVariable, hint: Any, what: str, nd: int) -> None:
    """A user's shape hint (input_shape, filter_shape) against the variable's rank and
    static shape; None entries are unknown."""
    if hint is None:
        return
    hint = tuple(hint)
    if len(hint) != nd + 2:
        raise ValueError(f"conv{nd}d: {what} must have {nd + 2} entries, got {hint}")
    for k, (h, s) in enumerate(zip(hint, v.type.shape)):
        if isinstance(h, (int, np.integer)) and s is not None and h != s:
            raise ValueError(f"conv{nd}d: {what} {hint} contradicts the static shape of "
                             f"{v.type} (axis {k})")


def _spatial(shape: Any, what: str, nd: int) -> tuple[Any, ...]:
    """The spatial sizes of a shape of nd + 2 entries (ints or symbolic scalars)."""
    shape = tuple(shape)
    if len(shape) != nd + 2 or any(v is None for v in shape[2:]):
        raise ValueError(f"{what} must give {nd + 2} entries with the spatial sizes known, "
                         f"got {shape}")
    return shape[2:]


def _conv(nd: int, input: Any, filters: Any, input_shape: Any, filter_shape: Any,
          params: tuple) -> TensorVariable:
    img, kern = _common(input, filters)
    _check_hint(img, input_shape, "input_shape", nd)
    _check_hint(kern, filter_shape, "filter_shape", nd)
    return _OPS[nd][0](*params)(img, kern)


def _grad_wrt_inputs(nd: int, output_grad: Any, filters: Any, input_shape: Any,
                     filter_shape: Any, params: tuple) -> TensorVariable:
    top, kern = _common(output_grad, filters)
    _check_hint(kern, filter_shape, "filter_shape", nd)
    sizes = _spatial(input_shape, f"conv{nd}d_grad_wrt_inputs: input_shape", nd)
    return _OPS[nd][2](*params)(kern, top, *sizes)


def _grad_wrt_weights(nd: int, input: Any, output_grad: Any, filter_shape: Any,
                      input_shape: Any, params: tuple) -> TensorVariable:
    img, top = _common(input, output_grad)
    _check_hint(img, input_shape, "input_shape", nd)
    sizes = _spatial(filter_shape, f"conv{nd}d_grad_wrt_weights: filter_shape", nd)
    return _OPS[nd][1](*params)(img, top, *sizes)


def conv2d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,
           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
           filter_dilation: Any = (1, 1), num_groups: int = 1) -> TensorVariable:
    """Theano's conv2d: a batch of images (N, C, H, W) convolved with filters
    (F, C / num_groups, kh, kw), giving (N, F, oh, ow).

    border_mode: "valid" (no padding), "full" (padding of the dilated filter size
    minus 1), "half" (half of it, rounded down), an int or a pair (zero padding on
    both sides). subsample: the strides; filter_dilation: the spacing of the filter
    taps. filter_flip=True flips the filters (a convolution), False correlates.
    input_shape and filter_shape are optional hints checked against the static
    shapes. Raises ValueError when the channels do not match, or the dilated filters
    are larger than the padded input, when the graph is built if the shapes are
    static, else at call time naming the node.
    """
    return _conv(2, input, filters, input_shape, filter_shape,
                 (border_mode, subsample, filter_flip, filter_dilation, num_groups))


def conv3d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,
           border_mode: Any = "valid", subsample: Any = (1, 1, 1), filter_flip: bool = True,
           filter_dilation: Any = (1, 1, 1), num_groups: int = 1) -> TensorVariable:
    """Theano's conv3d: a batch of volumes (N, C, D, H, W) convolved with filters
    (F, C / num_groups, kd, kh, kw), giving (N, F, od, oh, ow).

    The parameters are conv2d's with three spatial axes: border_mode "valid", "full",
    "half", an int or a triple; subsample and filter_dilation an int or a triple;
    filter_flip=True flips the filters along all three axes. Raises ValueError when
    the channels do not match, the dilated filters are larger than the padded input,
    or a stride or dilation is below 1; TypeError when an operand is not a 5-d float
    tensor.
    """
    return _conv(3, input, filters, input_shape, filter_shape,
                 (border_mode, subsample, filter_flip, filter_dilation, num_groups))


def conv2d_grad_wrt_inputs(output_grad: Any, filters: Any, input_shape: Any,
                           filter_shape: Any = None, border_mode: Any = "valid",
                           subsample: Any = (1, 1), filter_flip: bool = True,
                           filter_dilation: Any = (1, 1), num_groups: int = 1
                           ) -> TensorVariable:
    """The gradient of `conv2d(input, filters, ...)` wrt its input, given the gradient
    of its output: a transposed convolution. `input_shape` (4 entries) gives the
    input's rows and columns (ints or symbolic scalars), which the strides leave
    ambiguous."""
    return _grad_wrt_inputs(2, output_grad, filters, input_shape, filter_shape,
                            (border_mode, subsample, filter_flip, filter_dilation, num_groups))


def conv2d_grad_wrt_weights(input: Any, output_grad: Any, filter_shape: Any,
                            input_shape: Any = None, border_mode: Any = "valid",
                            subsample: Any = (1, 1), filter_flip: bool = True,
                            filter_dilation: Any = (1, 1), num_groups: int = 1
                            ) -> TensorVariable:
    """The gradient of `conv2d(input, filters, ...)` wrt its filters, given the
    gradient of its output; `filter_shape` (4 entries) gives the filters' rows and
    columns."""
    return _grad_wrt_weights(2, input, output_grad, filter_shape, input_shape,
                             (border_mode, subsample, filter_flip, filter_dilation, num_groups))


def conv3d_grad_wrt_inputs(output_grad: Any, filters: Any, input_shape: Any,
                           filter_shape: Any = None, border_mode: Any = "valid",
                           subsample: Any = (1, 1, 1), filter_flip: bool = True,
                           filter_dilation: Any = (1, 1, 1), num_groups: int = 1
                           ) -> TensorVariable:
    """The gradient of `conv3d(input, filters, ...)` wrt its input, given the gradient
    of its output: a transposed 3-D convolution. `input_shape` (5 entries) gives the
    input's depth, rows and columns (ints or symbolic scalars)."""
    return _grad_wrt_inputs(3, output_grad, filters, input_shape, filter_shape,
                            (border_mode, subsample, filter_flip, filter_dilation, num_groups))


def conv3d_grad_wrt_weights(input: Any, output_grad: Any, filter_shape: Any,
                            input_shape: Any = None, border_mode: Any = "valid",
                            subsample: Any = (1, 1, 1), filter_flip: bool = True,
                            filter_dilation: Any = (1, 1, 1), num_groups: int = 1
                            ) -> TensorVariable:
    """The gradient of `conv3d(input, filters, ...)` wrt its filters, given the
    gradient of its output; `filter_shape` (5 entries) gives the filters' depth, rows
    and columns."""
    return _grad_wrt_weights(3, input, output_grad, filter_shape, input_shape,
                             (border_mode, subsample, filter_flip, filter_dilation, num_groups))


def conv_output_shape(image_shape: Sequence[int], kernel_shape: Sequence[int],
                      border_mode: Any = "valid", subsample: Any = 1,
                      filter_dilation: Any = 1) -> tuple[int, ...]:
    """The output shape of conv2d or conv3d (the rank of `image_shape` says which) for
    these shapes (Theano's get_conv_output_shape)."""
    nd = len(image_shape) - 2
    mode = parse_border_mode(border_mode, nd)
    strides = conv_tuple(1 if subsample is None else subsample, "subsample", 1, nd)
    dilation = conv_tuple(1 if filter_dilation is None else filter_dilation,
                          "filter_dilation", 1, nd)
    pad = border_pads(mode, tuple(kernel_shape[2:]), dilation)
    spatial = tuple(conv_out_length(i, k, s, d, p) for i, k, s, d, p in zip(
        image_shape[2:], kernel_shape[2:], strides, dilation, pad))
    return (image_shape[0], kernel_shape[0]) + spatial
