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
from cgraph.tensor import special_gamma as G
from cgraph.tensor import special_hyp as H
from cgraph.tensor import special_hyp_grad as HG
from cgraph.tensor import special_scalar as S
from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.math import (
    _elementwise,
    abs,
    add,
    erf,
    exp,
    expm1,
    gammaln,
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
    scalar = (getattr(S, name, None) or getattr(B, name, None) or getattr(H, name, None)
              or getattr(G, name))
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
           "larger v the scaled series is accurate to about 1e-12 (and stops after 1e5 "
           "terms: x up to about 1e5 there). The gradient with "
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

# --------------------------------------------------------------------------- incomplete gamma


def _gamma_density(a: Any, x: Any) -> TensorVariable:
    """x^(a-1) e^-x / Gamma(a), d/dx gammainc(a, x)."""
    return exp(sub(sub(mul(sub(a, 1), log(x)), x), gammaln(a)))


_A_GRAD = "the gradient with respect to a is not implemented (a must then be a constant)"
gammainc = _row("gammainc", 2, lambda a, x, o, gz: [
    parameter_grad("gammainc", a, "a"), mul(gz, _gamma_density(a, x))],
    "The regularized lower incomplete gamma function P(a, x) = gamma(a, x) / Gamma(a), "
    "a >= 0, x >= 0 (NaN outside; P(0, x) = 1 for x > 0). Power series below x = a + 1, "
    "Lentz's continued fraction for Q above, Q summed directly for a < 0.3, x < 1.5. "
    "Where P is below about 1e-200 the relative error grows as abs(log P) * 2e-16 (the "
    "rounding of the exponent); above a = 1e9 the first two terms of Temme's uniform "
    "expansion (error about a**-1.5). Gradient x**(a-1) e**-x / Gamma(a); "
    f"{_A_GRAD}.")
gammaincc = _row("gammaincc", 2, lambda a, x, o, gz: [
    parameter_grad("gammaincc", a, "a"), neg(mul(gz, _gamma_density(a, x)))],
    "The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), computed "
    f"without cancellation (see gammainc); {_A_GRAD}.")
gammaincinv = _row("gammaincinv", 2, lambda a, p, o, gz: [
    parameter_grad("gammaincinv", a, "a"), true_div(gz, _gamma_density(a, o))],
    "x >= 0 with gammainc(a, x) = p (0 at p = 0, inf at p = 1, NaN outside [0, 1]): "
    f"Newton's method on log P or log Q, whichever is smaller; {_A_GRAD}.")
gammainccinv = _row("gammainccinv", 2, lambda a, q, o, gz: [
    parameter_grad("gammainccinv", a, "a"), neg(true_div(gz, _gamma_density(a, o)))],
    f"x >= 0 with gammaincc(a, x) = q (see gammaincinv); {_A_GRAD}.")


def _betainc_grad(a: Any, b: Any, x: Any, o: Any, gz: Any) -> list[TensorVariable | None]:
    density = exp(sub(add(mul(sub(a, 1), log(x)), mul(sub(b, 1), log1p(neg(x)))), betaln(a, b)))
    return [parameter_grad("betainc", a, "a"), parameter_grad("betainc", b, "b"),
            mul(gz, density)]


betainc = _row("betainc", 3, _betainc_grad,
               "The regularized incomplete beta function I_x(a, b), a, b >= 0, 0 <= x <= 1 "
               "(NaN outside): Lentz's continued fraction on the side where it converges "
               "without cancellation, the factor x**a (1-x)**b / B(a, b) by Stirling's "
               "series for large a and b. Gradient with respect to x x**(a-1) (1-x)**(b-1) "
               "/ B(a, b); with respect to a and b it is not implemented (they must then be "
               "constants).")


def _owens_t_grad(h: Any, a: Any, o: Any, gz: Any) -> list[TensorVariable]:
    half_h2 = mul(0.5, sqr(h))
    phi = mul(float(1 / np.sqrt(2 * np.pi)), exp(neg(half_h2)))
    dh = mul(mul(-0.5, phi), erf(mul(float(1 / np.sqrt(2)), mul(a, h))))
    one_a2 = add(1, sqr(a))
    da = true_div(exp(neg(mul(half_h2, one_a2))), mul(float(2 * np.pi), one_a2))
    return [mul(gz, dh), mul(gz, da)]


owens_t = _row("owens_t", 2, _owens_t_grad,
               "Owen's T function T(h, a) = 1/(2 pi) integral_0^a exp(-h**2 (1 + t**2) / 2) "
               "/ (1 + t**2) dt (scipy's owens_t), by Gauss-Legendre quadrature in "
               "atan(t); even in h, odd in a. Gradients in h and a.")

# --------------------------------------------------------------------------- hypergeometric


def _hyp2f1_second(what: str) -> Any:
    """The gradient rule of d hyp2f1 / d `what`: in z through the derivative of
    a b / c hyp2f1(a + 1, b + 1, c + 1, z); a second derivative in a, b or c raises
    NotImplementedError (None for constant or integer parameters)."""
    def rule(a: Any, b: Any, c: Any, z: Any, o: Any, gz: Any) -> list[Any]:
        shifted = [add1(a), add1(b), add1(c), z]
        k = true_div(mul(a, b), c)
        first = {"a": true_div(b, c), "b": true_div(a, c),
                 "c": neg(true_div(k, c))}[what]
        dz = add(mul(first, hyp2f1(*shifted)), mul(k, _HYP2F1_D[what](*shifted)))
        params = [_no_second(v, f"d{what} and d{p}") for v, p in zip((a, b, c), "abc")]
        return [*params, mul(gz, dz)]
    return rule


def _no_second(var: TensorVariable, what: str) -> None:
    if isinstance(var, TensorConstant) or not var.type.is_continuous:
        return None
    raise NotImplementedError(f"hyp2f1: the second derivative {what} is not implemented; "
                              "only the gradient in z of its parameter derivatives is")


def _hyp2f1_derivative(what: str) -> Elemwise:
    """d hyp2f1 / d `what` (a, b or c) as an elementwise op (not a table row: it is
    reached through hyp2f1's gradient only)."""
    name = f"hyp2f1_d{what}"
    which = "abc".index(what) + 1
    args = ", ".join(f"(double){{{i}}}" for i in range(4))
    c = f"(({{t}})cg_hyp2f1_grad({args}, {which}))"
    return Elemwise(ScalarOp(name, 4, c, S.vectorized(getattr(HG, name), 4), to_float,
                             _hyp2f1_second(what)))


def _hyp2f1_grad(a: Any, b: Any, c: Any, z: Any, o: Any, gz: Any) -> list[Any]:
    dz = mul(true_div(mul(a, b), c), hyp2f1(add1(a), add1(b), add1(c), z))
    params = [None if isinstance(v, TensorConstant) or not v.type.is_continuous
              else mul(gz, _HYP2F1_D[p](a, b, c, z)) for v, p in zip((a, b, c), "abc")]
    return [*params, mul(gz, dz)]


hyp2f1 = _row("hyp2f1", 4, _hyp2f1_grad,
              "The Gauss hypergeometric function 2F1(a, b; c; z) for real arguments "
              "(scipy's hyp2f1) with z <= 1 and c not a non-positive integer; NaN outside "
              "(z > 1, c in 0, -1, -2, ..., infinite arguments, z = 1 with c - a - b <= 0 "
              "unless a or b is a non-positive integer). Power series for 0 <= z <= 0.9, "
              "the series in 1 - z above (DLMF 15.8.4), Pfaff's transformations for z < 0. "
              "Where c - a - b (for z < 0: a - b) is an integer, the series in 1 - z with "
              "logarithms (DLMF 15.8.10); where it is within 0.05 of an integer but not "
              "one, the series in 1 - z cancels: the power series is used up to 0.999 "
              "(z/(z-1) for z < 0, i.e. z >= -999), the hypergeometric equation solved by "
              "Taylor steps from 0.5 beyond (accurate to about 1e-11 there). Accurate to "
              "about 1e-13 "
              "relative for abs(a), abs(b), abs(c) up to about 10 away from the "
              "non-positive integers, "
              "except where the value is small against its series' terms (cancellation). "
              "Gradient with respect to z a b / c hyp2f1(a + 1, b + 1, c + 1, z); with "
              "respect to a, b and c by the differentiated power series (abs(z) <= 0.5), "
              "the hypergeometric equation and its derivatives in a, b, c solved by Taylor "
              "steps from z = 0.5 (0.5 < z < 1, any c - a - b), Pfaff's transformations "
              "(z < 0) and Gauss's sum (z = 1, c - a - b > 0; NaN there otherwise); NaN "
              "where hyp2f1 is. Their own gradient is defined in z only.")
_HYP2F1_D = {p: _hyp2f1_derivative(p) for p in "abc"}

# --------------------------------------------------------------------------- aliases

expit = sigmoid
log1pexp = softplus

trigamma = tri_gamma

__all__ = ["beta", "betainc", "betaln", "erfcinv", "erfcx", "erfinv", "expit", "gamma",
           "gammainc", "gammaincc", "gammainccinv", "gammaincinv", "hyp2f1", "i0", "i1", "ive",
           "log1mexp", "log1pexp", "logaddexp", "logit", "owens_t", "polygamma", "softplus",
           "tri_gamma", "trigamma", "xlog1py", "xlogy"]
