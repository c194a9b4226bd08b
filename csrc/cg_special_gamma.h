/* cg_special_gamma.h: incomplete gamma and beta functions, their inverses and Owen's T
 * (included by cg_special.h; the Python twins, with the method described, are in
 * cgraph/tensor/special_gamma.py). */
#ifndef CGRAPH_SPECIAL_GAMMA_H
#define CGRAPH_SPECIAL_GAMMA_H

#include <math.h>

#define CG_SP_EULER 0.5772156649015329
/* Series and fractions stop after this many terms (no hang on absurd arguments). */
#define CG_SP_MAX_TERMS 2000000

/* (-1)^k zeta(k) / k, k = 2..39: log Gamma(1 + a) = -EULER a + sum_k c_k a^k. */
static const double cg_lgamma1p_coef[38] = {
    0.8224670334241132, -0.40068563438653143, 0.27058080842778454, -0.20738555102867398,
    0.1695571769974082, -0.1440498967688461, 0.12550966952474304, -0.11133426586956469,
    0.1000994575127818, -0.09095401714582904, 0.083353840546109, -0.0769325164113522,
    0.07143294629536133, -0.06666870588242046, 0.06250095514121304, -0.058823978658684585,
    0.055555767627403614, -0.05263167937961666, 0.05000004769810169, -0.047619070330142226,
    0.04545455629320467, -0.04347826605304026, 0.04166666915034121, -0.04000000119214014,
    0.03846153903467518, -0.037037037312989324, 0.035714285847333355, -0.034482758684919304,
    0.03333333336437758, -0.03225806453115042, 0.03125000000727597, -0.030303030306558044,
    0.029411764707594344, -0.02857142857226011, 0.027777777778181998, -0.027027027027223673,
    0.02631578947377995, -0.025641025641072283};

/* log Gamma(1 + a) for |a| <= 0.3, without the rounding of 1 + a. */
static inline double cg_lgamma1p(double a)
{
    double total = 0.0;
    for (int k = 37; k >= 0; k--)
        total = (total + cg_lgamma1p_coef[k]) * a;
    return (total - CG_SP_EULER) * a;
}

/* log(1 + t) - t, accurate for small t (its series there). */
static inline double cg_log1pmx(double t)
{
    if (fabs(t) > 0.3)
        return log1p(t) - t;
    double term = t, total = 0.0;
    for (int k = 2; k < 200; k++) {
        term *= -t;
        const double step = term / k;
        total += step;
        if (fabs(step) <= CG_SP_EPS * fabs(total))
            break;
    }
    return total;
}

/* x^a e^-x / Gamma(a + 1): pow, exp and tgamma while in range, else Stirling's form. */
static inline double cg_gamma_prefactor(double a, double x)
{
    if (a + 1.0 < 171.0 && x < 700.0) {
        const double p = pow(x, a) * exp(-x);
        if (p > 1e-290 && p < INFINITY)
            return p / tgamma(a + 1.0);
    }
    if (a >= 10.0) {
        const double t = (x - a) / a;
        const double e = fabs(t) <= 0.3 ? a * cg_log1pmx(t) : a * log(x / a) - (x - a);
        return exp(e - cg_stirling_rest(a)) / sqrt(2.0 * CG_SP_PI * a);
    }
    return exp(a * log(x) - x - lgamma(a + 1.0));
}

static inline double cg_p_series(double a, double x)
{
    double total = 1.0, term = 1.0;
    for (double k = 1.0; fabs(term) > CG_SP_EPS * total && k < CG_SP_MAX_TERMS; k += 1.0) {
        term *= x / (a + k);
        total += term;
    }
    return cg_gamma_prefactor(a, x) * total;
}

/* Q = x^a e^-x / Gamma(a) / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)), by Lentz. */
static inline double cg_q_fraction(double a, double x)
{
    const double tiny = 1e-300;
    double b = x + 1.0 - a;
    double f = b != 0 ? b : tiny, c = f, d = 0.0;
    for (int n = 1; n < CG_SP_MAX_TERMS; n++) {
        const double an = -(double)n * (n - a);
        b += 2.0;
        d = b + an * d;
        d = 1.0 / (d != 0 ? d : tiny);
        c = b + an / c;
        c = c != 0 ? c : tiny;
        const double delta = c * d;
        f *= delta;
        if (fabs(delta - 1.0) <= CG_SP_EPS)
            break;
    }
    return cg_gamma_prefactor(a, x) * a / f;
}

/* Q(a, x) for a < 0.3, x < 1.5: 1 - x^a / Gamma(a + 1) (1 + a S) with
 * S = sum_n>=1 (-x)^n / ((a + n) n!), and 1 - x^a / Gamma(a + 1) as -expm1. */
static inline double cg_q_small_a(double a, double x)
{
    double total = 0.0, term = 1.0;
    for (int n = 1;; n++) {
        term *= -x / n;
        const double step = term / (a + n);
        total += step;
        if (fabs(step) <= CG_SP_EPS * fabs(total) || n > 200)
            break;
    }
    const double u = a * log(x) - cg_lgamma1p(a);
    return -expm1(u) - exp(u) * a * total;
}

/* (P, Q) for a > 1e9 by the first two terms of Temme's uniform expansion:
 * Q = erfc(eta sqrt(a/2)) / 2 + exp(-a eta^2 / 2) / sqrt(2 pi a) c0(eta), with
 * eta^2 / 2 = lambda - 1 - log(lambda), lambda = x / a, c0 = 1/(lambda - 1) - 1/eta. */
static inline void cg_gamma_temme(double a, double x, double *p, double *q)
{
    const double t = (x - a) / a;
    const double phi = fabs(t) <= 0.3 ? -cg_log1pmx(t) : t - log(x / a);
    const double eta = copysign(sqrt(2.0 * phi), t);
    const double c0 = fabs(eta) < 1e-3 ? -1.0 / 3 + eta / 12 - 2 * eta * eta / 135
                                       : 1.0 / t - 1.0 / eta;
    const double r = exp(-0.5 * a * eta * eta) / sqrt(2.0 * CG_SP_PI * a) * c0;
    const double s = sqrt(0.5 * a);
    *p = 0.5 * erfc(-eta * s) - r;
    *q = 0.5 * erfc(eta * s) + r;
}

/* P(a, x) at the domain's edges (*edge set), else 0 with *edge cleared. */
static inline double cg_gamma_edges(double a, double x, int *edge)
{
    *edge = 1;
    if (a != a || x != x || a < 0 || x < 0)
        return NAN;
    if (a == 0)
        return x == 0 ? NAN : 1.0;
    if (isinf(a))
        return isinf(x) ? NAN : 0.0;
    if (x == 0)
        return 0.0;
    if (isinf(x))
        return 1.0;
    *edge = 0;
    return 0.0;
}

static inline double cg_gammainc(double a, double x)
{
    int edge;
    const double e = cg_gamma_edges(a, x, &edge);
    if (edge)
        return e;
    if (a > 1e9) {
        double p, q;
        cg_gamma_temme(a, x, &p, &q);
        return p;
    }
    if (a < 0.3 && x < 1.5) {
        const double q = cg_q_small_a(a, x);
        return q < 0.5 ? 1.0 - q : cg_p_series(a, x);
    }
    if (x < a + 1.0)
        return cg_p_series(a, x);
    return 1.0 - cg_q_fraction(a, x);
}

static inline double cg_gammaincc(double a, double x)
{
    int edge;
    const double e = cg_gamma_edges(a, x, &edge);
    if (edge)
        return 1.0 - e;
    if (a > 1e9) {
        double p, q;
        cg_gamma_temme(a, x, &p, &q);
        return q;
    }
    if (a < 0.3 && x < 1.5)
        return cg_q_small_a(a, x);
    if (x < a + 1.0)
        return 1.0 - cg_p_series(a, x);
    return cg_q_fraction(a, x);
}

/* A first x for the inverses: Wilson and Hilferty's cube of a normal deviate, or the
 * small-x power law P ~ x^a / Gamma(a + 1) for a <= 1. */
static inline double cg_gamma_start(double a, double p, int upper)
{
    const double lower_p = upper ? 1.0 - p : p;
    double z = (lower_p > 0 && lower_p < 1) ? -sqrt(2.0) * cg_erfcinv(2.0 * lower_p) : 0.0;
    if (upper && p < 0.5)
        z = sqrt(2.0) * cg_erfcinv(2.0 * p);
    const double c = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * sqrt(a));
    const double w = a * c * c * c;
    if (a > 1.0 && w > 0.0)
        return w;
    if (lower_p < 0.5) {
        const double x = exp((log(lower_p) + lgamma(a + 1.0)) / a);
        if (x > 0.0 && x < a + 1.0)
            return x > 1e-300 ? x : 1e-300;
    }
    if (w > 0.0)
        return w;
    return a * 0.1 > 1e-300 ? a * 0.1 : 1e-300;
}

/* x with P(a, x) = p (Q(a, x) = p when upper): Newton's method in log x on the
 * logarithm of the smaller of P and Q. */
static inline double cg_gamma_invert(double a, double p, int upper)
{
    const int solve_upper = p <= 0.5 ? upper : !upper;
    const double target = log(p <= 0.5 ? p : 1.0 - p);
    double x = cg_gamma_start(a, p, upper);
    double good = 0.0; /* the last x whose value did not underflow */
    for (int i = 0; i < 200; i++) {
        const double value = solve_upper ? cg_gammaincc(a, x) : cg_gammainc(a, x);
        if (value <= 1e-300 && target > -690.0) {
            x = good != 0.0 ? sqrt(x * good) : 0.5 * (x + a);
            continue;
        }
        good = x;
        const double slope = cg_gamma_prefactor(a, x) * a / value;
        double step = (log(value) - target) / (solve_upper ? -slope : slope);
        step = step > 700.0 ? 700.0 : (step < -700.0 ? -700.0 : step);
        const double next = x * exp(-step);
        if (next == 0.0 || fabs(next - x) <= 4 * CG_SP_EPS * next)
            return next;
        x = next;
    }
    return x;
}

static inline double cg_gammaincinv(double a, double p)
{
    if (a != a || p != p || a < 0 || !(p >= 0.0 && p <= 1.0))
        return NAN;
    if (p == 0.0)
        return 0.0;
    if (p == 1.0)
        return INFINITY;
    if (a == 0 || isinf(a))
        return a == 0 ? 0.0 : INFINITY;
    return cg_gamma_invert(a, p, 0);
}

static inline double cg_gammainccinv(double a, double q)
{
    if (a != a || q != q || a < 0 || !(q >= 0.0 && q <= 1.0))
        return NAN;
    if (q == 1.0)
        return 0.0;
    if (q == 0.0)
        return INFINITY;
    if (a == 0 || isinf(a))
        return a == 0 ? 0.0 : INFINITY;
    return cg_gamma_invert(a, q, 1);
}

/* ---------------------------------------------------------------- betainc */

/* x^a (1 - x)^b / B(a, b), with Stirling's series when a and b are both large. */
static inline double cg_beta_prefactor(double a, double b, double x)
{
    if (a >= 10.0 && b >= 10.0) {
        const double s = a + b, x0 = a / s, y0 = b / s, d = x - x0;
        const double ta = d / x0, tb = -d / y0;
        const double ea = fabs(ta) <= 0.3 ? a * cg_log1pmx(ta) : a * log(x / x0) - s * d;
        const double ly = x < 0.5 ? log1p(-x) : log(1.0 - x);
        const double eb = fabs(tb) <= 0.3 ? b * cg_log1pmx(tb) : b * (ly - log(y0)) + s * d;
        const double scale = sqrt(a * b / (2.0 * CG_SP_PI * s));
        return scale * exp(ea + eb + cg_stirling_rest(s) - cg_stirling_rest(a) -
                           cg_stirling_rest(b));
    }
    const double lx = log(x);
    const double ly = x < 0.5 ? log1p(-x) : log(1.0 - x);
    if (a + b < 171.0 && (a < b ? a : b) > 1e-300) {
        const double p = pow(x, a) * (x < 0.5 ? exp(b * ly) : pow(1.0 - x, b));
        if (p > 1e-290)
            return p / cg_beta(a, b);
    }
    return exp(a * lx + b * ly - cg_betaln(a, b));
}

static inline double cg_lentz_guard(double v)
{
    return fabs(v) > 1e-300 ? v : 1e-300;
}

/* I_x(a, b) = prefactor / a / (1 + d1 / (1 + d2 / (1 + ...))), by Lentz. */
static inline double cg_betainc_fraction(double a, double b, double x)
{
    double c = 1.0, d = 1.0 / cg_lentz_guard(1.0 - (a + b) * x / (a + 1.0));
    double f = d;
    for (int m = 1; m < CG_SP_MAX_TERMS; m++) {
        double num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        d = 1.0 / cg_lentz_guard(1.0 + num * d);
        c = cg_lentz_guard(1.0 + num / c);
        f *= c * d;
        num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
        d = 1.0 / cg_lentz_guard(1.0 + num * d);
        c = cg_lentz_guard(1.0 + num / c);
        const double delta = c * d;
        f *= delta;
        if (fabs(delta - 1.0) <= CG_SP_EPS)
            break;
    }
    return cg_beta_prefactor(a, b, x) * f / a;
}

static inline double cg_betainc(double a, double b, double x)
{
    if (a != a || b != b || x != x || a < 0 || b < 0 || !(x >= 0.0 && x <= 1.0))
        return NAN;
    if ((a == 0 && b == 0) || (isinf(a) && isinf(b)))
        return NAN;
    if (a == 0 || isinf(b))
        return x > 0 ? 1.0 : 0.0;
    if (b == 0 || isinf(a))
        return x == 1 ? 1.0 : 0.0;
    if (x == 0.0 || x == 1.0)
        return x;
    if (x > (a + 1.0) / (a + b + 2.0)) {
        const double flipped = cg_betainc_fraction(b, a, 1.0 - x);
        if (flipped <= 0.5)
            return 1.0 - flipped;
    }
    return cg_betainc_fraction(a, b, x);
}

/* ---------------------------------------------------------------- Owen's T */

/* 20-point Gauss-Legendre nodes (the positive half) and weights. */
static const double cg_gl_nodes[10] = {
    0.07652652113349734, 0.22778585114164507, 0.37370608871541955, 0.5108670019508271,
    0.636053680726515, 0.7463319064601508, 0.8391169718222188, 0.912234428251326,
    0.9639719272779138, 0.993128599185095};
static const double cg_gl_weights[10] = {
    0.15275338713072628, 0.14917298647260424, 0.1420961093183824, 0.1316886384491769,
    0.1181945319615186, 0.1019301198172407, 0.08327674157670471, 0.06267204833410879,
    0.040601429800386446, 0.017614007139150893};

/* T(h, a) = exp(-h^2/2) / (2 pi) int_0^atan(a) exp(-(h tan u)^2 / 2) du, by
 * Gauss-Legendre panels at most 0.2 wide in u and 0.5 wide in h tan u. */
static inline double cg_owens_t(double h, double a)
{
    if (h != h || a != a)
        return NAN;
    if (a == 0)
        return 0.0;
    const double sign = copysign(1.0, a);
    h = fabs(h);
    a = fabs(a);
    if (h == 0)
        return sign * atan(a) / (2.0 * CG_SP_PI);
    if (isinf(h) || h > 40.0)
        return sign * 0.0;
    const double end = atan(a), half_h2 = 0.5 * h * h;
    double total = 0.0, lo = 0.0;
    while (lo < end) {
        const double u = h * tan(lo);
        if (u > 40.0)
            break;
        double hi = lo + 0.2;
        const double by_u = atan((u + 0.5) / h);
        hi = by_u < hi ? by_u : hi;
        hi = end < hi ? end : hi;
        const double mid = 0.5 * (hi + lo), rad = 0.5 * (hi - lo);
        double part = 0.0;
        for (int i = 0; i < 10; i++) {
            const double t1 = tan(mid - rad * cg_gl_nodes[i]);
            const double t2 = tan(mid + rad * cg_gl_nodes[i]);
            part += cg_gl_weights[i] * exp(-half_h2 * t1 * t1);
            part += cg_gl_weights[i] * exp(-half_h2 * t2 * t2);
        }
        total += part * rad;
        lo = hi;
    }
    double hi_sq, lo_sq;
    cg_square_parts(h, &hi_sq, &lo_sq);
    return sign * total * exp(-0.5 * hi_sq) * (1.0 - 0.5 * lo_sq) / (2.0 * CG_SP_PI);
}

#endif
