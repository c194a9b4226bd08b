/* cg_special_bessel.h: modified Bessel functions and polygamma (included by
 * cg_special.h; the Python twins are in cgraph/tensor/special_bessel.py). */
#ifndef CGRAPH_SPECIAL_BESSEL_H
#define CGRAPH_SPECIAL_BESSEL_H

#include <math.h>

/* B_2j / (2j)!, j = 1, 2, ...: the Euler-Maclaurin coefficients. */
static const double cg_bernoulli_over_factorial[12] = {
    1.0 / 12, -1.0 / 720, 1.0 / 30240, -1.0 / 1209600, 1.0 / 47900160,
    -691.0 / 1307674368000.0, 1.0 / 74724249600.0, -3617.0 / 10670622842880000.0,
    43867.0 / 5109094217170944000.0, -174611.0 / 802857662698291200000.0,
    77683.0 / 14101100039391805440000.0, -236364091.0 / 1693824136731743669452800000.0};

/* exp(-x) I_v(x) by Hankel's expansion; NaN where it does not reach full accuracy. */
static inline double cg_ive_asymptotic(double v, double x)
{
    const double mu = 4.0 * v * v;
    double term = 1.0, total = 1.0;
    for (int k = 1; k < 400; k++) {
        const double odd = (double)(2 * k - 1) * (double)(2 * k - 1);
        const double next = -term * (mu - odd) / (8.0 * k * x);
        if (fabs(next) <= CG_SP_EPS * fabs(total))
            return total / sqrt(2.0 * CG_SP_PI * x);
        if (odd > mu && fabs(next) > fabs(term))
            return NAN;
        total += next;
        term = next;
    }
    return NAN;
}

/* (x/2)^v / Gamma(v + 1): for v = n + f >= 0 (n whole, 0 <= f < 1) as
 * (x/2)^f / Gamma(f + 1) times the n factors (x/2) / (f + j), which round once each. */
static inline double cg_ive_first(double v, double x)
{
    if (v >= 0 && v <= 2000) {
        const double n = floor(v), f = v - n;
        double t = f != 0.0 ? pow(0.5 * x, f) / tgamma(f + 1.0) : 1.0;
        for (double j = 1; j <= n; j++)
            t *= 0.5 * x / (f + j);
        return t;
    }
    if (v + 1 <= 0 && v + 1 == floor(v + 1))
        return 0.0;
    const double p = pow(0.5 * x, v);
    const double g = cg_gamma(v + 1.0);
    if (isinf(p) || isinf(g) || p == 0.0 || g == 0.0) {
        const double sign = isinf(g) ? 1.0 : copysign(1.0, g);
        return sign * exp(v * log(0.5 * x) - lgamma(v + 1.0));
    }
    return p / g;
}

/* exp(-x) sum_k (x/2)^(2k+v) / (k! Gamma(k+v+1)); past x = 700 the sum is rescaled
 * as it grows and exp(-x) is applied in the logarithm. */
static inline double cg_ive_series(double v, double x)
{
    const double q = 0.25 * x * x;
    if (x <= 700.0) {
        double t = cg_ive_first(v, x), total = t;
        for (double k = 1;; k++) {
            t *= q / (k * (k + v));
            total += t;
            if ((fabs(t) <= CG_SP_EPS * fabs(total) && k + v > 0) || k > 100000)
                break;
        }
        return total * exp(-x);
    }
    const double log_first = v * log(0.5 * x) - lgamma(v + 1.0) - x;
    double t = 1.0, total = 1.0, shift = 0.0;
    for (double k = 1;; k++) {
        t *= q / (k * (k + v));
        total += t;
        if ((fabs(t) <= CG_SP_EPS * fabs(total) && k + v > 0) || k > 100000)
            break;
        if (total > 1e250) {
            t *= 1e-250;
            total *= 1e-250;
            shift += 250.0 * log(10.0);
        }
    }
    return total * exp(log_first + shift);
}

/* exp(-|x|) I_v(x) (scipy's ive) for real order v. */
static inline double cg_ive(double v, double x)
{
    if (v != v || x != x || isinf(v))
        return NAN;
    if (x < 0) {
        if (v != floor(v))
            return NAN;
        const double r = cg_ive(v, -x);
        return fmod(fabs(v), 2.0) == 1.0 ? -r : r;
    }
    if (v < 0 && v == floor(v))
        v = -v;
    if (x == 0.0)
        return v == 0 ? 1.0 : (v > 0 ? 0.0 : NAN);
    if (isinf(x))
        return 0.0;
    if (x > 25.0 && v * v < 2.0 * x) {
        const double r = cg_ive_asymptotic(v, x);
        if (r == r)
            return r;
    }
    return cg_ive_series(v, x);
}

static inline double cg_i0(double x)
{
    return isinf(x) ? INFINITY : cg_ive(0.0, x) * exp(fabs(x));
}

static inline double cg_i1(double x)
{
    return isinf(x) ? x : cg_ive(1.0, x) * exp(fabs(x));
}

/* ---------------------------------------------------------------- polygamma */

/* sum_k (q + k)^(-s) for integer s >= 2: the terms below max(12, s), then the
 * Euler-Maclaurin tail. */
static inline double cg_hurwitz_zeta(double s, double q)
{
    if (q < -1e6)
        return NAN; /* (the sum would take -q terms) */
    double total = 0.0, a = q;
    const double start = s > 12.0 ? s : 12.0;
    while (a < start) {
        const double term = pow(a, -s);
        total += term;
        a += 1.0;
        if (a > 12.0 && fabs(term) <= CG_SP_EPS * fabs(total))
            return total; /* large s: the rest is below the rounding */
        if (total != total || a - q > 1e7)
            return NAN; /* inf - inf, or an order too large to sum */
    }
    total += pow(a, 1.0 - s) / (s - 1.0) + 0.5 * pow(a, -s);
    double factor = s * pow(a, -s - 1.0);
    for (int j = 1; j <= 12; j++) {
        const double term = cg_bernoulli_over_factorial[j - 1] * factor;
        total += term;
        if (fabs(term) <= CG_SP_EPS * fabs(total))
            break;
        factor *= (s + 2 * j - 1) * (s + 2 * j) / (a * a);
    }
    return total;
}

/* psi's positive root as hi + lo, and psi^(k)(root) / k!, k = 1..19. */
static const double cg_psi_root[2] = {1.4616321449683622, 9.549995429965697e-17};
static const double cg_psi_root_taylor[19] = {
    0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652,
    0.10782405069126237, -0.07219956125645471, 0.04880428816414311, -0.03316112647484736,
    0.022597648232218104, -0.01542476590494896, 0.010538791616612175, -0.007204534386356869,
    0.004926781395729853, -0.003369801655439328, 0.002305126326734928, -0.0015769367714301972,
    0.0010788252019162967, -0.0007380709389960052, 0.000504953265834602};

/* psi(x): the recurrence to x >= 12, then the asymptotic series; the Taylor series
 * at the positive root; reflection below 0 (tan of the reduced argument). */
static inline double cg_psi(double x)
{
    if (x != x || x == -INFINITY)
        return NAN;
    if (x == INFINITY)
        return INFINITY;
    if (x == 0.0)
        return -copysign(INFINITY, x);
    if (x < 0) {
        if (x == floor(x))
            return NAN;
        return cg_psi(1.0 - x) - CG_SP_PI / tan(CG_SP_PI * (x - nearbyint(x)));
    }
    if (fabs(x - cg_psi_root[0]) < 0.15) {
        const double d = (x - cg_psi_root[0]) - cg_psi_root[1];
        double total = 0.0;
        for (int k = 18; k >= 0; k--)
            total = (total + cg_psi_root_taylor[k]) * d;
        return total;
    }
    double total = 0.0;
    while (x < 12.0) {
        total -= 1.0 / x;
        x += 1.0;
    }
    const double f = 1.0 / (x * x);
    const double series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 -
        f * (1.0 / 132 - f * (691.0 / 32760 - f * (1.0 / 12 - f * 3617.0 / 8160)))))));
    return total + log(x) - 0.5 / x - series;
}

/* The n-th derivative of psi, n = 0, 1, 2, ...: (-1)^(n+1) n! zeta(n + 1, x). */
static inline double cg_polygamma(double n, double x)
{
    if (n != n || x != x || n < 0 || n != floor(n) || isinf(n))
        return NAN;
    if (n == 0)
        return cg_psi(x);
    const double sign = fmod(n, 2.0) == 1.0 ? 1.0 : -1.0;
    if (x == INFINITY)
        return sign * 0.0;
    if (x == -INFINITY)
        return NAN;
    if (x <= 0 && x == floor(x))
        return sign * INFINITY;
    return sign * tgamma(n + 1.0) * cg_hurwitz_zeta(n + 1.0, x);
}

static inline double cg_tri_gamma(double x)
{
    return cg_polygamma(1.0, x);
}

#endif
