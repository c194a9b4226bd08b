/* cg_special.h: special functions for cgraph.tensor.special (issue #18).
 *
 * Every function takes and returns double (float32 ops compute in double and round
 * once). The algorithms are the textbook ones, written for this file: power series,
 * continued fractions evaluated by the modified Lentz method, asymptotic expansions,
 * Newton/Halley iteration for the inverses. cgraph/tensor/special_scalar.py computes
 * the same things in Python for mode "PY"; keep the two in step.
 */
#ifndef CGRAPH_SPECIAL_H
#define CGRAPH_SPECIAL_H

#include <math.h>

#define CG_SP_PI 3.14159265358979323846
#define CG_SP_LN2 0.69314718055994530942
#define CG_SP_SQRT_PI 1.77245385090551602730
#define CG_SP_LN_SQRT_2PI 0.91893853320467274178
#define CG_SP_EPS 2.220446049250313e-16

/* ---------------------------------------------------------------- logistic family */

/* log(p / (1 - p)): 2 atanh(2p - 1) near p = 1/2 (2p - 1 is exact there). */
static inline double cg_logit(double p)
{
    if (!(p >= 0.0 && p <= 1.0))
        return NAN;
    if (p >= 0.25 && p <= 0.75)
        return 2.0 * atanh(2.0 * p - 1.0);
    if (p < 0.25)
        return log(p / (1.0 - p));
    return -log((1.0 - p) / p);
}

/* log(1 - exp(x)) for x <= 0: log(-expm1(x)) near 0, log1p(-exp(x)) below -ln 2. */
static inline double cg_log1mexp(double x)
{
    if (x > 0.0)
        return NAN;
    if (x > -CG_SP_LN2)
        return log(-expm1(x));
    return log1p(-exp(x));
}

/* log(exp(x) + exp(y)) without overflow. */
static inline double cg_logaddexp(double x, double y)
{
    if (x == y)
        return x + CG_SP_LN2;
    double d = x - y;
    if (d > 0)
        return x + log1p(exp(-d));
    if (d <= 0)
        return y + log1p(exp(d));
    return d; /* NaN */
}

/* x * log(y), 0 where x == 0 and y is not NaN (scipy's xlogy). */
static inline double cg_xlogy(double x, double y)
{
    if (x == 0.0 && y == y)
        return 0.0;
    return x * log(y);
}

static inline double cg_xlog1py(double x, double y)
{
    if (x == 0.0 && y == y)
        return 0.0;
    return x * log1p(y);
}

/* ---------------------------------------------------------------- gamma and beta */

/* log Gamma(x) - Stirling's approximation (x - 1/2) log x - x + log sqrt(2 pi), x >= 10:
 * the asymptotic series sum B_2k / (2k (2k - 1) x^(2k - 1)). */
static inline double cg_stirling_rest(double x)
{
    const double f = 1.0 / (x * x);
    return (1.0 / 12 - f * (1.0 / 360 - f * (1.0 / 1260 - f * (1.0 / 1680 - f * (1.0 / 1188 -
            f * (691.0 / 360360 - f * (1.0 / 156 - f * (3617.0 / 122400)))))))) / x;
}

/* Gamma(x); NaN at the poles 0 excepted (+-inf there, as scipy). */
static inline double cg_gamma(double x)
{
    if (x == 0.0)
        return copysign(INFINITY, x);
    if (x < 0 && floor(x) == x)
        return NAN;
    return tgamma(x);
}

/* log|B(a, b)| for a, b > 0: the Gamma ratio while it is finite, then Stirling's form
 * with the differences of logarithms taken as log1p (no cancellation for large b). */
static inline double cg_betaln(double a, double b)
{
    if (a != a || b != b)
        return NAN;
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    if (a <= 0 || isinf(b)) {
        if (a == floor(a) && a <= 0)
            return INFINITY;
        if (isinf(b))
            return (a > 0) ? -INFINITY : NAN;
        if (b == floor(b) && b <= 0)
            return INFINITY;
        return lgamma(a) + lgamma(b) - lgamma(a + b);
    }
    const double s = a + b;
    if (s < 171.0 && a > 1e-300) {
        const double r = tgamma(a) / tgamma(s) * tgamma(b);
        return log(fabs(r));
    }
    if (b < 10.0) /* a below 1e-300 */
        return lgamma(a) + lgamma(b) - lgamma(s);
    if (a < 10.0)
        return lgamma(a) + a - a * log(s) - (b - 0.5) * log1p(a / b) +
               cg_stirling_rest(b) - cg_stirling_rest(s);
    return CG_SP_LN_SQRT_2PI - 0.5 * log(b) + (a - 0.5) * log(a / s) - b * log1p(a / b) +
           cg_stirling_rest(a) + cg_stirling_rest(b) - cg_stirling_rest(s);
}

/* B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b). */
static inline double cg_beta(double a, double b)
{
    if (a != a || b != b)
        return NAN;
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    if (a > 0 && a + b < 171.0 && a > 1e-300)
        return tgamma(a) / tgamma(a + b) * tgamma(b);
    if (a > 0)
        return exp(cg_betaln(a, b));
    if (a == floor(a) || (b <= 0 && b == floor(b)))
        return INFINITY;
    const double s = a + b;
    const double sign = copysign(1.0, tgamma(a)) * copysign(1.0, tgamma(b));
    if (s <= 0 && s == floor(s))
        return sign * 0.0; /* 1 / Gamma(s) = 0, signed as Gamma(a) Gamma(b) (as scipy) */
    return sign * copysign(1.0, tgamma(s)) * exp(lgamma(a) + lgamma(b) - lgamma(s));
}

/* ---------------------------------------------------------------- error functions */

/* x * x = *hi + *lo exactly (Dekker's split of x into 26-bit halves). */
static inline void cg_square_parts(double x, double *hi, double *lo)
{
    const double c = 134217729.0 * x;
    const double xh = c - (c - x), xl = x - xh;
    *hi = x * x;
    *lo = ((xh * xh - *hi) + 2.0 * xh * xl) + xl * xl;
}

/* exp(x * x), with the rounding of x * x taken into account. */
static inline double cg_exp_sq(double x)
{
    double hi, lo;
    cg_square_parts(x, &hi, &lo);
    return exp(hi) * (1.0 + lo);
}

/* exp(x^2) erfc(x): the product below 26 (erfc is accurate to its last bits there),
 * then the continued fraction 1 / (x + (1/2) / (x + (2/2) / (x + ...))) / sqrt(pi). */
static inline double cg_erfcx(double x)
{
    if (x != x)
        return NAN;
    if (x < 0)
        return x < -26.7 ? INFINITY : 2.0 * cg_exp_sq(x) - cg_erfcx(-x);
    if (x < 26.0)
        return cg_exp_sq(x) * erfc(x);
    if (x > 1e9)
        return x > 1e150 ? 1.0 / (x * CG_SP_SQRT_PI) : (1.0 - 0.5 / (x * x)) / (x * CG_SP_SQRT_PI);
    double f = x, c = x, d = 0.0;
    for (int n = 1; n < 100; n++) {
        const double a = 0.5 * n;
        d = 1.0 / (x + a * d);
        c = x + a / c;
        f *= c * d;
        if (fabs(c * d - 1.0) < CG_SP_EPS)
            break;
    }
    return 1.0 / (CG_SP_SQRT_PI * f);
}

/* x >= 0 with erf(x) = y, 0 < y <= 1/2: Newton from the series' first terms. */
static inline double cg_erf_solve(double y)
{
    double x = 0.5 * CG_SP_SQRT_PI * y * (1.0 + CG_SP_PI * y * y / 12.0);
    for (int i = 0; i < 20; i++) {
        const double step = (erf(x) - y) * 0.5 * CG_SP_SQRT_PI * exp(x * x);
        x -= step;
        if (fabs(step) <= 2e-16 * x)
            break;
    }
    return x;
}

/* x > 0 with erfc(x) = q, 0 < q <= 1/2: Newton on log erfc(x) = log q, where
 * log erfc(x) = log erfcx(x) - x^2 does not underflow. */
static inline double cg_erfc_solve(double q)
{
    const double target = log(q);
    double x = sqrt(-target);
    if (x > 1) {
        x = x - log(CG_SP_SQRT_PI * x) / (2.0 * x);
        x = x > 0.4 ? x : 0.4;
    } else {
        x = 0.5;
    }
    for (int i = 0; i < 50; i++) {
        const double e = cg_erfcx(x);
        double hi, lo;
        cg_square_parts(x, &hi, &lo);
        const double g = (log(e) - hi) - lo - target;
        const double step = g * 0.5 * CG_SP_SQRT_PI * e;
        x += step;
        if (fabs(step) <= 2e-16 * x)
            break;
    }
    return x;
}

static inline double cg_erfinv(double y)
{
    if (!(y >= -1.0 && y <= 1.0))
        return NAN;
    if (y == 0.0)
        return 0.0; /* +0 for -0 too (scipy's) */
    const double a = fabs(y);
    const double x = a == 1.0 ? INFINITY : (a <= 0.5 ? cg_erf_solve(a) : cg_erfc_solve(1.0 - a));
    return copysign(x, y);
}

static inline double cg_erfcinv(double q)
{
    if (!(q >= 0.0 && q <= 2.0))
        return NAN;
    if (q == 0.0)
        return INFINITY;
    if (q == 2.0)
        return -INFINITY;
    if (q < 0.5)
        return cg_erfc_solve(q);
    if (q <= 1.5)
        return -cg_erfinv(q - 1.0);
    return -cg_erfc_solve(2.0 - q);
}

#include "cg_special_bessel.h"
#include "cg_special_gamma.h"
#include "cg_special_hyp.h"

#endif
