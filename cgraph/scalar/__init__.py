"""Theano's `theano.scalar`: scalar types and `upcast`.

cgraph has no separate scalar graph: a scalar is a 0-d tensor. `ScalarType(dtype)` is
the `TensorType` of shape (), so `cgraph.scalar.float64("x")` is a 0-d float64
variable that every tensor op takes, and `cgraph.scalar.float64 == T.dscalar` holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.type import C_TYPES, TensorConstant, TensorType, TensorVariable
from cgraph.tensor.type import constant as tensor_constant

__all__ = ["ScalarType", "Scalar", "as_scalar", "constant", "upcast", *C_TYPES]


class ScalarType(TensorType):
    """The type of a scalar of `dtype`: a 0-d tensor type (`ScalarType("float32")`)."""

    def __init__(self, dtype: Any):
        super().__init__(dtype, ())


#: Theano's older name.
Scalar = ScalarType


def upcast(dtype: Any, *dtypes: Any) -> str:
    """The dtype of an operation mixing these dtypes (numpy's promotion of arrays, as
    Theano's default cast policy): `upcast("int32", "float32")` is "float64"."""
    return str(np.result_type(*(np.dtype(d) for d in (dtype, *dtypes))))


def constant(value: Any, name: str | None = None, dtype: Any = None) -> TensorConstant:
    """A 0-d constant (ValueError if `value` is not a scalar)."""
    if np.ndim(value) != 0:
        raise ValueError(f"cgraph.scalar.constant: {value!r} is not a scalar")
    return tensor_constant(value, name=name, dtype=dtype)


def as_scalar(x: Any, name: str | None = None) -> TensorVariable:
    """`x` as a 0-d tensor: a 0-d variable passes through, a number becomes a constant."""
    if isinstance(x, TensorVariable):
        if x.ndim != 0:
            raise TypeError(f"as_scalar: {x!r} has type {x.type}, not a scalar")
        return x
    return constant(x, name=name)


globals().update({name: ScalarType(name) for name in C_TYPES})
