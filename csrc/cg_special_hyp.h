/* cg_special_hyp.h: the Gauss hypergeometric function 2F1(a, b; c; z) for real
 * arguments (included by cg_special.h; the Python twin is cgraph/tensor/special_hyp.py,
 * which documents the domain: keep the two in step).
 *
 * z < 0 goes through Pfaff's transformations (or the power series for |z| <= 0.9),
 * whichever loses the fewest digits; 0 <= z <= 0.9 is the power series; 0.9 < z < 1
 * the series in 1 - z (DLMF 15.8.4), or with logarithms where c - a - b is an integer
 * (15.8.10), or where it is near one the power series up to 0.999 and the
 * hypergeometric equation by Taylor steps (cg_hyp_march, below) above. */
#ifndef CGRAPH_SPECIAL_HYP_H
#define CGRAPH_SPECIAL_HYP_H

#include <math.h>

#define CG_HYP_MAX_TERMS 200000.0
#define CG_HYP_SERIES_UP_TO 0.9
#define CG_HYP_NEAR_INTEGER 0.05
#define CG_HYP_SERIES_LIMIT 0.999
#define CG_HYP_INTEGER_EXCESS 1e-13
#define CG_HYP_MAX_EXCESS 1000.0
#define CG_HYP_MAX_TAYLOR 2000
#define CG_HYP_GRAD_SERIES_UP_TO 0.5 /* the jets' series alone up to this z; Taylor steps above */

/* The jet of 2F1 at z = 1 - y by the hypergeometric equation (below). */
static inline double cg_hyp_march(double a, double b, double c, double y, double j[4]);

static inline int cg_hyp_pole(double x)
{
    return x <= 0 && x == floor(x);
}

/* sum_k (a)_k (b)_k / ((c)_k k!) z^k by Neumaier's compensated sum; *cond gets
 * sum_k |term_k| / |sum|. NaN when it does not converge in CG_HYP_MAX_TERMS terms. */
static inline double cg_hyp_series(double a, double b, double c, double z, double *cond)
{
    double term = 1.0, total = 1.0, size = 1.0, lost = 0.0;
    const double k_min = fabs(a) + fabs(b) + fabs(c) + 2.0; /* monotone ratios past it */
    for (double k = 0.0; k < CG_HYP_MAX_TERMS;) {
        const double ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        k += 1.0;
        const double sum = total + term;
        lost += fabs(total) >= fabs(term) ? (total - sum) + term : (term - sum) + total;
        total = sum;
        size += fabs(term);
        const double bound = fabs(ratio) > fabs(z) ? fabs(ratio) : fabs(z);
        const double tail = fabs(term) * bound; /* <= (1 - bound) times the rest */
        if (term == 0.0 ||
            (k > k_min && bound < 1.0 &&
             tail <= 0.5 * CG_SP_EPS * (1.0 - bound) * fabs(total + lost))) {
            total += lost;
            *cond = total != 0.0 ? size / fabs(total) : INFINITY;
            return total;
        }
    }
    *cond = INFINITY;
    return NAN;
}

/* Gamma(p) Gamma(q) / (Gamma(r) Gamma(s)); 0 when r or s is a pole. */
static inline double cg_hyp_gamma_ratio(double p, double q, double r, double s)
{
    if (cg_hyp_pole(r) || cg_hyp_pole(s))
        return 0.0;
    if (fabs(p) < 170.0 && fabs(q) < 170.0 && fabs(r) < 170.0 && fabs(s) < 170.0)
        return cg_gamma(p) / cg_gamma(r) * (cg_gamma(q) / cg_gamma(s));
    const double args[4] = {p, q, r, s};
    double sign = 1.0;
    for (int i = 0; i < 4; i++)
        if (args[i] < 0 && fmod(floor(args[i]), 2.0) != 0.0)
            sign = -sign;
    return sign * exp(lgamma(p) + lgamma(q) - lgamma(r) - lgamma(s));
}

/* 2F1 at z = 1 - y, y < 0.1, by the series in y (c - a - b not near an integer). */
static inline double cg_hyp_near_one(double a, double b, double c, double y, double *cond)
{
    const double s = c - a - b;
    double first = 0.0, second = 0.0, cond1 = 1.0, cond2 = 1.0;
    double ratio = cg_hyp_gamma_ratio(c, s, c - a, c - b);
    if (ratio != 0.0)
        first = ratio * cg_hyp_series(a, b, 1.0 - s, y, &cond1);
    ratio = cg_hyp_gamma_ratio(c, -s, a, b);
    if (ratio != 0.0)
        second = ratio * pow(y, s) * cg_hyp_series(c - a, c - b, 1.0 + s, y, &cond2);
    const double total = first + second;
    const double size = fabs(first) * cond1 + fabs(second) * cond2;
    *cond = total != 0.0 ? size / fabs(total) : INFINITY;
    return total;
}

/* 2F1(a, b; a + b + m; 1 - y) for an integer m >= 0 and y < 0.1, by the series in y
 * with logarithms (DLMF 15.8.10). */
static inline double cg_hyp_integer_excess(double a, double b, int m, double y, double *cond)
{
    const double c = a + b + m;
    double finite = 0.0, size = 0.0;
    double ratio = m > 0 ? cg_hyp_gamma_ratio((double)m, c, a + m, b + m) : 0.0;
    if (ratio != 0.0) {
        double term = 1.0; /* (a)_k (b)_k / (k! (1 - m)_k) y^k */
        for (int k = 0; k < m; k++) {
            finite += term;
            size += fabs(term);
            if (k + 1 < m)
                term *= (a + k) * (b + k) / ((k + 1.0) * (k + 1.0 - m)) * y;
        }
        finite *= ratio;
        size *= fabs(ratio);
    }
    ratio = cg_hyp_gamma_ratio(c, 1.0, a, b);
    if (ratio == 0.0) {
        *cond = finite != 0.0 ? size / fabs(finite) : INFINITY;
        return finite;
    }
    const double log_y = log(y);
    double psi_1 = cg_psi(1.0), psi_m = cg_psi(m + 1.0);
    double psi_a = cg_psi(a + m), psi_b = cg_psi(b + m);
    double term = 1.0 / cg_gamma(m + 1.0); /* (a+m)_n (b+m)_n / (n! (n+m)!) y^n */
    double total = 0.0, lost = 0.0, series_size = 0.0;
    double n = 0.0;
    for (;; n += 1.0) {
        if (n >= CG_HYP_MAX_TERMS) {
            *cond = INFINITY;
            return NAN;
        }
        const double part = term * (log_y - psi_1 - psi_m + psi_a + psi_b);
        const double sum = total + part;
        lost += fabs(total) >= fabs(part) ? (total - sum) + part : (part - sum) + total;
        total = sum;
        series_size += fabs(part);
        if (fabs(part) <= 0.5 * CG_SP_EPS * fabs(total + lost) && n > 2.0)
            break;
        psi_1 += 1.0 / (n + 1.0);
        psi_m += 1.0 / (n + m + 1.0);
        psi_a += 1.0 / (a + m + n);
        psi_b += 1.0 / (b + m + n);
        term *= (a + m + n) * (b + m + n) / ((n + 1.0) * (n + m + 1.0)) * y;
    }
    const double scale = -ratio * (m % 2 ? -1.0 : 1.0) * pow(y, (double)m);
    const double value = finite + scale * (total + lost);
    size += fabs(scale) * series_size;
    *cond = value != 0.0 ? size / fabs(value) : INFINITY;
    return value;
}

/* 2F1 for 0 <= z < 1, with y = 1 - z given exactly. */
static inline double cg_hyp_positive(double a, double b, double c, double z, double y,
                                     double *cond)
{
    if (z <= CG_HYP_SERIES_UP_TO || cg_hyp_pole(a) || cg_hyp_pole(b))
        return cg_hyp_series(a, b, c, z, cond);
    const double s = c - a - b, m = floor(s + 0.5);
    if (fabs(s - m) >= CG_HYP_NEAR_INTEGER)
        return cg_hyp_near_one(a, b, c, y, cond);
    if (fabs(s - m) <= CG_HYP_INTEGER_EXCESS && fabs(m) <= CG_HYP_MAX_EXCESS) {
        /* Euler's transformation makes the excess >= 0 */
        if (m >= 0)
            return cg_hyp_integer_excess(a, b, (int)m, y, cond);
        return pow(y, m) * cg_hyp_integer_excess(c - a, c - b, (int)-m, y, cond);
    }
    if (z <= CG_HYP_SERIES_LIMIT)
        return cg_hyp_series(a, b, c, z, cond);
    double j[4]; /* the hypergeometric equation, by Taylor steps */
    *cond = cg_hyp_march(a, b, c, y, j);
    return j[0];
}

/* (1 - z)^-a 2F1(a, c - b; c; z / (z - 1)) for z < 0. */
static inline double cg_hyp_pfaff(double a, double b, double c, double z, double *cond)
{
    const double value = cg_hyp_positive(a, c - b, c, z / (z - 1.0), 1.0 / (1.0 - z), cond);
    return pow(1.0 - z, -a) * value;
}

static inline double cg_hyp2f1(double a, double b, double c, double z)
{
    if (a != a || b != b || c != c || z != z || isinf(a) || isinf(b))
        return NAN;
    if (isinf(c) || isinf(z) || z > 1.0 || cg_hyp_pole(c))
        return NAN;
    if (z == 0.0 || a == 0.0 || b == 0.0)
        return 1.0;
    double cond;
    if (z == 1.0) {
        if (cg_hyp_pole(a) || cg_hyp_pole(b))
            return cg_hyp_series(a, b, c, 1.0, &cond);
        return c - a - b > 0 ? cg_hyp_gamma_ratio(c, c - a - b, c - a, c - b) : NAN;
    }
    if (z > 0.0)
        return cg_hyp_positive(a, b, c, z, 1.0 - z, &cond);
    /* z < 0: the direct series or one of Pfaff's two, whichever loses fewest digits
     * (a polynomial's finite sum at any z; ties go to the direct series) */
    const int polynomial = cg_hyp_pole(a) || cg_hyp_pole(b);
    if (polynomial && z >= -1.0)
        return cg_hyp_series(a, b, c, z, &cond);
    double best = NAN, best_cond = INFINITY;
    if (z >= -CG_HYP_SERIES_UP_TO || polynomial)
        best = cg_hyp_series(a, b, c, z, &best_cond);
    double value = cg_hyp_pfaff(a, b, c, z, &cond);
    if (cond < best_cond) {
        best = value;
        best_cond = cond;
    }
    value = cg_hyp_pfaff(b, a, c, z, &cond);
    if (cond < best_cond)
        best = value;
    return best;
}

/* ---- the derivatives in a, b and c: cg_hyp2f1_grad (the Python twins are
 * cgraph/tensor/special_hyp.py's series_jet and march, and special_hyp_grad.py, which
 * documents the method). A jet j is [F, dF/da, dF/db, dF/dc]. */


/* The jet of the power series for abs(z) <= 0.9 (each term differentiated by the
 * product rule) into j; returns the value's condition. */
static inline double cg_hyp_series_jet(double a, double b, double c, double z, double j[4])
{
    double t[4] = {1.0, 0.0, 0.0, 0.0}, size = 1.0;
    const double k_min = fabs(a) + fabs(b) + fabs(c) + 2.0;
    int quiet = 0;
    j[0] = 1.0;
    j[1] = j[2] = j[3] = 0.0;
    for (double k = 0.0; k < CG_HYP_MAX_TERMS;) {
        const double den = (c + k) * (k + 1.0);
        const double r = (a + k) * (b + k) / den * z;
        const double ra = (b + k) / den * z, rb = (a + k) / den * z, rc = -r / (c + k);
        t[1] = t[1] * r + t[0] * ra;
        t[2] = t[2] * r + t[0] * rb;
        t[3] = t[3] * r + t[0] * rc;
        t[0] = t[0] * r;
        k += 1.0;
        for (int i = 0; i < 4; i++)
            j[i] += t[i];
        size += fabs(t[0]);
        const double bound = fabs(r) > fabs(z) ? fabs(r) : fabs(z);
        if (k > k_min && bound < 1.0) {
            const double tol = 0.25 * CG_SP_EPS * (1.0 - bound);
            int small = 1;
            for (int i = 0; i < 4; i++)
                small = small && fabs(t[i]) <= tol * fabs(j[i]);
            quiet = small ? quiet + 1 : 0;
            if (quiet >= 2)
                return j[0] != 0.0 ? size / fabs(j[0]) : INFINITY;
        }
    }
    j[0] = j[1] = j[2] = j[3] = NAN;
    return INFINITY;
}

/* One Taylor step of the hypergeometric equation and of its derivatives in a, b, c
 * from z = 1 - y to 1 - y + h: s holds u, u', u_a, u_a', u_b, u_b', u_c, u_c' (u' the
 * z-derivative). The scaled coefficients F_n = f_n h^n; 0 if they do not converge. */
static inline int cg_hyp_taylor_step(double a, double b, double c, double y, double h,
                                     double s[8])
{
    const double p0 = (1.0 - y) * y, p1 = 2.0 * y - 1.0; /* z(1-z) = p0 + p1 t - t^2 */
    const double q0 = c - (a + b + 1.0) * (1.0 - y), q1 = -(a + b + 1.0);
    const double ab = a * b, z0 = 1.0 - y;
    double f0[4], f1[4], value[4], slope[4], size[4];
    for (int i = 0; i < 4; i++) {
        f0[i] = s[2 * i];
        f1[i] = s[2 * i + 1] * h;
        value[i] = f0[i] + f1[i];
        slope[i] = f1[i];
        size[i] = fabs(f0[i]) + 2.0 * fabs(f1[i]);
    }
    for (int n = 0; n < CG_HYP_MAX_TAYLOR; n++) {
        const double fn = (double)n;
        const double lead = p0 * (fn + 2.0) * (fn + 1.0);
        const double mid = (p1 * (fn + 1.0) * fn + q0 * (fn + 1.0)) * h;
        const double low = (-(fn * (fn - 1.0)) + q1 * fn - ab) * h * h;
        const double u1 = f1[0], u0 = f0[0];
        const double rhs[4] = {0.0, z0 * (fn + 1.0) * h * u1 + (fn + b) * h * h * u0,
                               z0 * (fn + 1.0) * h * u1 + (fn + a) * h * h * u0,
                               -(fn + 1.0) * h * u1};
        int done = n > 2;
        for (int i = 0; i < 4; i++) {
            const double next = (rhs[i] - mid * f1[i] - low * f0[i]) / lead;
            value[i] += next;
            slope[i] += (fn + 2.0) * next;
            size[i] += (fn + 3.0) * fabs(next);
            const double tail = (fn + 3.0) * (fabs(next) + fabs(f1[i]));
            done = done && tail <= 0.1 * CG_SP_EPS * size[i];
            f0[i] = f1[i];
            f1[i] = next;
        }
        if (done) {
            for (int i = 0; i < 4; i++) {
                s[2 * i] = value[i];
                s[2 * i + 1] = slope[i] / h;
            }
            return 1;
        }
    }
    return 0;
}

/* The jet at z = 1 - y, 0 < y < 0.5, by Taylor steps from z = 0.5 (each half the
 * distance to 1); returns the condition of the series at 0.5. */
static inline double cg_hyp_march(double a, double b, double c, double y, double j[4])
{
    const double z0 = CG_HYP_GRAD_SERIES_UP_TO;
    double u[4], g[4]; /* u' = ab/c 2F1(a+1, b+1; c+1; z) */
    const double cond = cg_hyp_series_jet(a, b, c, z0, u);
    cg_hyp_series_jet(a + 1.0, b + 1.0, c + 1.0, z0, g);
    const double k = a * b / c;
    double s[8] = {u[0], k * g[0], u[1], b / c * g[0] + k * g[1],
                   u[2], a / c * g[0] + k * g[2], u[3], -k / c * g[0] + k * g[3]};
    double at = 1.0 - z0;
    while (at > y) {
        const double h = at - y <= 0.5 * at ? at - y : 0.5 * at;
        if (!cg_hyp_taylor_step(a, b, c, at, h, s) || s[0] != s[0]) {
            j[0] = j[1] = j[2] = j[3] = NAN;
            return cond;
        }
        at = h == at - y ? y : at - h;
    }
    for (int i = 0; i < 4; i++)
        j[i] = s[2 * i];
    return cond;
}

/* The jet for 0 <= z < 1, y = 1 - z given exactly; returns the value's condition. */
static inline double cg_hyp_positive_jet(double a, double b, double c, double z, double y,
                                         double j[4])
{
    if (z <= CG_HYP_GRAD_SERIES_UP_TO)
        return cg_hyp_series_jet(a, b, c, z, j);
    return cg_hyp_march(a, b, c, y, j);
}

/* (1 - z)^-a 2F1(a, c - b; c; z / (z - 1)) for z < 0 (a and b swapped when `swap`):
 * its jet in the original a, b, c into j; returns its condition. */
static inline double cg_hyp_pfaff_jet(double a, double b, double c, double z, int swap,
                                      double j[4])
{
    if (swap) {
        const double t = a;
        a = b;
        b = t;
    }
    double w[4];
    const double cond = cg_hyp_positive_jet(a, c - b, c, z / (z - 1.0), 1.0 / (1.0 - z), w);
    const double p = pow(1.0 - z, -a);
    const double da = p * (w[1] - log(1.0 - z) * w[0]), db = -p * w[2];
    j[0] = p * w[0];
    j[1] = swap ? db : da;
    j[2] = swap ? da : db;
    j[3] = p * (w[2] + w[3]);
    return cond;
}

/* 1/Gamma(x) into *r and its derivative into *dr (at a pole -n: 0 and (-1)^n n!). */
static inline void cg_hyp_rgamma(double x, double *r, double *dr)
{
    if (cg_hyp_pole(x)) {
        *r = 0.0;
        *dr = (fmod(-x, 2.0) != 0.0 ? -1.0 : 1.0) * cg_gamma(1.0 - x);
        return;
    }
    *r = 1.0 / cg_gamma(x);
    *dr = -cg_psi(x) * *r;
}

/* The jet of Gauss's sum (z = 1) for c - a - b > 0, NaN otherwise. */
static inline void cg_hyp_gauss_jet(double a, double b, double c, double j[4])
{
    const double s = c - a - b;
    if (!(s > 0.0) || fabs(c) >= 170.0 || fabs(s) >= 170.0 || fabs(c - a) >= 170.0 ||
        fabs(c - b) >= 170.0) {
        j[0] = j[1] = j[2] = j[3] = NAN;
        return;
    }
    const double g = cg_gamma(c) * cg_gamma(s);
    double ra, dra, rb, drb;
    cg_hyp_rgamma(c - a, &ra, &dra);
    cg_hyp_rgamma(c - b, &rb, &drb);
    const double psi_c = cg_psi(c), psi_s = cg_psi(s);
    j[0] = g * ra * rb;
    j[1] = g * (-psi_s * ra * rb - dra * rb);
    j[2] = g * (-psi_s * ra * rb - ra * drb);
    j[3] = g * ((psi_c + psi_s) * ra * rb + dra * rb + ra * drb);
}

/* [2F1(a, b; c; z), its derivatives in a, b and c] into j (NaN outside the domain). */
static inline void cg_hyp2f1_jet(double a, double b, double c, double z, double j[4])
{
    j[0] = j[1] = j[2] = j[3] = NAN;
    if (a != a || b != b || c != c || z != z || isinf(a) || isinf(b))
        return;
    if (isinf(c) || isinf(z) || z > 1.0 || cg_hyp_pole(c))
        return;
    if (z == 0.0) {
        j[0] = 1.0;
        j[1] = j[2] = j[3] = 0.0;
        return;
    }
    if (z == 1.0) {
        cg_hyp_gauss_jet(a, b, c, j);
        return;
    }
    if (z > 0.0) {
        cg_hyp_positive_jet(a, b, c, z, 1.0 - z, j);
        return;
    }
    double best_cond = INFINITY, jet[4];
    if (z >= -CG_HYP_SERIES_UP_TO)
        best_cond = cg_hyp_series_jet(a, b, c, z, j);
    for (int swap = 0; swap < 2; swap++) {
        const double cond = cg_hyp_pfaff_jet(a, b, c, z, swap, jet);
        if (cond < best_cond) {
            best_cond = cond;
            for (int i = 0; i < 4; i++)
                j[i] = jet[i];
        }
    }
}

/* d/da, d/db or d/dc (which = 1, 2, 3) of 2F1(a, b; c; z). */
static inline double cg_hyp2f1_grad(double a, double b, double c, double z, int which)
{
    double j[4];
    cg_hyp2f1_jet(a, b, c, z, j);
    return j[which];
}

#endif
