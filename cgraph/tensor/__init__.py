"""cgraph.tensor: symbolic n-d arrays, with the names of theano.tensor."""

from cgraph.graph.grad import grad
from cgraph.tensor import methods as _methods  # noqa: F401  (attaches x + y, x.T, ...)
from cgraph.tensor import nnet, special
from cgraph.tensor.basic_ops import (
    alloc,
    flatten,
    full,
    ones,
    repeat,
    reshape,
    roll,
    tile,
    zeros,
)
from cgraph.tensor.elemwise import Elemwise, ScalarOp, cast
from cgraph.tensor.extra_ops import (
    arange,
    argsort,
    cumprod,
    cumsum,
    diff,
    expand_dims,
    eye,
    identity_like,
    sort,
    split,
    squeeze,
    stack,
    swapaxes,
)
from cgraph.tensor.math import *  # noqa: F403
from cgraph.tensor.math import ELEMENTWISE, concatenate, dot, join, mean, sum
from cgraph.tensor.reductions import (
    all,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    min,
    prod,
    std,
    var,
)
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
    "all", "any", "argmax", "argmin", "logsumexp", "max", "min", "prod", "std", "var",
    "special",
    "alloc", "arange", "argsort", "cumprod", "cumsum", "diff", "expand_dims", "eye", "flatten",
    "full", "identity_like", "ones", "repeat", "reshape", "roll", "sort", "split", "squeeze",
    "stack", "swapaxes", "tile", "zeros",
]
