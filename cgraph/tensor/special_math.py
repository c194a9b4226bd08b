"""Special functions as elementwise table rows (issue #18): `cgraph.tensor.special`.

Each row is one `_elementwise` entry of cgraph/tensor/math.py's table: the C calls a
helper of csrc/cg_special.h in double precision (float32 results are rounded once),
mode "PY" runs the same algorithm in Python (cgraph/tensor/special_scalar.py).
Integer inputs give floats as `sqrt` does (`to_float`). Values follow
scipy.special's, including its conventions at NaN, infinities and domain edges
(NaN outside the domain); the accuracy against scipy is 1e-13 relative over the
domains tested in tests/tensor/test_special_functions.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor import special_scalar as S
from cgraph.tensor.math import (
    _elementwise,
    exp,
    expm1,
    log,
    log1p,
    mul,
    neg,
    psi,
    sigmoid,
    sub,
    to_float,
    true_div,
)
from cgraph.tensor.nnet import softplus
from cgraph.tensor.type import TensorVariable


def _c(name: str, nin: int) -> str:
    """The C expression: the double helper cg_<name>, its result in the output type."""
    args = ", ".join(f"(double){{{i}}}" for i in range(nin))
    return f"(({{t}})cg_{name}({args}))"


def _row(name: str, nin: int, grad: Any, doc: str, **facts: Any) -> Any:
    return _elementwise(name, nin, _c(name, nin), S.vectorized(getattr(S, name), nin),
                        to_float, grad, doc=doc, **facts)


# --------------------------------------------------------------------------- logistic

logit = _row("logit", 1, lambda p, o, gz: [true_div(gz, mul(p, sub(1, p)))],
             "log(p / (1 - p)), the inverse of `expit`; -inf at 0, inf at 1, NaN outside "
             "[0, 1]. Accurate near p = 1/2 (computed as 2 atanh(2p - 1) there).")
log1mexp = _row("log1mexp", 1, lambda x, o, gz: [neg(true_div(gz, expm1(neg(x))))],
                "log(1 - exp(x)) for x <= 0 (-inf at 0, NaN for x > 0), accurate near 0 "
                "(log(-expm1(x))) and for large negative x (log1p(-exp(x))).")
logaddexp = _row("logaddexp", 2,
                 lambda x, y, o, gz: [mul(gz, exp(sub(x, o))), mul(gz, exp(sub(y, o)))],
                 "log(exp(x) + exp(y)) without overflow (numpy's logaddexp).")
xlogy = _row("xlogy", 2, lambda x, y, o, gz: [mul(gz, log(y)), mul(gz, true_div(x, y))],
             "x * log(y), and 0 where x == 0 unless y is NaN (scipy's xlogy).")
xlog1py = _row("xlog1py", 2,
               lambda x, y, o, gz: [mul(gz, log1p(y)), mul(gz, true_div(x, add1(y)))],
               "x * log1p(y), and 0 where x == 0 unless y is NaN (scipy's xlog1py).")


def add1(y: Any) -> TensorVariable:
    return sub(y, -1)


# --------------------------------------------------------------------------- gamma, beta

gamma = _row("gamma", 1, lambda x, o, gz: [mul(gz, mul(o, psi(x)))],
             "The gamma function; +-inf at +-0, NaN at the negative integers and -inf "
             "(scipy's gamma). Gradient gamma(x) psi(x).")


def _beta_grads(a: Any, b: Any, scale: Any, gz: Any) -> list[TensorVariable]:
    both = psi(a + b)
    return [mul(gz, mul(scale, sub(psi(a), both))), mul(gz, mul(scale, sub(psi(b), both)))]


betaln = _row("betaln", 2, lambda a, b, o, gz: _beta_grads(a, b, np.float64(1.0), gz),
              "log|B(a, b)| = log|Gamma(a) Gamma(b) / Gamma(a + b)|, accurate for large "
              "arguments (Stirling's series, no cancellation of log-gammas); inf at the "
              "poles (a or b a non-positive integer). Gradient psi(a) - psi(a + b).")
beta = _row("beta", 2, lambda a, b, o, gz: _beta_grads(a, b, o, gz),
            "The beta function B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b). Gradient "
            "B(a, b) (psi(a) - psi(a + b)).")

# --------------------------------------------------------------------------- aliases

expit = sigmoid
log1pexp = softplus

__all__ = ["beta", "betaln", "expit", "gamma", "log1mexp", "log1pexp", "logaddexp", "logit",
           "softplus", "xlog1py", "xlogy"]
