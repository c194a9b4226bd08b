"""The elementwise op table and the user-facing math functions.

Adding an elementwise op is one `_elementwise(...)` entry: its name, arity, C
expression, numpy function, dtype rule and gradient rule (and per-op facts such
as `nonnegative`). Everything else derives from `ELEMENTWISE`: the C loop, the
broadcasting, fusion, the exports of `cgraph.tensor`, the operations list and the
tests, which need the op's numpy twin in `tests/tensor/test_ops.py` (see CONTRIBUTING.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.tensor import reduce as _reduce
from cgraph.tensor.blas import dot  # re-exported: the products live in blas.py
from cgraph.tensor.elemwise import as_operands, cast
from cgraph.tensor.shape import Join, axis_index, shape_i
from cgraph.tensor.table import (  # the table's machinery, re-exported
    ELEMENTWISE,
    _elementwise,
    int_arith,
    no_bool,
    second_dtype,
    to_bool,
    to_float,
    to_floatx,
    upcast,
)
from cgraph.tensor.type import TensorVariable, as_tensor_variable


def _sigmoid_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _true_div_np(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.true_divide(x, y)


def _power_np(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """numpy.power, except that integers to negative integer powers give what C gives
    (0, or +-1 for the bases +-1) where numpy raises ValueError."""
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind not in "biu" or y.dtype.kind not in "biu" or not np.any(y < 0):
        return np.power(x, y)
    dtype = np.result_type(x, y)
    magnitude = np.power(x, np.abs(y)).astype(dtype)
    small = np.where(np.abs(x) == 1, magnitude, np.zeros((), dtype))
    return np.where(y < 0, small, magnitude)


def _zeros(*vs: TensorVariable) -> list[TensorVariable]:
    return [zeros_like(v) for v in vs]


# --------------------------------------------------------------------------- the table
# Gradient rules receive the inputs, the output and the output gradient `gz`, and
# return gradients of the output's shape (Elemwise sums them back to each input).

add = _elementwise("add", 2, "({0} + {1})", np.add, upcast, lambda x, y, o, gz: [gz, gz])
sub = _elementwise("sub", 2, "({0} - {1})", np.subtract, no_bool("subtraction"),
                   lambda x, y, o, gz: [gz, neg(gz)])
mul = _elementwise("mul", 2, "({0} * {1})", np.multiply, upcast,
                   lambda x, y, o, gz: [mul(gz, y), mul(gz, x)])
true_div = _elementwise("true_div", 2, "(({t}){0} / ({t}){1})", _true_div_np, to_floatx,
                        lambda x, y, o, gz: [true_div(gz, y), neg(mul(gz, true_div(o, y)))],
                        doc="True division (numpy's /); integers give config.floatX (Theano), "
                            "and x / 0 gives inf or NaN as in numpy.")
int_div = _elementwise("int_div", 2, "cg_floordiv(({t}){0}, ({t}){1})", np.floor_divide,
                       int_arith, lambda x, y, o, gz: _zeros(x, y),
                       doc="Floor division (numpy's //). Integer division by zero gives 0 "
                           "(numpy's result; it never traps), and the minimum integer // -1 "
                           "wraps around as in numpy; floats follow numpy (x // 0 is inf or "
                           "NaN).")
mod = _elementwise("mod", 2, "cg_mod(({t}){0}, ({t}){1})", np.mod, int_arith,
                   lambda x, y, o, gz: [gz, neg(mul(gz, int_div(x, y)))],
                   doc="Remainder with the sign of the divisor (numpy's %). Integer x % 0 "
                       "gives 0 (numpy's result; it never traps); float x % 0 is NaN.")
pow = _elementwise("pow", 2, "pow(({t}){0}, ({t}){1})", _power_np, int_arith,
                   lambda x, y, o, gz: [mul(gz, mul(y, pow(x, sub(y, 1)))),
                                        mul(gz, mul(o, log(x)))],
                   c_int="cg_ipow(({t}){0}, ({t}){1})",
                   doc="x ** y (numpy's power; integers wrap around on overflow). An integer "
                       "to a negative integer power gives 0 (1 or -1 for the bases 1 and -1), "
                       "where numpy raises ValueError.")
neg = _elementwise("neg", 1, "(-{0})", np.negative, no_bool("negation"),
                   lambda x, o, gz: [neg(gz)])
abs = _elementwise("abs", 1, "fabs({0})", np.abs, upcast,
                   lambda x, o, gz: [mul(gz, sign(x))], c_int="cg_iabs({0})", nonnegative=True)
sign = _elementwise("sign", 1, "cg_sign({0})", np.sign, upcast, lambda x, o, gz: _zeros(x),
                    c_int="(({t})(({0} > 0) - ({0} < 0)))")
exp = _elementwise("exp", 1, "exp(({t}){0})", np.exp, to_float,
                   lambda x, o, gz: [mul(gz, o)], nonnegative=True)
log = _elementwise("log", 1, "log(({t}){0})", np.log, to_float,
                   lambda x, o, gz: [true_div(gz, x)])
sin = _elementwise("sin", 1, "sin(({t}){0})", np.sin, to_float,
                   lambda x, o, gz: [mul(gz, cos(x))])
cos = _elementwise("cos", 1, "cos(({t}){0})", np.cos, to_float,
                   lambda x, o, gz: [neg(mul(gz, sin(x)))])
tanh = _elementwise("tanh", 1, "cg_tanh(({t}){0})", np.tanh, to_float,
                    lambda x, o, gz: [mul(gz, sub(1, mul(o, o)))])
sqrt = _elementwise("sqrt", 1, "sqrt(({t}){0})", np.sqrt, to_float,
                    lambda x, o, gz: [true_div(mul(gz, 0.5), o)], nonnegative=True)
cbrt = _elementwise("cbrt", 1, "cbrt(({t}){0})", np.cbrt, to_float,
                    lambda x, o, gz: [true_div(gz, mul(3, mul(o, o)))],
                    doc="The real cube root (numpy's cbrt; negative for negative x).")
sigmoid = _elementwise("sigmoid", 1, "cg_sigmoid(({t}){0})", _sigmoid_np, to_float,
                       lambda x, o, gz: [mul(gz, mul(o, sub(1, o)))],
                       nonnegative=True,
                       doc="The logistic function 1 / (1 + exp(-x)), computed stably.")
eq = _elementwise("eq", 2, "({0} == {1})", np.equal, to_bool, lambda x, y, o, gz: _zeros(x, y))
neq = _elementwise("neq", 2, "({0} != {1})", np.not_equal, to_bool,
                   lambda x, y, o, gz: _zeros(x, y))
lt = _elementwise("lt", 2, "({0} < {1})", np.less, to_bool, lambda x, y, o, gz: _zeros(x, y))
le = _elementwise("le", 2, "({0} <= {1})", np.less_equal, to_bool,
                  lambda x, y, o, gz: _zeros(x, y))
gt = _elementwise("gt", 2, "({0} > {1})", np.greater, to_bool, lambda x, y, o, gz: _zeros(x, y))
ge = _elementwise("ge", 2, "({0} >= {1})", np.greater_equal, to_bool,
                  lambda x, y, o, gz: _zeros(x, y))
second = _elementwise("second", 2, "{1}", lambda x, y: np.broadcast_arrays(x, y)[1],
                      second_dtype, lambda x, y, o, gz: [zeros_like(x), gz], common=(1,),
                      doc="The second input broadcast to the shape of both (Theano's fill).\n\n"
                          "The result has the second input's dtype and its values exactly; "
                          "the first input gives only its shape (its dtype plays no part).")
identity = _elementwise("identity", 1, "{0}", lambda x: np.array(x, copy=True), upcast,
                        lambda x, o, gz: [gz], doc="A copy of the input.")

# ---- more of issue 3's elementwise ops (C helpers in csrc/cg_math.h) ----------------

_LN2, _LN10 = float(np.log(2.0)), float(np.log(10.0))
_TWO_OVER_SQRT_PI = float(2.0 / np.sqrt(np.pi))


def _vectorized(fn: Callable) -> Callable:
    """A numpy reference from a scalar function of the math module (in float64)."""
    vec = np.vectorize(fn, otypes=[np.float64])

    def apply(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return vec(x.astype(np.float64)) if x.size else x.astype(np.float64)

    return apply


def _digamma_scalar(x: float) -> float:
    """psi(x), as cg_digamma in csrc/cg_math.h computes it."""
    if x <= 0 and np.floor(x) == x:
        return float("nan")
    if x < 0:
        return _digamma_scalar(1.0 - x) - np.pi / np.tan(np.pi * x)
    result = 0.0
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f * (
        1 / 132 - f * (691 / 32760 - f / 12))))))
    return result + np.log(x) - 0.5 / x - series


def _lgamma(x: float) -> float:
    """log(abs(Gamma(x))), +inf at the poles (as C's lgamma) where math.lgamma raises."""
    try:
        return math.lgamma(x)
    except ValueError:
        return math.inf


def _round_half_away_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return x.copy()
    whole = np.trunc(x)  # x - trunc(x) is exact: no double rounding at 0.49999997
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole).astype(x.dtype)


def _bitwise(dtypes: Sequence[str]) -> str:
    dtype = upcast(dtypes)
    if dtype.startswith("float"):
        raise TypeError(f"bitwise operations need integer or bool operands, got {list(dtypes)}")
    return dtype


def _third_and_second(dtypes: Sequence[str]) -> str:
    return upcast(dtypes[1:])


exp2 = _elementwise("exp2", 1, "exp2(({t}){0})", np.exp2, to_float,
                    lambda x, o, gz: [mul(gz, mul(o, _LN2))], nonnegative=True)
expm1 = _elementwise("expm1", 1, "expm1(({t}){0})", np.expm1, to_float,
                     lambda x, o, gz: [mul(gz, add(o, 1))], doc="exp(x) - 1, accurate near 0.")
log2 = _elementwise("log2", 1, "log2(({t}){0})", np.log2, to_float,
                    lambda x, o, gz: [true_div(gz, mul(x, _LN2))])
log10 = _elementwise("log10", 1, "log10(({t}){0})", np.log10, to_float,
                     lambda x, o, gz: [true_div(gz, mul(x, _LN10))])
log1p = _elementwise("log1p", 1, "log1p(({t}){0})", np.log1p, to_float,
                     lambda x, o, gz: [true_div(gz, add(x, 1))],
                     doc="log(1 + x), accurate near 0.")
reciprocal = _elementwise("reciprocal", 1, "(({t})1 / ({t}){0})",
                          lambda x: np.true_divide(1, x), to_float,
                          lambda x, o, gz: [neg(mul(gz, mul(o, o)))])
tan = _elementwise("tan", 1, "tan(({t}){0})", np.tan, to_float,
                   lambda x, o, gz: [mul(gz, add(1, mul(o, o)))])
arcsin = _elementwise("arcsin", 1, "asin(({t}){0})", np.arcsin, to_float,
                      lambda x, o, gz: [true_div(gz, sqrt(sub(1, mul(x, x))))])
arccos = _elementwise("arccos", 1, "acos(({t}){0})", np.arccos, to_float,
                      lambda x, o, gz: [neg(true_div(gz, sqrt(sub(1, mul(x, x)))))])
arctan = _elementwise("arctan", 1, "atan(({t}){0})", np.arctan, to_float,
                      lambda x, o, gz: [true_div(gz, add(1, mul(x, x)))])
sinh = _elementwise("sinh", 1, "sinh(({t}){0})", np.sinh, to_float,
                    lambda x, o, gz: [mul(gz, cosh(x))])
cosh = _elementwise("cosh", 1, "cosh(({t}){0})", np.cosh, to_float,
                    lambda x, o, gz: [mul(gz, sinh(x))], nonnegative=True)
arcsinh = _elementwise("arcsinh", 1, "asinh(({t}){0})", np.arcsinh, to_float,
                       lambda x, o, gz: [true_div(gz, sqrt(add(mul(x, x), 1)))])
arccosh = _elementwise("arccosh", 1, "acosh(({t}){0})", np.arccosh, to_float,
                       lambda x, o, gz: [true_div(gz, sqrt(sub(mul(x, x), 1)))])
arctanh = _elementwise("arctanh", 1, "atanh(({t}){0})", np.arctanh, to_float,
                       lambda x, o, gz: [true_div(gz, sub(1, mul(x, x)))])
floor = _elementwise("floor", 1, "floor({0})", np.floor, upcast,
                     lambda x, o, gz: _zeros(x), c_int="{0}")
ceil = _elementwise("ceil", 1, "ceil({0})", np.ceil, upcast,
                    lambda x, o, gz: _zeros(x), c_int="{0}")
trunc = _elementwise("trunc", 1, "trunc({0})", np.trunc, upcast,
                     lambda x, o, gz: _zeros(x), c_int="{0}")
round_half_to_even = _elementwise("round", 1, "nearbyint({0})", np.round, upcast,
                                  lambda x, o, gz: _zeros(x), c_int="{0}",
                                  doc="Round to the nearest integer, halves to even "
                                      "(numpy's round).")
round_half_away_from_zero = _elementwise(
    "round_half_away_from_zero", 1, "round({0})", _round_half_away_np, upcast,
    lambda x, o, gz: _zeros(x), c_int="{0}",
    doc="Round to the nearest integer, halves away from zero (C's round).")
erf = _elementwise("erf", 1, "erf(({t}){0})", _vectorized(math.erf), to_float,
                   lambda x, o, gz: [mul(gz, mul(_TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))))])
erfc = _elementwise("erfc", 1, "erfc(({t}){0})", _vectorized(math.erfc), to_float,
                    lambda x, o, gz: [neg(mul(gz, mul(_TWO_OVER_SQRT_PI,
                                                      exp(neg(mul(x, x))))))])
psi = _elementwise("psi", 1, "cg_digamma(({t}){0})", _vectorized(_digamma_scalar), to_float,
                   None, doc="The digamma function, d/dx gammaln(x).")
gammaln = _elementwise("gammaln", 1, "lgamma(({t}){0})", _vectorized(_lgamma), to_float,
                       lambda x, o, gz: [mul(gz, psi(x))],
                       doc="The log of the absolute value of the gamma function (scipy's "
                           "gammaln); +inf at the poles 0, -1, -2, ... (C's lgamma).")
isnan = _elementwise("isnan", 1, "isnan((double){0})", np.isnan, to_bool,
                     lambda x, o, gz: _zeros(x))
isinf = _elementwise("isinf", 1, "isinf((double){0})", np.isinf, to_bool,
                     lambda x, o, gz: _zeros(x))
logical_not = _elementwise("logical_not", 1, "(!{0})", np.logical_not, to_bool,
                           lambda x, o, gz: _zeros(x))
invert = _elementwise("invert", 1, "(~{0})", np.invert, _bitwise, lambda x, o, gz: _zeros(x),
                      c_bool="(!{0})", doc="Bitwise not (`~x`); logical not for bool, as in "
                                           "numpy.")
sqr = _elementwise("sqr", 1, "({0} * {0})", np.square, int_arith,
                   lambda x, o, gz: [mul(gz, mul(x, 2))], doc="x * x (numpy's square).")
deg2rad = _elementwise("deg2rad", 1, "(({t}){0} * ({t})%r)" % (np.pi / 180), np.deg2rad,
                       to_float, lambda x, o, gz: [mul(gz, np.pi / 180)])
rad2deg = _elementwise("rad2deg", 1, "(({t}){0} * ({t})%r)" % (180 / np.pi), np.rad2deg,
                       to_float, lambda x, o, gz: [mul(gz, 180 / np.pi)])
maximum = _elementwise("maximum", 2, "cg_fmax_nan({0}, {1})", np.maximum, upcast,
                       lambda x, y, o, gz: [mul(gz, ge(x, y)), mul(gz, lt(x, y))],
                       c_int="({0} > {1} ? {0} : {1})",
                       doc="Elementwise maximum; NaN if either is NaN (numpy's maximum).")
minimum = _elementwise("minimum", 2, "cg_fmin_nan({0}, {1})", np.minimum, upcast,
                       lambda x, y, o, gz: [mul(gz, le(x, y)), mul(gz, gt(x, y))],
                       c_int="({0} < {1} ? {0} : {1})",
                       doc="Elementwise minimum; NaN if either is NaN (numpy's minimum).")
arctan2 = _elementwise("arctan2", 2, "atan2(({t}){0}, ({t}){1})", np.arctan2, to_float,
                       lambda y, x, o, gz: [mul(gz, true_div(x, add(mul(x, x), mul(y, y)))),
                                            neg(mul(gz, true_div(y, add(mul(x, x),
                                                                        mul(y, y)))))])
and_ = _elementwise("and_", 2, "({0} & {1})", np.bitwise_and, _bitwise,
                    lambda x, y, o, gz: _zeros(x, y), doc="Bitwise and (logical for bool).")
or_ = _elementwise("or_", 2, "({0} | {1})", np.bitwise_or, _bitwise,
                   lambda x, y, o, gz: _zeros(x, y), doc="Bitwise or (logical for bool).")
xor = _elementwise("xor", 2, "({0} ^ {1})", np.bitwise_xor, _bitwise,
                   lambda x, y, o, gz: _zeros(x, y), doc="Bitwise xor (logical for bool).")
switch = _elementwise("switch", 3, "({0} ? {1} : {2})",
                      lambda c, a, b: np.where(c, a, b), _third_and_second,
                      lambda c, a, b, o, gz: [zeros_like(c), switch(c, gz, zeros_like(gz)),
                                              switch(c, zeros_like(gz), gz)], common=(1, 2),
                      doc="Elementwise choice: a where cond is nonzero, else b (numpy's "
                          "where).\n\nThe result's dtype is the result type of a and b only; "
                          "cond is tested against 0 in its own dtype (NaN counts as true), so "
                          "the values equal numpy.where's exactly.")
clip = _elementwise("clip", 3, "cg_clip_nan({0}, {1}, {2})",
                    lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), upcast,
                    lambda x, lo, hi, o, gz: [mul(gz, mul(ge(x, lo), le(x, hi))),
                                              mul(gz, lt(x, lo)), mul(gz, gt(x, hi))],
                    c_int="(({0} < {1} ? {1} : {0}) > {2} ? {2} : ({0} < {1} ? {1} : {0}))",
                    doc="x limited to [lo, hi] (numpy's clip); the gradient is 0 outside.")


# Other names of table ops (theano.tensor's, pytensor.tensor's, numpy's). README's list
# shows them next to the op's own name (an alias keeps the op's __name__).
abs_ = abs
sgn = sign
inv = reciprocal
square = sqr
power = pow
true_divide = true_div
floor_div = int_div
where = switch
fill = second
tensor_copy = identity
bitwise_not = invert
bitwise_and = and_
bitwise_or = or_
bitwise_xor = xor

#: Table ops that users know by an alias only (`fill`, `tensor_copy`).
ALIAS_ONLY = {"second", "identity"}

_ROUNDING = {"half_to_even": round_half_to_even,
             "half_away_from_zero": round_half_away_from_zero}


def round(x: Any, mode: str | None = None, decimals: int = 0) -> TensorVariable:
    """Round to `decimals` decimal places (numpy's round: halves to even by default).

    `mode` is "half_to_even" (the default, as numpy and PyTensor) or
    "half_away_from_zero" (C's round, Theano's old default). Integers with
    `decimals >= 0` are returned unchanged; negative `decimals` round them to tens,
    hundreds... in their own dtype.
    """
    x = as_tensor_variable(x)
    mode = mode or "half_to_even"
    if mode not in _ROUNDING:
        raise ValueError(f"round: mode must be one of {sorted(_ROUNDING)}, not {mode!r}")
    rounding = _ROUNDING[mode]
    decimals = int(decimals)
    if decimals == 0:
        return rounding(x)
    if x.dtype[0] in "biu":
        if decimals > 0:
            return x
        scale = np.asarray(10.0 ** -decimals)
        return cast(mul(rounding(true_div(cast(x, "float64"), scale)), scale), x.dtype)
    # as numpy: scale, round to an integer, scale back
    if decimals > 0:
        scale = np.asarray(10.0 ** decimals, dtype=x.dtype)
        return true_div(rounding(mul(x, scale)), scale)
    scale = np.asarray(10.0 ** -decimals, dtype=x.dtype)
    return mul(rounding(true_div(x, scale)), scale)


def zeros_like(x: Any, dtype: Any = None) -> TensorVariable:
    """Zeros of the shape (and dtype, unless given) of `x`."""
    x = as_tensor_variable(x)
    return second(x, np.zeros((), dtype=dtype or x.dtype))


def ones_like(x: Any, dtype: Any = None) -> TensorVariable:
    """Ones of the shape (and dtype, unless given) of `x`."""
    x = as_tensor_variable(x)
    return second(x, np.ones((), dtype=dtype or x.dtype))


# --------------------------------------------------------------------------- reductions, dot


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False,
        dtype: Any = None, acc_dtype: Any = None) -> TensorVariable:
    """Sum over `axis` (None: all), like numpy.sum; bools and ints give int64.

    `dtype` is the dtype of the result and, unless `acc_dtype` (Theano's) says
    otherwise, of the additions (numpy's `dtype`).
    """
    x = as_tensor_variable(x)
    if dtype is None and acc_dtype is None:
        return _reduce.sum(x, axis=axis, keepdims=keepdims)
    acc = np.dtype(acc_dtype or dtype).name
    out = _reduce.sum(cast(x, acc), axis=axis, keepdims=keepdims)
    return cast(out, np.dtype(dtype).name if dtype is not None else _reduce.sum_dtype(x.dtype))


def mean(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False,
         dtype: Any = None, acc_dtype: Any = None) -> TensorVariable:
    """Mean over `axis` (None: all), like numpy.mean; integer inputs give floatX.

    `dtype` is the dtype of the result and, unless `acc_dtype` says otherwise, of the
    sum. The mean of an empty axis is NaN (numpy warns and gives NaN).
    """
    x = as_tensor_variable(x)
    axes = _reduce.normalize_axes(axis, x.ndim)
    default = x.dtype if x.dtype.startswith("float") else config.floatX
    dtype = np.dtype(dtype or default).name
    acc = np.dtype(acc_dtype or dtype).name
    total = _reduce.sum(cast(x, acc), axis=axes, keepdims=keepdims)
    static = [x.type.shape[a] for a in axes]
    if None not in static:
        count: Any = np.asarray(np.prod(static, dtype="int64"), dtype=acc)
    else:
        count = np.asarray(1, dtype=acc)
        for a in axes:
            count = mul(count, cast(shape_i(x, a), acc))
    return cast(true_div(cast(total, acc), count), dtype)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    """Join tensors along an existing axis, like numpy.concatenate."""
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    dtype = upcast([t.dtype for t in tensors])
    ndim = tensors[0].ndim
    axis = axis_index(axis, max(ndim, 1), "concatenate")
    return Join(axis)(*[cast(t, dtype) for t in tensors])


def join(axis: int, *tensors: Any) -> TensorVariable:
    """Theano's join: `concatenate(tensors, axis=axis)` (numpy's result dtype of the
    tensors). Tensors of different ranks raise TypeError when the graph is built;
    lengths off `axis` that do not match raise ValueError naming the shapes."""
    return concatenate(tensors, axis=axis)


__all__ = ["ALIAS_ONLY", "ELEMENTWISE", "abs_", "as_operands", "bitwise_and", "bitwise_not",
           "bitwise_or", "bitwise_xor", "concatenate", "dot", "fill", "floor_div", "inv",
           "join", "mean", "ones_like", "power", "round_half_to_even", "sgn", "square",
           "sum", "tensor_copy", "true_divide", "where", "zeros_like", *ELEMENTWISE]
