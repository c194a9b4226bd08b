"""2-D convolution as in Theano's `theano.tensor.nnet.abstract_conv`.

Layout (batch, channels, rows, cols) for images and (filters, channels / groups, rows,
cols) for filters. `conv2d` flips the filters (a true convolution) unless
`filter_flip=False` (cross-correlation, what most deep-learning libraries call a
convolution). The three ops (`AbstractConv2d`, `AbstractConv2d_gradWeights`,
`AbstractConv2d_gradInputs`) are each other's gradients, as in Theano; their C kernel
is `ConvKernel` (cgraph/tensor/conv_kernel.py, templates/conv2d.c.j2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cgraph.graph.basic import Apply, Op, Variable, user_line
from cgraph.kernel import register_kernel
from cgraph.tensor.conv_kernel import (
    BORDER_MODES,
    ConvKernel,
    Geometry,
    border_pads,
    check_channels,
    conv_out_length,
)
from cgraph.tensor.elemwise import cast
from cgraph.tensor.shape import shape_i
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

__all__ = ["AbstractConv2d", "AbstractConv2d_gradInputs", "AbstractConv2d_gradWeights",
           "conv2d", "conv2d_grad_wrt_inputs", "conv2d_grad_wrt_weights"]

_FLOATS = ("float32", "float64")


def _pair(value: Any, what: str, minimum: int) -> tuple[int, int]:
    """(a, b) from an int or a pair of ints, each >= minimum; ValueError otherwise."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 for v in pair):
        raise ValueError(f"conv2d: {what} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"conv2d: {what} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _border_mode(mode: Any) -> Any:
    if isinstance(mode, str):
        if mode not in BORDER_MODES:
            raise ValueError(f"conv2d: border_mode must be one of {BORDER_MODES}, an int or "
                             f"a pair of ints, got {mode!r}")
        return mode
    return _pair(mode, "border_mode", 0)


class _Conv(Op):
    """What the three convolution ops share: the parameters and the shape rule."""

    __props__ = ("border_mode", "subsample", "filter_flip", "filter_dilation", "num_groups")
    #: the roles of inputs 0, 1 and of the output: "img", "kern" or "top"
    roles: tuple[str, str, str] = ("img", "kern", "top")
    kind = ""

    def __init__(self, border_mode: Any = "valid", subsample: Any = (1, 1),
                 filter_flip: bool = True, filter_dilation: Any = (1, 1), num_groups: int = 1):
        self.border_mode = _border_mode(border_mode)
        self.subsample = _pair(subsample, "subsample", 1)
        self.filter_flip = bool(filter_flip)
        self.filter_dilation = _pair(filter_dilation, "filter_dilation", 1)
        if not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
            raise ValueError(f"conv2d: num_groups must be a positive int, got {num_groups!r}")
        self.num_groups = int(num_groups)

    def _params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.__props__}

    def _operands(self, a: Any, b: Any) -> tuple[TensorVariable, TensorVariable]:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        for v, role in zip((a, b), self.roles):
            if v.ndim != 4 or v.dtype not in _FLOATS:
                raise TypeError(f"{type(self).__name__}: the {_ROLE[role]} must be a 4-d "
                                f"float32 or float64 tensor, got {v.type}")
        if a.dtype != b.dtype:
            raise TypeError(f"{type(self).__name__}: the {_ROLE[self.roles[0]]} ({a.type}) and "
                            f"the {_ROLE[self.roles[1]]} ({b.type}) differ in dtype")
        return a, b

    def _static(self, img: Sequence, kern: Sequence) -> tuple:
        """The output's static shape (None where unknown); ValueError when the static
        shapes do not fit, naming the user's line."""
        shape = {"img": tuple(img), "kern": tuple(kern)}
        _at_line(check_channels, self, img, kern)
        if None in img[2:] + kern[2:]:
            spatial = (None, None)
        else:
            spatial = _at_line(Geometry.of, self, img, kern).top[2:]
        shape["top"] = (img[0], kern[0]) + tuple(spatial)
        return shape

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        lay = dict(zip(self.roles, shapes[:2]))
        if self.kind == "fwd":
            return [Geometry.of(self, lay["img"], lay["kern"]).top]
        return [self._target(lay, values)]

    def flops(self, in_shapes: Sequence, out_shapes: Sequence) -> int:
        """2 multiply-adds... per filter tap: 2 N F oh ow (C / groups) kh kw."""
        lay = dict(zip(self.roles, [*in_shapes[:2], out_shapes[0]]))
        n, f, oh, ow = lay["top"]
        _, cg, kh, kw = lay["kern"]
        return 2 * n * f * oh * ow * cg * kh * kw


_ROLE = {"img": "input", "kern": "filters", "top": "output gradient"}


def _at_line(check: Any, op: _Conv, img: Sequence, kern: Sequence) -> Any:
    """check(op, img, kern), its ValueError naming the user's line (build time)."""
    try:
        return check(op, img, kern)
    except ValueError as err:
        where = user_line()
        raise ValueError(f"{err}{' (at ' + where + ')' if where else ''}") from None


def _padded(x: np.ndarray, pad: tuple[int, int]) -> np.ndarray:
    (ph, pw) = pad
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x


def _windows(op: _Conv, xp: np.ndarray, geo: Geometry) -> np.ndarray:
    """(N, C, oh, ow, kh, kw): the padded input under each filter tap (a view)."""
    sn, sc, sh, sw = xp.strides
    (dh, dw), (th, tw) = op.filter_dilation, op.subsample
    shape = xp.shape[:2] + geo.top[2:] + geo.kern[2:]
    return as_strided(xp, shape, (sn, sc, sh * th, sw * tw, sh * dh, sw * dw),
                      writeable=False)


def _flipped(w: np.ndarray, op: _Conv) -> np.ndarray:
    return w[:, :, ::-1, ::-1] if op.filter_flip else w


def _groups(op: _Conv, geo: Geometry) -> list[tuple[slice, slice]]:
    """(input channels, filters) of each group."""
    cg, fg = geo.kern[1], geo.kern[0] // op.num_groups
    return [(slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg))
            for g in range(op.num_groups)]


class AbstractConv2d(_Conv):
    """conv2d(input, filters): (N, C, H, W) x (F, C / groups, kh, kw) -> (N, F, oh, ow)."""

    kind = "fwd"

    def make_node(self, img: Any, kern: Any) -> Apply:
        img, kern = self._operands(img, kern)
        shape = self._static(img.type.shape, kern.type.shape)["top"]
        return Apply(self, [img, kern], [TensorType(img.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list) -> list:
        img, kern = inputs
        geo = Geometry.of(self, img.shape, kern.shape)
        win = _windows(self, _padded(img, geo.pad), geo)
        w = _flipped(kern, self)
        out = np.empty(geo.top, dtype=img.dtype)
        for cs, fs in _groups(self, geo):
            part = np.tensordot(win[:, cs], w[fs], axes=([1, 4, 5], [1, 2, 3]))
            out[:, fs] = part.transpose(0, 3, 1, 2)
        return [out]

    def grad(self, inputs: list, output_grads: list) -> list:
        img, kern = inputs
        (top,) = output_grads
        params = self._params()
        d_img = AbstractConv2d_gradInputs(**params)(kern, top, shape_i(img, 2), shape_i(img, 3))
        d_kern = AbstractConv2d_gradWeights(**params)(img, top, shape_i(kern, 2),
                                                      shape_i(kern, 3))
        return [d_img, d_kern]


def _size_input(v: Any, op: _Conv, what: str) -> Variable:
    v = as_tensor_variable(v)
    if v.ndim != 0 or v.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                      "uint32"):
        raise TypeError(f"{type(op).__name__}: the {what} must be an integer scalar, got "
                        f"{v.type}")
    return v


def _static_int(v: Variable) -> int | None:
    data = getattr(v, "data", None)
    return None if data is None else int(data)


class _ConvGrad(_Conv):
    """A gradient op: inputs 0 and 1, then the rows and columns of the result's
    spatial shape (integer scalars whose values the planner reads)."""

    value_inputs = (2, 3)

    def make_node(self, a: Any, b: Any, rows: Any, cols: Any) -> Apply:
        a, b = self._operands(a, b)
        rows, cols = (_size_input(v, self, what) for v, what in ((rows, "rows"),
                                                                 (cols, "columns")))
        known = dict(zip(self.roles, (a.type.shape, b.type.shape)))
        spatial = (_static_int(rows), _static_int(cols))
        target = self.roles[2]
        if target == "img":
            known["img"] = (b.type.shape[0], _times(a.type.shape[1], self.num_groups)) + spatial
        else:
            known["kern"] = (b.type.shape[1], _over(a.type.shape[1], self.num_groups)) + spatial
        top = self._static(known["img"], known["kern"])["top"]
        if None not in top + known["top"] and top != known["top"]:
            raise ValueError(f"{type(self).__name__}: the output gradient {known['top']} "
                             f"does not have the convolution's shape {top} (input "
                             f"{known['img']}, filters {known['kern']})")
        out = TensorType(a.dtype, known[target]).make_variable()
        return Apply(self, [a, b, rows, cols], [out])

    def _target(self, lay: dict, values: list) -> tuple:
        spatial = (int(values[2]), int(values[3]))
        if self.roles[2] == "img":
            lay["img"] = (lay["top"][0], lay["kern"][1] * self.num_groups) + spatial
        else:
            lay["kern"] = (lay["top"][1], lay["img"][1] // self.num_groups) + spatial
        geo = Geometry.of(self, lay["img"], lay["kern"])
        if geo.top != tuple(lay["top"]):
            raise ValueError(
                f"{type(self).__name__}: the output gradient {tuple(lay['top'])} does not "
                f"have the shape {geo.top} of the convolution of an input {geo.img} with "
                f"filters {geo.kern}")
        return lay[self.roles[2]]

    def _geometry_of(self, inputs: list) -> Geometry:
        shapes = [np.shape(v) for v in inputs]
        target = self._target(dict(zip(self.roles, shapes[:2])), inputs)
        lay = dict(zip(self.roles, [*shapes[:2], target]))
        return Geometry.of(self, lay["img"], lay["kern"])


def _times(n: int | None, k: int) -> int | None:
    return None if n is None else n * k


def _over(n: int | None, k: int) -> int | None:
    return None if n is None or n % k else n // k


class AbstractConv2d_gradWeights(_ConvGrad):  # noqa: N801 (Theano's name)
    """The gradient of conv2d wrt its filters: (input, output gradient, kh, kw) ->
    (F, C / groups, kh, kw)."""

    roles = ("img", "top", "kern")
    kind = "gradw"

    def perform(self, node: Apply, inputs: list) -> list:
        img, top = inputs[:2]
        geo = self._geometry_of(inputs)
        win = _windows(self, _padded(img, geo.pad), geo)
        out = np.empty(geo.kern, dtype=img.dtype)
        for cs, fs in _groups(self, geo):
            out[fs] = np.tensordot(top[:, fs], win[:, cs], axes=([0, 2, 3], [0, 2, 3]))
        return [np.ascontiguousarray(_flipped(out, self))]

    def grad(self, inputs: list, output_grads: list) -> list:
        img, top = inputs[:2]
        (g,) = output_grads
        params = self._params()
        d_img = AbstractConv2d_gradInputs(**params)(g, top, shape_i(img, 2), shape_i(img, 3))
        return [d_img, AbstractConv2d(**params)(img, g), None, None]


class AbstractConv2d_gradInputs(_ConvGrad):  # noqa: N801 (Theano's name)
    """The gradient of conv2d wrt its input: (filters, output gradient, H, W) ->
    (N, C, H, W)."""

    roles = ("kern", "top", "img")
    kind = "gradi"

    def perform(self, node: Apply, inputs: list) -> list:
        kern, top = inputs[:2]
        geo = self._geometry_of(inputs)
        (ph, pw), (th, tw), (dh, dw) = geo.pad, self.subsample, self.filter_dilation
        n, c, h, w = geo.img
        oh, ow = geo.top[2:]
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=kern.dtype)
        wf = _flipped(kern, self)
        for cs, fs in _groups(self, geo):
            for i in range(geo.kern[2]):
                for j in range(geo.kern[3]):
                    part = np.tensordot(top[:, fs], wf[fs, :, i, j], axes=([1], [0]))
                    rows = slice(i * dh, i * dh + (oh - 1) * th + 1, th)
                    cols = slice(j * dw, j * dw + (ow - 1) * tw + 1, tw)
                    padded[:, cs, rows, cols] += part.transpose(0, 3, 1, 2)
        return [np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])]

    def grad(self, inputs: list, output_grads: list) -> list:
        kern, top = inputs[:2]
        (g,) = output_grads
        params = self._params()
        d_kern = AbstractConv2d_gradWeights(**params)(g, top, shape_i(kern, 2),
                                                      shape_i(kern, 3))
        return [d_kern, AbstractConv2d(**params)(g, kern), None, None]


register_kernel(ConvKernel(), _Conv)  # the three ops share it


# --------------------------------------------------------------------------- the API


def _common(a: Any, b: Any) -> tuple[TensorVariable, TensorVariable]:
    """Both operands in their common float dtype (Theano upcasts)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    dtype = np.result_type(a.dtype, b.dtype).name
    if dtype not in _FLOATS:
        dtype = "float64" if np.dtype(dtype).itemsize > 2 else "float32"
    return (a if a.dtype == dtype else cast(a, dtype)), (b if b.dtype == dtype else cast(b, dtype))


def _check_hint(v: TensorVariable, hint: Any, what: str) -> None:
    """A user's shape hint (input_shape, filter_shape) against the variable's rank and
    static shape; None entries are unknown."""
    if hint is None:
        return
    hint = tuple(hint)
    if len(hint) != 4:
        raise ValueError(f"conv2d: {what} must have 4 entries, got {hint}")
    for k, (h, s) in enumerate(zip(hint, v.type.shape)):
        if isinstance(h, (int, np.integer)) and s is not None and h != s:
            raise ValueError(f"conv2d: {what} {hint} contradicts the static shape of "
                             f"{v.type} (axis {k})")


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
    img, kern = _common(input, filters)
    _check_hint(img, input_shape, "input_shape")
    _check_hint(kern, filter_shape, "filter_shape")
    return AbstractConv2d(border_mode, subsample, filter_flip, filter_dilation,
                          num_groups)(img, kern)


def _spatial(shape: Any, what: str) -> tuple[Any, Any]:
    shape = tuple(shape)
    if len(shape) != 4 or shape[2] is None or shape[3] is None:
        raise ValueError(f"{what} must give 4 entries with the rows and columns known, "
                         f"got {shape}")
    return shape[2], shape[3]


def conv2d_grad_wrt_inputs(output_grad: Any, filters: Any, input_shape: Any,
                           filter_shape: Any = None, border_mode: Any = "valid",
                           subsample: Any = (1, 1), filter_flip: bool = True,
                           filter_dilation: Any = (1, 1), num_groups: int = 1
                           ) -> TensorVariable:
    """The gradient of `conv2d(input, filters, ...)` wrt its input, given the gradient
    of its output: a transposed convolution. `input_shape` (4 entries) gives the
    input's rows and columns (ints or symbolic scalars), which the strides leave
    ambiguous."""
    top, kern = _common(output_grad, filters)
    _check_hint(kern, filter_shape, "filter_shape")
    rows, cols = _spatial(input_shape, "conv2d_grad_wrt_inputs: input_shape")
    op = AbstractConv2d_gradInputs(border_mode, subsample, filter_flip, filter_dilation,
                                   num_groups)
    return op(kern, top, rows, cols)


def conv2d_grad_wrt_weights(input: Any, output_grad: Any, filter_shape: Any,
                            input_shape: Any = None, border_mode: Any = "valid",
                            subsample: Any = (1, 1), filter_flip: bool = True,
                            filter_dilation: Any = (1, 1), num_groups: int = 1
                            ) -> TensorVariable:
    """The gradient of `conv2d(input, filters, ...)` wrt its filters, given the
    gradient of its output; `filter_shape` (4 entries) gives the filters' rows and
    columns."""
    img, top = _common(input, output_grad)
    _check_hint(img, input_shape, "input_shape")
    rows, cols = _spatial(filter_shape, "conv2d_grad_wrt_weights: filter_shape")
    op = AbstractConv2d_gradWeights(border_mode, subsample, filter_flip, filter_dilation,
                                    num_groups)
    return op(img, top, rows, cols)


def conv_output_shape(image_shape: Sequence[int], kernel_shape: Sequence[int],
                      border_mode: Any = "valid", subsample: Any = (1, 1),
                      filter_dilation: Any = (1, 1)) -> tuple[int, int, int, int]:
    """The output shape of conv2d for these shapes (Theano's get_conv_output_shape)."""
    mode = _border_mode(border_mode)
    strides, dilation = _pair(subsample, "subsample", 1), _pair(filter_dilation,
                                                                "filter_dilation", 1)
    pad = border_pads(mode, tuple(kernel_shape[2:]), dilation)
    spatial = tuple(conv_out_length(i, k, s, d, p) for i, k, s, d, p in zip(
        image_shape[2:], kernel_shape[2:], strides, dilation, pad))
    return (image_shape[0], kernel_shape[0]) + spatial
