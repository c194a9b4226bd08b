"""Two internal elementwise ops that let sigmoid(z) and sigmoid(-z) share one
exponential (made by the rewrite `share_sigmoid_exps`, never by users).

Every sigmoid gradient holds both: the forward computes s = sigmoid(z), and the
gradient s * (1 - s) is stabilized to s * sigmoid(-z), as Theano does (1 - s loses
every digit once s rounds to 1). Both are stable from e = exp(-|z|):

    sigmoid(z)  = (z >= 0 ? 1 : e) / (1 + e)
    sigmoid(-z) = (z >= 0 ? e : 1) / (1 + e) = sigmoid_given(-z, e)

so when both appear, e is computed once (in the forward's loop, stored beside s) and
the gradient's loop computes sigmoid(-z) with a division instead of an exponential.
The values equal `sigmoid`'s for every z, NaN and infinities included.
"""

from __future__ import annotations

import numpy as np

from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.math import ge, mul, neg, sign, sqr, switch, true_div, zeros_like
from cgraph.tensor.table import to_float


def _exp_neg_abs_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return np.exp(-np.abs(x)).astype(to_float([x.dtype.name]))


def _sigmoid_given_np(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    x, e = np.asarray(x), np.asarray(e)
    dtype = to_float([x.dtype.name, e.dtype.name])
    return (np.where(x >= 0, 1, e) / (1 + e)).astype(dtype)


#: exp(-|x|)
exp_neg_abs = Elemwise(ScalarOp(
    "exp_neg_abs", 1, "exp(-fabs(({t}){0}))", _exp_neg_abs_np, to_float,
    lambda x, o, gz: [mul(gz, mul(neg(sign(x)), o))], nonnegative=True))

#: sigmoid(x), given e = exp(-|x|): (x >= 0 ? 1 : e) / (1 + e). As a function of x
#: and e its x-derivative is 0 and its e-derivative -+1 / (1 + e)^2, so through
#: e = exp(-|x|) the chain rule gives sigmoid's derivative e / (1 + e)^2.
sigmoid_given = Elemwise(ScalarOp(
    "sigmoid_given", 2, "((({0}) >= 0 ? ({t})1 : ({t}){1}) / (({t})1 + ({t}){1}))",
    _sigmoid_given_np, to_float,
    lambda x, e, o, gz: [zeros_like(x),
                         mul(gz, true_div(switch(ge(x, 0), -1.0, 1.0), sqr(1 + e)))],
    nonnegative=True))
