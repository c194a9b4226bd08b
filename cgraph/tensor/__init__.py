"""cgraph.tensor: symbolic n-d arrays, with the names of theano.tensor."""

from cgraph.graph.grad import grad
from cgraph.tensor import (
    fft,
    linalg,
    nlinalg,
    nnet,
    shared_randomstreams,  # noqa: F401  (T.shared_randomstreams.RandomStreams, as Theano)
    signal,
    slinalg,
    special,
    xlogx,
)
from cgraph.tensor import methods as _methods  # noqa: F401  (attaches x + y, x.T, ...)
from cgraph.tensor.arrayfns import *  # noqa: F403  (numpy's array functions)
from cgraph.tensor.arrayfns import __all__ as _arrayfns_all
from cgraph.tensor.arrayfns_compat import *  # noqa: F403
from cgraph.tensor.arrayfns_compat import __all__ as _arrayfns_compat_all
from cgraph.tensor.arrayfns_pad import *  # noqa: F403
from cgraph.tensor.arrayfns_pad import __all__ as _arrayfns_pad_all
from cgraph.tensor.arrayfns_search import *  # noqa: F403
from cgraph.tensor.arrayfns_search import __all__ as _arrayfns_search_all
from cgraph.tensor.basic_ops import (
    alloc,
    flatten,
    full,
    full_like,
    ones,
    reshape,
    zeros,
)
from cgraph.tensor.blas import batched_dot, batched_tensordot, matmul, outer, tensordot
from cgraph.tensor.construct import mgrid, ogrid, stacklists
from cgraph.tensor.diagonal import diag, diagonal, trace
from cgraph.tensor.einsum import einsum
from cgraph.tensor.elemwise import Elemwise, ScalarOp, cast
from cgraph.tensor.extra_ops import (
    arange,
    expand_dims,
    eye,
    identity_like,
    shape_padaxis,
    shape_padleft,
    shape_padright,
    split,
    squeeze,
    stack,
    swapaxes,
)
from cgraph.tensor.lanes import argsort, cumprod, cumsum, diff, sort
from cgraph.tensor.math import *  # noqa: F403
from cgraph.tensor.math import (  # with the other names of table ops (fill, where, ...)
    ELEMENTWISE,
    abs_,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    concatenate,
    dot,
    fill,
    floor_div,
    inv,
    join,
    mean,
    ones_like,
    power,
    round_half_to_even,
    sgn,
    square,
    sum,
    tensor_copy,
    true_divide,
    where,
    zeros_like,
)
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
from cgraph.tensor.shape import DimShuffle, dimshuffle, shape, shape_i, transpose
from cgraph.tensor.special_math import *  # noqa: F403  (table rows of special functions)
from cgraph.tensor.special_math import expit, log1pexp, softplus
from cgraph.tensor.specify_shape import (
    addbroadcast,
    patternbroadcast,
    specify_broadcastable,
    specify_shape,
    unbroadcast,
)
from cgraph.tensor.subtensor import inc_subtensor, nonzero, set_subtensor, take
from cgraph.tensor.tiling import repeat, roll, tile
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
    "special", "signal", "linalg", "nlinalg", "slinalg", "fft",
    "alloc", "arange", "argsort", "cumprod", "cumsum", "diff", "expand_dims", "eye", "flatten",
    "full", "identity_like", "ones", "repeat", "reshape", "roll", "sort", "split", "squeeze",
    "stack", "swapaxes", "tile", "zeros",
    "shape", "full_like", "shape_padaxis", "shape_padleft", "shape_padright",
    "diag", "diagonal", "trace",
    "abs_", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "fill", "floor_div",
    "inv", "ones_like", "power", "round_half_to_even", "sgn", "square", "tensor_copy",
    "true_divide", "where", "zeros_like",
    "batched_dot", "batched_tensordot", "matmul", "outer", "tensordot",
    "inc_subtensor", "nonzero", "set_subtensor", "take",
    "mgrid", "ogrid", "specify_shape", "specify_broadcastable", "addbroadcast",
    "unbroadcast", "patternbroadcast", "stacklists", "xlogx",
    "expit", "log1pexp", "softplus",
    *_arrayfns_all, *_arrayfns_pad_all, *_arrayfns_search_all, "einsum",
    *_arrayfns_compat_all,
]
