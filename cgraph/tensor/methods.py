"""numpy-like operators and methods of TensorVariable (`x + y`, `x.T`, `x.sum()`...).

They are attached here, once, because they call ops from every module of this
layer, which themselves create TensorVariables (JAX attaches its array methods
the same way).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor import basic_ops as b
from cgraph.tensor import blas, lanes, tiling
from cgraph.tensor import diagonal as d
from cgraph.tensor import extra_ops as x
from cgraph.tensor import math as m
from cgraph.tensor import reductions as r
from cgraph.tensor import subtensor as s
from cgraph.tensor.elemwise import cast
from cgraph.tensor.shape import dimshuffle, shape, transpose
from cgraph.tensor.type import TensorVariable, as_tensor_variable
from cgraph.tensor.ufuncs import array_ufunc, truth


def _swap(fn):
    return lambda self, other: fn(other, self)


def _shape(self: TensorVariable) -> TensorVariable:
    return shape(self)


def _size(self: TensorVariable) -> TensorVariable:
    """The number of elements, as an int64 scalar (numpy's `size`)."""
    return r.prod(shape(self)) if self.ndim else as_tensor_variable(np.int64(1))


def _astype(self: TensorVariable, dtype: Any) -> TensorVariable:
    return cast(self, dtype)


def _round(self: TensorVariable, decimals: int = 0, mode: str | None = None) -> TensorVariable:
    return m.round(self, mode=mode, decimals=decimals)


def _setitem(self: TensorVariable, key: Any, value: Any) -> None:
    raise TypeError("symbolic tensors are immutable: use cgraph.tensor.set_subtensor(x[...], y)"
                    " or inc_subtensor(x[...], y), which return the new tensor")


def _iter(self: TensorVariable):
    raise TypeError(f"cannot iterate over the symbolic tensor {self!r}")


_METHODS = {
    "__add__": m.add,
    "__radd__": _swap(m.add),
    "__sub__": m.sub,
    "__rsub__": _swap(m.sub),
    "__mul__": m.mul,
    "__rmul__": _swap(m.mul),
    "__truediv__": m.true_div,
    "__rtruediv__": _swap(m.true_div),
    "__floordiv__": m.int_div,
    "__rfloordiv__": _swap(m.int_div),
    "__mod__": m.mod,
    "__rmod__": _swap(m.mod),
    "__pow__": m.pow,
    "__rpow__": _swap(m.pow),
    "__matmul__": blas.matmul,
    "__rmatmul__": _swap(blas.matmul),
    # `np.exp(x)`, and `array + x` (numpy's add), build cgraph's ops (ufuncs.py).
    "__array_ufunc__": array_ufunc,
    "__neg__": m.neg,
    "__abs__": m.abs,
    "__lt__": m.lt,
    "__le__": m.le,
    "__gt__": m.gt,
    "__ge__": m.ge,
    "__and__": m.and_,
    "__rand__": _swap(m.and_),
    "__or__": m.or_,
    "__ror__": _swap(m.or_),
    "__xor__": m.xor,
    "__rxor__": _swap(m.xor),
    "__invert__": m.invert,
    "clip": m.clip,
    "round": _round,
    "__pos__": lambda self: self,
    "copy": m.tensor_copy,
    "fill": m.fill,
    "ravel": lambda self: b.flatten(self),
    "diagonal": d.diagonal,
    "trace": d.trace,
    "size": property(_size),
    "__bool__": truth,
    "__iter__": _iter,
    "__getitem__": s.getitem,
    "__setitem__": _setitem,
    "take": s.take,
    "nonzero": s.nonzero,
    "T": property(transpose),
    "shape": property(_shape),
    "transpose": lambda self, *axes: transpose(self, axes[0] if len(axes) == 1 and
                                                isinstance(axes[0], (list, tuple)) else
                                                (axes or None)),
    "dimshuffle": dimshuffle,
    "sum": m.sum,
    "mean": m.mean,
    "prod": r.prod,
    "max": r.max,
    "min": r.min,
    "var": r.var,
    "std": r.std,
    "argmax": r.argmax,
    "argmin": r.argmin,
    "all": r.all,
    "any": r.any,
    "dot": blas.dot,
    "astype": _astype,
    "zeros_like": m.zeros_like,
    "ones_like": m.ones_like,
    "reshape": lambda self, *shape, ndim=None: b.reshape(
        self, shape[0] if len(shape) == 1 else shape, ndim),
    "flatten": b.flatten,
    "squeeze": x.squeeze,
    "swapaxes": x.swapaxes,
    "repeat": tiling.repeat,
    "cumsum": lanes.cumsum,
    "cumprod": lanes.cumprod,
    "sort": lanes.sort,
    "argsort": lanes.argsort,
}


def install() -> None:
    """Attach the methods to TensorVariable (idempotent)."""
    for name, fn in _METHODS.items():
        setattr(TensorVariable, name, fn)


install()
