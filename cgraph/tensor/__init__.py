"""cgraph.tensor: symbolic n-d arrays, with the names of theano.tensor."""

from cgraph.graph.grad import grad
from cgraph.tensor import methods as _methods  # noqa: F401  (attaches x + y, x.T, ...)
from cgraph.tensor import nnet
from cgraph.tensor.elemwise import Elemwise, ScalarOp, cast
from cgraph.tensor.math import *  # noqa: F403
from cgraph.tensor.math import ELEMENTWISE, concatenate, dot, join, mean, sum
from cgraph.tensor.shape import DimShuffle, dimshuffle, shape_i, transpose
from cgraph.tensor.type import (
    TensorConstant,
    TensorType,
    TensorVariable,
    as_tensor_variable,
    constant,
    constructors,
    tensor,
)

globals().update(constructors)
as_tensor = as_tensor_variable

__all__ = [
    "DimShuffle", "ELEMENTWISE", "Elemwise", "ScalarOp", "TensorConstant", "TensorType",
    "TensorVariable", "as_tensor", "as_tensor_variable", "cast", "concatenate", "constant",
    "dimshuffle", "dot", "grad", "join", "mean", "nnet", "shape_i", "sum", "tensor",
    "transpose", *constructors, *ELEMENTWISE,
]
