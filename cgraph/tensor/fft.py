"""`cgraph.tensor.fft` (as pytensor.tensor.fft): real Fourier transforms with complex
values stored as a trailing axis of two reals (real, imaginary).

`rfft` transforms every axis but the first (the batch axis), as numpy's `rfftn`;
`irfft` inverts it. The transforms run in C (csrc/cg_fft.h: mixed radix, Bluestein's
algorithm for lengths with a prime factor above 61; O(n log n) for every n, in double
precision; float32 results are rounded once); mode "PY" runs numpy.fft.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.elemwise import cast
from cgraph.tensor.math import add, mul, sub
from cgraph.tensor.shape import shape_i
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

#: norm -> (the forward transform's scale, the inverse's): 1, 1/sqrt(N) or 1/N, where
#: N is the product of the transformed lengths (numpy's and PyTensor's conventions)
_SCALES = {None: ("none", "full"), "ortho": ("sqrt", "sqrt"), "no_norm": ("none", "none")}


def _scale_of(norm: Any, inverse: bool) -> str:
    if not isinstance(norm, (str, type(None))) or norm not in _SCALES:
        raise ValueError(f"Invalid value {norm!r} for norm, must be None, 'ortho' or "
                         "'no_norm'")
    return _SCALES[norm][inverse]


def _factor(scale: str, size: int) -> float:
    return {"none": 1.0, "sqrt": 1.0 / math.sqrt(size), "full": 1.0 / size}[scale]


def _float(x: Any, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise TypeError(f"{what}: the input must have at least 2 dimensions, the first the "
                        f"batch axis; got {x.type}")
    if x.dtype not in ("float32", "float64"):
        if x.dtype.startswith("complex"):
            raise TypeError(f"{what}: complex input; store it as a trailing axis of 2 "
                            "reals (real, imag)")
        x = cast(x, "float64")
    return x


def _check_lengths(what: str, lengths: tuple) -> None:
    if any(n == 0 for n in lengths):
        raise ValueError(f"{what}: a transform of length 0 (transformed lengths "
                         f"{tuple(lengths)})")


def _middle(n: int) -> slice:
    """The bins of a real transform of length n that stand for two (k and n - k)."""
    return slice(1, (n + 1) // 2)


class RFFTOp(Op):
    """The real transform over axes 1.. of its input (numpy's rfftn), times 1, 1/sqrt(N)
    or 1/N (`scale` 'none', 'sqrt', 'full'); `adjoint`: the bins 1 .. (n-1)//2 of
    the last axis doubled (the gradient of `IRFFTOp`). Output (batch, ..., n//2+1, 2)."""

    __props__ = ("scale", "adjoint")

    def __init__(self, scale: str = "none", adjoint: bool = False):
        self.scale, self.adjoint = scale, bool(adjoint)

    def make_node(self, x: Any) -> Apply:
        x = _float(x, "rfft")
        n = x.type.shape[-1]
        shape = (*x.type.shape[:-1], None if n is None else n // 2 + 1, 2)
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list) -> list:
        x = inputs[0]
        _check_lengths("rfft", x.shape[1:])
        y = np.fft.rfftn(x.astype(np.float64), axes=tuple(range(1, x.ndim)))
        if self.adjoint:
            y[..., _middle(x.shape[-1])] *= 2
        y *= _factor(self.scale, math.prod(x.shape[1:]))
        return [np.stack([y.real, y.imag], -1).astype(x.dtype)]

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        shape = tuple(shapes[0])
        _check_lengths("rfft", shape[1:])
        return [(*shape[:-1], shape[-1] // 2 + 1, 2)]

    def grad(self, inputs: list, output_grads: list) -> list:
        x = inputs[0]
        g = IRFFTOp(self.scale, not self.adjoint)(output_grads[0], shape_i(x, -1))
        return [g]


class IRFFTOp(Op):
    """The inverse real transform over axes 1..ndim-2 of its input (batch, ..., m, 2)
    (numpy's irfftn times N), the last axis of length n (input 1: an integer scalar,
    n // 2 + 1 == m), times 1, 1/sqrt(N) or 1/N (`scale`); `adjoint`: the bins
    1 .. (n-1)//2 halved (the gradient of `RFFTOp`). The imaginary parts of bin 0 (and
    bin n/2 for even n) are ignored."""

    __props__ = ("scale", "adjoint")
    value_inputs = (1,)

    def __init__(self, scale: str = "full", adjoint: bool = False):
        self.scale, self.adjoint = scale, bool(adjoint)

    def make_node(self, x: Any, n: Any) -> Apply:
        x = _float(x, "irfft")
        if x.ndim < 3 or x.type.shape[-1] not in (None, 2):
            raise TypeError(f"irfft: the input must be (batch, ..., n//2+1, 2), the last "
                            f"axis (real, imag); got {x.type}")
        n = as_tensor_variable(n)
        if n.ndim or not n.dtype.startswith(("int", "uint")):
            raise TypeError(f"irfft: the output length must be an integer scalar, got {n.type}")
        length = int(n.data) if hasattr(n, "data") else None
        shape = (*x.type.shape[:-2], length)
        return Apply(self, [x, n], [TensorType(x.dtype, shape).make_variable()])

    @staticmethod
    def _shape(shape: tuple, n: int) -> tuple:
        if len(shape) < 3 or shape[-1] != 2:
            raise ValueError(f"irfft: the input's last axis must hold (real, imag): shape "
                             f"{shape}")
        if n < 1 or n // 2 + 1 != shape[-2]:
            raise ValueError(f"irfft: {shape[-2]} frequency bins cannot give a signal of "
                             f"length {n} (n // 2 + 1 bins)")
        out = (*shape[:-2], n)
        _check_lengths("irfft", out[1:])
        return out

    def perform(self, node: Apply, inputs: list) -> list:
        x, n = inputs
        shape = self._shape(x.shape, int(n))
        c = x[..., 0].astype(np.float64) + 1j * x[..., 1]
        if self.adjoint:
            c[..., _middle(shape[-1])] *= 0.5
        size = math.prod(shape[1:])
        y = np.fft.irfftn(c, s=shape[1:], axes=tuple(range(1, len(shape))))
        return [(y * (size * _factor(self.scale, size))).astype(x.dtype)]

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        return [self._shape(tuple(shapes[0]), int(values[1]))]

    def grad(self, inputs: list, output_grads: list) -> list:
        return [RFFTOp(self.scale, not self.adjoint)(output_grads[0]), None]


#: a prime factor above this: Bluestein's algorithm (CG_FFT_MAX_RADIX in cg_fft.h)
MAX_RADIX = 61


def _largest_factor(n: int) -> int:
    largest, p = 1, 2
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1 if p == 2 else 2
    return max(n, largest)


def _good_size(k: int) -> int:
    """The smallest 2**a 3**b 5**c >= k (cg_fft_good_size)."""
    best = 1 << max(k - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            x = p35
            while x < k:
                x *= 2
            best = min(best, x)
            p35 *= 3
        p5 *= 5
    return best


def _plan_doubles(n: int) -> int:
    """The doubles of a complex transform plan of length n (cg_fft_plan_doubles in
    cg_fft.h; a real one of even length n: that of n / 2, and n + 2)."""
    if _largest_factor(n) <= MAX_RADIX:
        return 6 * n
    return 10 * _good_size(2 * n - 1) + 2 * n


class FFTKernel(KernelBuilder):
    """RFFTOp and IRFFTOp: per batch item, a dense double copy in scratch memory, the
    transform of csrc/cg_fft.h, and the scaled result written with strides."""

    family = "fft"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        forward = isinstance(node.op, RFFTOp)
        real = node.inputs[0] if forward else node.outputs[0]
        rank = real.type.ndim - 1
        layout = ParamLayout(self.family, batch=1, dims=rank, st_real=rank + 1,
                             st_cplx=rank + 2, scratch=1)
        context = {"rank": rank, "forward": forward, "scale": node.op.scale,
                   "adjoint": node.op.adjoint, "ctype": outs[0].ctype}
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context=context)

    @staticmethod
    def _real_shape(node: Apply, in_shapes: list, out_shapes: list) -> tuple:
        return tuple(in_shapes[0] if isinstance(node.op, RFFTOp) else out_shapes[0])

    def scratch(self, node: Apply, in_shapes: list, out_shapes: list) -> int:
        """A dense real and complex copy of one batch item, a lane, and the plans."""
        dims = self._real_shape(node, in_shapes, out_shapes)[1:]
        if 0 in dims:
            return 0
        lanes, n = math.prod(dims[:-1]), dims[-1]
        doubles = lanes * n + 2 * lanes * (n // 2 + 1) + 2 * (max(dims) + 1)
        last = _plan_doubles(n) if n % 2 else _plan_doubles(n // 2) + n + 2
        return 8 * (doubles + sum(_plan_doubles(m) for m in dims[:-1]) + last)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        forward = isinstance(node.op, RFFTOp)
        real, cplx = (in_layouts[0], out_layouts[0]) if forward else (out_layouts[0],
                                                                      in_layouts[0])
        return kernel.layout.build(batch=real[0][0], dims=list(real[0][1:]),
                                   st_real=list(real[1]), st_cplx=list(cplx[1]), scratch=0)


register_kernel(FFTKernel(), RFFTOp, IRFFTOp)


def rfft(inp: Any, norm: str | None = None) -> TensorVariable:
    """The Fourier transform of a real input over all its axes but the first.

    Parameters
    ----------
    inp
        Real array of shape (m, ..., n): m inputs of shape (..., n). float32 stays
        float32; integers become float64.
    norm : {None, 'ortho', 'no_norm'}
        None and 'no_norm' leave the forward transform unscaled (numpy's default);
        'ortho' scales it by 1/sqrt(N), N the product of the transformed lengths.

    Returns
    -------
    TensorVariable
        Shape (m, ..., n//2 + 1, 2): the n//2 + 1 non-redundant frequencies of each
        transform (numpy's ``rfftn(inp, axes=range(1, inp.ndim))``), the real and the
        imaginary part on the last axis.

    Raises
    ------
    TypeError
        For an input of fewer than 2 dimensions.
    ValueError
        For an invalid `norm`, or (when called) a transformed axis of length 0.
    """
    return RFFTOp(_scale_of(norm, False))(inp)


def irfft(inp: Any, norm: str | None = None, is_odd: bool = False) -> TensorVariable:
    """The inverse of `rfft`: real signals from their non-redundant frequencies.

    Parameters
    ----------
    inp
        Array of shape (m, ..., k, 2): m transforms, each of k = n//2 + 1 frequencies on
        its last transformed axis, real and imaginary parts on the last axis. The
        imaginary parts of frequency 0 (and n/2 for even n) are ignored.
    norm : {None, 'ortho', 'no_norm'}
        None scales by 1/N (numpy's default), 'ortho' by 1/sqrt(N), 'no_norm' not at
        all; N is the product of the output's transformed lengths.
    is_odd : bool
        The output's last length is 2 (k - 1) + 1 when True, 2 (k - 1) when False.

    Returns
    -------
    TensorVariable
        Shape (m, ..., n), the input's dtype (float32 or float64; integers become
        float64): numpy's ``irfftn`` over axes 1.. with that last length.

    Raises
    ------
    TypeError
        For an input of fewer than 3 dimensions or whose last axis is not of length 2.
    ValueError
        For an invalid `norm` or `is_odd`, or (when called) a last axis of 2 values
        that is not (real, imag), or an empty output (k = 1 and `is_odd` False).
    """
    if is_odd not in (True, False):
        raise ValueError(f"Invalid value {is_odd!r} for is_odd, must be True or False")
    scale = _scale_of(norm, True)
    x = _float(inp, "irfft")
    if x.ndim < 3:
        raise TypeError(f"irfft: the input must be (batch, ..., n//2+1, 2); got {x.type}")
    bins = x.type.shape[-2]
    if bins is None:
        n = add(mul(sub(shape_i(x, -2), 1), 2), int(is_odd))
    else:
        n = as_tensor_variable(np.array(2 * (bins - 1) + int(is_odd), dtype="int64"))
    return IRFFTOp(scale)(x, n)


__all__ = ["IRFFTOp", "RFFTOp", "irfft", "rfft"]
