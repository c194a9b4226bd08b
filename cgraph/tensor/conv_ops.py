"""The convolution ops of Theano's `theano.tensor.nnet.abstract_conv`, 2-D and 3-D.

Layout (batch, channels, *spatial) for images and (filters, channels / groups, *taps)
for filters, with 2 spatial axes (rows, cols) or 3 (depth, rows, cols). The ops flip
the filters (a true convolution) unless `filter_flip=False` (cross-correlation). The
three ops of a rank (`AbstractConv2d`, `AbstractConv2d_gradWeights`,
`AbstractConv2d_gradInputs`; the same for 3d) are each other's gradients, as in
Theano; their C kernel is `ConvKernel` (cgraph/tensor/conv_kernel.py,
templates/conv2d.c.j2). The public functions are in cgraph/tensor/conv.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cgraph.graph.basic import Apply, Op, Variable, user_line
from cgraph.kernel import register_kernel
from cgraph.tensor.conv_kernel import BORDER_MODES, ConvKernel, Geometry, check_channels
from cgraph.tensor.shape import shape_i
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

__all__ = ["AbstractConv2d", "AbstractConv2d_gradInputs", "AbstractConv2d_gradWeights",
           "AbstractConv3d", "AbstractConv3d_gradInputs", "AbstractConv3d_gradWeights",
           "conv_tuple", "parse_border_mode"]

_FLOATS = ("float32", "float64")


def conv_tuple(value: Any, what: str, minimum: int, nd: int) -> tuple[int, ...]:
    """`nd` ints from an int or a tuple of `nd` ints, each >= minimum; ValueError
    otherwise (naming conv2d or conv3d and `what`)."""
    tup = (value,) * nd if isinstance(value, (int, np.integer)) else tuple(value)
    if len(tup) != nd or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 for v in tup):
        raise ValueError(f"conv{nd}d: {what} must be an int or a tuple of {nd} ints, got "
                         f"{value!r}")
    if min(tup) < minimum:
        raise ValueError(f"conv{nd}d: {what} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in tup)


def parse_border_mode(mode: Any, nd: int) -> Any:
    """A named border mode, or the padding of each spatial axis from an int or tuple."""
    if isinstance(mode, str):
        if mode not in BORDER_MODES:
            raise ValueError(f"conv{nd}d: border_mode must be one of {BORDER_MODES}, an int "
                             f"or a tuple of {nd} ints, got {mode!r}")
        return mode
    return conv_tuple(mode, "border_mode", 0, nd)


#: (spatial axes, kind) -> the op class: how each op finds its gradients' ops
_OPS: dict[tuple[int, str], type] = {}


class _Conv(Op):
    """What the convolution ops share: the parameters and the shape rule."""

    __props__ = ("border_mode", "subsample", "filter_flip", "filter_dilation", "num_groups")
    #: the roles of inputs 0, 1 and of the output: "img", "kern" or "top"
    roles: tuple[str, str, str] = ("img", "kern", "top")
    kind = ""
    #: the number of spatial axes
    nd = 2

    def __init__(self, border_mode: Any = "valid", subsample: Any = 1,
                 filter_flip: bool = True, filter_dilation: Any = 1, num_groups: int = 1):
        nd = self.nd
        self.border_mode = parse_border_mode(border_mode, nd)
        self.subsample = conv_tuple(subsample, "subsample", 1, nd)
        self.filter_flip = bool(filter_flip)
        self.filter_dilation = conv_tuple(filter_dilation, "filter_dilation", 1, nd)
        if not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
            raise ValueError(f"conv{nd}d: num_groups must be a positive int, got "
                             f"{num_groups!r}")
        self.num_groups = int(num_groups)

    def _params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.__props__}

    def _sibling(self, kind: str) -> _Conv:
        """The op of `kind` ("fwd", "gradw", "gradi") with these parameters."""
        return _OPS[self.nd, kind](**self._params())

    def _operands(self, a: Any, b: Any) -> tuple[TensorVariable, TensorVariable]:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        for v, role in zip((a, b), self.roles):
            if v.ndim != self.nd + 2 or v.dtype not in _FLOATS:
                raise TypeError(f"{type(self).__name__}: the {_ROLE[role]} must be a "
                                f"{self.nd + 2}-d float32 or float64 tensor, got {v.type}")
        if a.dtype != b.dtype:
            raise TypeError(f"{type(self).__name__}: the {_ROLE[self.roles[0]]} ({a.type}) and "
                            f"the {_ROLE[self.roles[1]]} ({b.type}) differ in dtype")
        return a, b

    def _static(self, img: Sequence, kern: Sequence) -> dict:
        """The static shapes of the roles (None where unknown); ValueError when the
        static shapes do not fit, naming the user's line."""
        shape = {"img": tuple(img), "kern": tuple(kern)}
        _at_line(check_channels, self, img, kern)
        if None in tuple(img[2:]) + tuple(kern[2:]):
            spatial = (None,) * self.nd
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
        """2 multiply-adds... per filter tap: 2 N F (output points) (C / groups) (taps)."""
        lay = dict(zip(self.roles, [*in_shapes[:2], out_shapes[0]]))
        return 2 * int(np.prod(lay["top"])) * int(np.prod(lay["kern"][1:]))


_ROLE = {"img": "input", "kern": "filters", "top": "output gradient"}


def _at_line(check: Any, op: _Conv, img: Sequence, kern: Sequence) -> Any:
    """check(op, img, kern), its ValueError naming the user's line (build time)."""
    try:
        return check(op, img, kern)
    except ValueError as err:
        where = user_line()
        raise ValueError(f"{err}{' (at ' + where + ')' if where else ''}") from None


def _padded(x: np.ndarray, pad: tuple[int, ...]) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), *[(p, p) for p in pad])) if any(pad) else x


def _windows(op: _Conv, xp: np.ndarray, geo: Geometry) -> np.ndarray:
    """(N, C, *out, *taps): the padded input under each filter tap (a view)."""
    spatial = xp.strides[2:]
    strides = (*xp.strides[:2], *[s * t for s, t in zip(spatial, op.subsample)],
               *[s * d for s, d in zip(spatial, op.filter_dilation)])
    shape = xp.shape[:2] + geo.top[2:] + geo.kern[2:]
    return as_strided(xp, shape, strides, writeable=False)


def _flipped(w: np.ndarray, op: _Conv) -> np.ndarray:
    return w[(slice(None),) * 2 + (slice(None, None, -1),) * op.nd] if op.filter_flip else w


def _groups(op: _Conv, geo: Geometry) -> list[tuple[slice, slice]]:
    """(input channels, filters) of each group."""
    cg, fg = geo.kern[1], geo.kern[0] // op.num_groups
    return [(slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg))
            for g in range(op.num_groups)]


def _spatial_sizes(v: Variable, nd: int) -> list[Variable]:
    return [shape_i(v, 2 + k) for k in range(nd)]


class _ConvForward(_Conv):
    """conv(input, filters): (N, C, *spatial) x (F, C / groups, *taps) -> (N, F, *out)."""

    kind = "fwd"

    def make_node(self, img: Any, kern: Any) -> Apply:
        img, kern = self._operands(img, kern)
        shape = self._static(img.type.shape, kern.type.shape)["top"]
        return Apply(self, [img, kern], [TensorType(img.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list) -> list:
        img, kern = inputs
        nd = self.nd
        geo = Geometry.of(self, img.shape, kern.shape)
        win = _windows(self, _padded(img, geo.pad), geo)
        w = _flipped(kern, self)
        out = np.empty(geo.top, dtype=img.dtype)
        taps = list(range(2 + nd, 2 + 2 * nd))
        for cs, fs in _groups(self, geo):
            part = np.tensordot(win[:, cs], w[fs], axes=([1, *taps], list(range(1, nd + 2))))
            out[:, fs] = np.moveaxis(part, -1, 1)
        return [out]

    def grad(self, inputs: list, output_grads: list) -> list:
        img, kern = inputs
        (top,) = output_grads
        d_img = self._sibling("gradi")(kern, top, *_spatial_sizes(img, self.nd))
        d_kern = self._sibling("gradw")(img, top, *_spatial_sizes(kern, self.nd))
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
    """A gradient op: inputs 0 and 1, then the result's spatial sizes (integer scalars
    whose values the planner reads)."""

    @property
    def value_inputs(self) -> tuple[int, ...]:  # type: ignore[override]
        return tuple(range(2, 2 + self.nd))

    def make_node(self, a: Any, b: Any, *sizes: Any) -> Apply:
        a, b = self._operands(a, b)
        if len(sizes) != self.nd:
            raise TypeError(f"{type(self).__name__}: {self.nd} spatial sizes are needed, got "
                            f"{len(sizes)}")
        sizes = [_size_input(v, self, f"size of spatial axis {k}") for k, v in enumerate(sizes)]
        known = dict(zip(self.roles, (a.type.shape, b.type.shape)))
        spatial = tuple(_static_int(v) for v in sizes)
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
        return Apply(self, [a, b, *sizes], [out])

    def _target(self, lay: dict, values: list) -> tuple:
        spatial = tuple(int(values[2 + k]) for k in range(self.nd))
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


class _ConvGradWeights(_ConvGrad):
    """The gradient of a convolution wrt its filters: (input, output gradient,
    *taps) -> (F, C / groups, *taps)."""

    roles = ("img", "top", "kern")
    kind = "gradw"

    def perform(self, node: Apply, inputs: list) -> list:
        img, top = inputs[:2]
        geo = self._geometry_of(inputs)
        win = _windows(self, _padded(img, geo.pad), geo)
        out = np.empty(geo.kern, dtype=img.dtype)
        axes = [0, *range(2, 2 + self.nd)]
        for cs, fs in _groups(self, geo):
            out[fs] = np.tensordot(top[:, fs], win[:, cs], axes=(axes, axes))
        return [np.ascontiguousarray(_flipped(out, self))]

    def grad(self, inputs: list, output_grads: list) -> list:
        img, top = inputs[:2]
        (g,) = output_grads
        d_img = self._sibling("gradi")(g, top, *_spatial_sizes(img, self.nd))
        return [d_img, self._sibling("fwd")(img, g)] + [None] * self.nd


class _ConvGradInputs(_ConvGrad):
    """The gradient of a convolution wrt its input: (filters, output gradient,
    *spatial) -> (N, C, *spatial)."""

    roles = ("kern", "top", "img")
    kind = "gradi"

    def perform(self, node: Apply, inputs: list) -> list:
        kern, top = inputs[:2]
        geo = self._geometry_of(inputs)
        spatial, out = geo.img[2:], geo.top[2:]
        padded = np.zeros(geo.img[:2] + tuple(s + 2 * p for s, p in zip(spatial, geo.pad)),
                          dtype=kern.dtype)
        wf = _flipped(kern, self)
        for cs, fs in _groups(self, geo):
            for tap in itertools.product(*[range(k) for k in geo.kern[2:]]):
                part = np.tensordot(top[:, fs], wf[(fs, slice(None), *tap)], axes=([1], [0]))
                where = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s in zip(
                    tap, self.filter_dilation, out, self.subsample))
                padded[(slice(None), cs, *where)] += np.moveaxis(part, -1, 1)
        inner = tuple(slice(p, p + s) for p, s in zip(geo.pad, spatial))
        return [np.ascontiguousarray(padded[(slice(None), slice(None), *inner)])]

    def grad(self, inputs: list, output_grads: list) -> list:
        kern, top = inputs[:2]
        (g,) = output_grads
        d_kern = self._sibling("gradw")(g, top, *_spatial_sizes(kern, self.nd))
        return [d_kern, self._sibling("fwd")(g, kern)] + [None] * self.nd


class AbstractConv2d(_ConvForward):
    """conv2d(input, filters): (N, C, H, W) x (F, C / groups, kh, kw) -> (N, F, oh, ow)."""


class AbstractConv2d_gradWeights(_ConvGradWeights):  # noqa: N801 (Theano's name)
    """The gradient of conv2d wrt its filters: (input, output gradient, kh, kw) ->
    (F, C / groups, kh, kw)."""


class AbstractConv2d_gradInputs(_ConvGradInputs):  # noqa: N801 (Theano's name)
    """The gradient of conv2d wrt its input: (filters, output gradient, H, W) ->
    (N, C, H, W)."""


class AbstractConv3d(_ConvForward):
    """conv3d(input, filters): (N, C, D, H, W) x (F, C / groups, kd, kh, kw) ->
    (N, F, od, oh, ow)."""

    nd = 3


class AbstractConv3d_gradWeights(_ConvGradWeights):  # noqa: N801 (Theano's name)
    """The gradient of conv3d wrt its filters: (input, output gradient, kd, kh, kw) ->
    (F, C / groups, kd, kh, kw)."""

    nd = 3


class AbstractConv3d_gradInputs(_ConvGradInputs):  # noqa: N801 (Theano's name)
    """The gradient of conv3d wrt its input: (filters, output gradient, D, H, W) ->
    (N, C, D, H, W)."""

    nd = 3


for _op in (AbstractConv2d, AbstractConv2d_gradWeights, AbstractConv2d_gradInputs,
            AbstractConv3d, AbstractConv3d_gradWeights, AbstractConv3d_gradInputs):
    _OPS[_op.nd, _op.kind] = _op
register_kernel(ConvKernel(), _Conv)  # the six ops share it
