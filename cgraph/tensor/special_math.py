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

from cgraph.tensor import special_bessel as B
from cgraph.tensor import special_scalar as S
from cgraph.tensor.math import (
    _elementwise,
    abs,
    add,
    exp,
    expm1,
    log,
    log1p,
    mul,
    neg,
    psi,
    sigmoid,
    sign,
    sqr,
    sub,
    to_float,
    true_div,
)
from cgraph.tensor.nnet import softplus
from cgraph.tensor.type import TensorConstant, TensorVariable


def _c(name: str, nin: int) -> str:
    """The C expression: the double helper cg_<name>, its result in the output type."""
    args = ", ".join(f"(double){{{i}}}" for i in range(nin))
    return f"(({{t}})cg_{name}({args}))"


def _row(name: str, nin: int, grad: Any, doc: str, **facts: Any) -> Any:
    scalar = getattr(S, name, None) or getattr(B, name)
    return _elementwise(name, nin, _c(name, nin), S.vectorized(scalar, nin), to_float, grad,
                        doc=doc, **facts)


def parameter_grad(op: str, var: TensorVariable, what: str) -> None:
    """The gradient with respect to a parameter whose derivative is not implemented:
    None (no gradient flows) when the parameter is a constant or an integer, else
    NotImplementedError naming the op and the input."""
    if isinstance(var, TensorConstant) or not var.type.is_continuous:
        return None
    raise NotImplementedError(
        f"{op}: the gradient with respect to {what} is not implemented (it needs a series "
        f"of its own); make {what} a constant to differentiate with respect to the others")


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

# --------------------------------------------------------------------------- error functions

_SQRT_PI = float(np.sqrt(np.pi))
erfcx = _row("erfcx", 1, lambda x, o, gz: [mul(gz, sub(mul(mul(2, x), o), 2 / _SQRT_PI))],
             "The scaled complementary error function exp(x**2) erfc(x): finite where "
             "erfc underflows (about 1 / (x sqrt(pi)) for large x); inf below -26.7.")
erfinv = _row("erfinv", 1, lambda y, o, gz: [mul(gz, mul(_SQRT_PI / 2, exp(sqr(o))))],
              "The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside), accurate near "
              "+-1 (solved through erfc there).")
erfcinv = _row("erfcinv", 1, lambda q, o, gz: [mul(gz, mul(-_SQRT_PI / 2, exp(sqr(o))))],
               "The inverse of erfc on [0, 2] (inf at 0, -inf at 2, NaN outside), accurate "
               "down to the smallest q (about 26.5 at 1e-307).")

# --------------------------------------------------------------------------- Bessel


def _i1_grad(x: Any, o: Any, gz: Any) -> list[TensorVariable]:
    i2 = mul(ive(2, x), exp(abs(x)))
    return [mul(gz, mul(0.5, add(i0(x), i2)))]


def _ive_grad(v: Any, x: Any, o: Any, gz: Any) -> list[TensorVariable | None]:
    around = mul(0.5, add(ive(sub(v, 1), x), ive(add(v, 1), x)))
    return [parameter_grad("ive", v, "the order v"),
            mul(gz, sub(around, mul(sign(x), o)))]


i0 = _row("i0", 1, lambda x, o, gz: [mul(gz, i1(x))],
          "The modified Bessel function of the first kind of order 0 (inf at +-inf).")
i1 = _row("i1", 1, _i1_grad,
          "The modified Bessel function of the first kind of order 1 (odd: +-inf at +-inf).")
ive = _row("ive", 2, _ive_grad,
           "ive(v, x) = exp(-abs(x)) I_v(x), the exponentially scaled modified Bessel "
           "function of real order v (scipy's ive): NaN for x < 0 unless v is an integer. "
           "Power series, or Hankel's expansion for x > 25 and v**2 < 2x; for x > 700 with "
           "larger v the scaled series is accurate to about 1e-12. The gradient with "
           "respect to v is not implemented (v must be a constant or an integer).")

# --------------------------------------------------------------------------- polygamma


def _polygamma_grad(n: Any, x: Any, o: Any, gz: Any) -> list[TensorVariable | None]:
    return [parameter_grad("polygamma", n, "the order n"), mul(gz, polygamma(add(n, 1), x))]


polygamma = _row("polygamma", 2, _polygamma_grad,
                 "polygamma(n, x), the n-th derivative of psi (n = 0, 1, 2, ...; NaN for "
                 "other n): (-1)**(n+1) n! zeta(n+1, x) by Euler-Maclaurin summation; "
                 "polygamma(0, x) is psi, accurate near its positive root. For x < -3 and "
                 "even n >= 2 the terms cancel (no reflection formula): accuracy drops "
                 "toward the poles. The order n is discrete: no gradient with respect to it.")
tri_gamma = _row("tri_gamma", 1, lambda x, o, gz: [mul(gz, polygamma(2, x))],
                 "The trigamma function polygamma(1, x), d/dx psi(x).")

# --------------------------------------------------------------------------- aliases

expit = sigmoid
log1pexp = softplus

trigamma = tri_gamma

__all__ = ["beta", "betaln", "erfcinv", "erfcx", "erfinv", "expit", "gamma", "i0", "i1", "ive",
           "log1mexp", "log1pexp", "logaddexp", "logit", "polygamma", "softplus", "tri_gamma",
           "trigamma", "xlog1py", "xlogy"]
