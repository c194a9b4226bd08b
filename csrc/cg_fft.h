/* cg_fft.h: discrete Fourier transforms of any length in O(n log n), in double
 * precision, for cgraph.tensor.fft (templates/fft.c.j2 includes it).
 *
 * Complex arrays are interleaved (re, im) doubles. A length whose prime factors are
 * at most CG_FFT_MAX_RADIX is transformed by the self-sorting mixed-radix algorithm
 * (FFTPACK's passes: radix 4 and 2 butterflies, a direct transform of each odd prime
 * factor); any other length n by Bluestein's: a circular convolution of a length
 * m >= 2n - 1 whose factors are 2, 3 and 5, made of two such transforms and the chirp's
 * transform, made once per plan. Twiddles and chirps are computed by cos and sin of
 * exactly reduced angles (no recurrence), so the error grows like log n. Memory is the
 * caller's: a plan takes cg_fft_plan_doubles(n) doubles (cgraph/tensor/fft.py counts
 * the same for the kernel's scratch: keep the two in step). */
#ifndef CGRAPH_FFT_H
#define CGRAPH_FFT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define CG_FFT_PI 3.141592653589793238462643383279502884
#define CG_FFT_MAX_RADIX 61 /* a larger prime factor: Bluestein's algorithm */
/* The transforms are compiled once per module, not inlined into each kernel. */
#define CG_FFT_FN static __attribute__((noinline, unused))

/* A mixed-radix transform of length n: 6n doubles of the caller's memory. */
typedef struct {
    int64_t n;
    int nf;           /* the factors, radix 4 first, then 2, then odd primes */
    int64_t fct[64];
    double *tw;       /* per factor ip (in order, l1 the product of those before):
                         exp(-2 pi i m i l1 / n), 1 <= m < ip, 1 <= i < ido */
    double *roots;    /* per odd factor ip: exp(-2 pi i r / ip), r < ip */
    double *work;     /* n complex values */
} cg_fft_direct;

typedef struct {
    int64_t n;
    cg_fft_direct d; /* of length n, or Bluestein's m */
    double *chirp;   /* Bluestein: exp(-i pi j^2 / n), j < n; NULL for a direct plan */
    double *kern;    /* Bluestein: the transform of conj(chirp) wrapped to length m, / m */
    double *buf;     /* Bluestein: m complex values */
} cg_fft_plan;

static inline int64_t cg_fft_largest_factor(int64_t n)
{
    int64_t largest = 1;
    for (int64_t p = 2; p * p <= n; p += p == 2 ? 1 : 2)
        while (n % p == 0) {
            largest = p;
            n /= p;
        }
    return n > largest ? n : largest;
}

/* The smallest 2^a 3^b 5^c >= k. */
static inline int64_t cg_fft_good_size(int64_t k)
{
    int64_t best = 1;
    while (best < k)
        best *= 2;
    for (int64_t p5 = 1; p5 < best; p5 *= 5)
        for (int64_t p35 = p5; p35 < best; p35 *= 3) {
            int64_t x = p35;
            while (x < k)
                x *= 2;
            best = x < best ? x : best;
        }
    return best;
}

/* The doubles a plan of length n >= 1 takes. */
static inline int64_t cg_fft_plan_doubles(int64_t n)
{
    if (cg_fft_largest_factor(n) <= CG_FFT_MAX_RADIX)
        return 6 * n;
    const int64_t m = cg_fft_good_size(2 * n - 1);
    return 10 * m + 2 * n;
}

/* exp(-2 pi i k / n) for 0 <= k < n, from an angle in [0, pi / 2]. */
static inline void cg_fft_unit(int64_t k, int64_t n, double *re, double *im)
{
    const int conj = 2 * k > n; /* exp(-2 pi i k / n) = conj(exp(-2 pi i (n - k) / n)) */
    const int64_t q = conj ? n - k : k;
    if (4 * q > n) { /* the angle 2 pi q / n = pi - pi (n - 2q) / n */
        const double x = CG_FFT_PI * (double)(n - 2 * q) / (double)n;
        *re = -cos(x);
        *im = -sin(x);
    } else {
        const double x = 2.0 * CG_FFT_PI * (double)q / (double)n;
        *re = cos(x);
        *im = -sin(x);
    }
    if (conj)
        *im = -*im;
}

/* exp(-2 pi i k / N) for any 0 <= k < N as the product of two table entries (a coarse
 * one, k rounded down to a multiple of B, and a fine one, k mod B; B ~ sqrt(N)): about
 * 2 sqrt(N) cos and sin instead of N, an error of a few units in the last place. Tables
 * of small N are not used (cg_fft_unit directly). */
typedef struct {
    int64_t N, B;
    double *fine, *coarse;
} cg_fft_units;

/* The tables in mem: 4 sqrt(N) + 4 doubles at most (no more than N for N >= 32; for
 * smaller N none: each value is computed directly). */
static inline void cg_fft_units_init(cg_fft_units *u, int64_t N, double *mem)
{
    u->N = N;
    u->B = 0;
    if (N < 32)
        return;
    int64_t B = 1;
    while (B * B < N)
        B++;
    u->B = B;
    u->fine = mem;
    u->coarse = mem + 2 * B;
    for (int64_t b = 0; b < B; b++)
        cg_fft_unit(b, N, &u->fine[2 * b], &u->fine[2 * b + 1]);
    for (int64_t a = 0; a * B < N; a++)
        cg_fft_unit(a * B, N, &u->coarse[2 * a], &u->coarse[2 * a + 1]);
}

static inline void cg_fft_units_get(const cg_fft_units *u, int64_t k, double *re, double *im)
{
    if (u->B == 0) {
        cg_fft_unit(k, u->N, re, im);
        return;
    }
    const double *c = u->coarse + 2 * (k / u->B), *f = u->fine + 2 * (k % u->B);
    *re = c[0] * f[0] - c[1] * f[1];
    *im = c[0] * f[1] + c[1] * f[0];
}

/* Make the mixed-radix transform of length n in mem; returns the memory after it. */
CG_FFT_FN double *cg_fft_direct_init(cg_fft_direct *d, int64_t n, double *mem)
{
    d->n = n;
    d->tw = mem;
    d->roots = mem + 2 * n;
    d->work = mem + 4 * n;
    d->nf = 0;
    int64_t rest = n;
    while (rest % 4 == 0) {
        d->fct[d->nf++] = 4;
        rest /= 4;
    }
    if (rest % 2 == 0) {
        d->fct[d->nf++] = 2;
        rest /= 2;
    }
    for (int64_t p = 3; rest > 1; p += 2) {
        if (p * p > rest)
            p = rest;
        while (rest % p == 0) {
            d->fct[d->nf++] = p;
            rest /= p;
        }
    }
    double *tw = d->tw, *roots = d->roots;
    cg_fft_units units; /* in the work buffer, free until the first transform */
    cg_fft_units_init(&units, n, d->work);
    int64_t l1 = 1;
    for (int f = 0; f < d->nf; f++) {
        const int64_t ip = d->fct[f], ido = n / (l1 * ip);
        for (int64_t m = 1; m < ip; m++)
            for (int64_t i = 1; i < ido; i++, tw += 2)
                cg_fft_units_get(&units, m * i * l1, &tw[0], &tw[1]);
        if (ip % 2 == 1)
            for (int64_t r = 0; r < ip; r++, roots += 2)
                cg_fft_unit(r, ip, &roots[0], &roots[1]);
        l1 *= ip;
    }
    return mem + 6 * n;
}

/* The transform of size ip of in[0], in[s], ..., in[(ip - 1) s] (complex) into t. */
static inline __attribute__((always_inline)) void
cg_fft_butterfly(int64_t ip, const double *in, int64_t s, double *t, const double *roots)
{
    if (ip == 2) {
        t[0] = in[0] + in[s];
        t[1] = in[1] + in[s + 1];
        t[2] = in[0] - in[s];
        t[3] = in[1] - in[s + 1];
    } else if (ip == 3) {
        const double h = 0.86602540378443864676; /* sin(2 pi / 3) */
        const double sr = in[s] + in[2 * s], si = in[s + 1] + in[2 * s + 1];
        const double dr = h * (in[s] - in[2 * s]), di = h * (in[s + 1] - in[2 * s + 1]);
        const double mr = in[0] - 0.5 * sr, mi = in[1] - 0.5 * si;
        t[0] = in[0] + sr;
        t[1] = in[1] + si;
        t[2] = mr + di; /* m - i d */
        t[3] = mi - dr;
        t[4] = mr - di;
        t[5] = mi + dr;
    } else if (ip == 4) {
        const double *b = in + s, *c = in + 2 * s, *e = in + 3 * s;
        const double sr = in[0] + c[0], si = in[1] + c[1];
        const double dr = in[0] - c[0], di = in[1] - c[1];
        const double pr = b[0] + e[0], pi = b[1] + e[1];
        const double qr = b[0] - e[0], qi = b[1] - e[1];
        t[0] = sr + pr;
        t[1] = si + pi;
        t[2] = dr + qi; /* d - i q */
        t[3] = di - qr;
        t[4] = sr - pr;
        t[5] = si - pi;
        t[6] = dr - qi; /* d + i q */
        t[7] = di + qr;
    } else if (ip == 5) {
        const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410;
        const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;
        const double *x1 = in + s, *x2 = in + 2 * s, *x3 = in + 3 * s, *x4 = in + 4 * s;
        const double a1r = x1[0] + x4[0], a1i = x1[1] + x4[1];
        const double b1r = x1[0] - x4[0], b1i = x1[1] - x4[1];
        const double a2r = x2[0] + x3[0], a2i = x2[1] + x3[1];
        const double b2r = x2[0] - x3[0], b2i = x2[1] - x3[1];
        const double m1r = in[0] + c1 * a1r + c2 * a2r, m1i = in[1] + c1 * a1i + c2 * a2i;
        const double m2r = in[0] + c2 * a1r + c1 * a2r, m2i = in[1] + c2 * a1i + c1 * a2i;
        const double n1r = s1 * b1r + s2 * b2r, n1i = s1 * b1i + s2 * b2i;
        const double n2r = s2 * b1r - s1 * b2r, n2i = s2 * b1i - s1 * b2i;
        t[0] = in[0] + a1r + a2r;
        t[1] = in[1] + a1i + a2i;
        t[2] = m1r + n1i; /* m1 - i n1 */
        t[3] = m1i - n1r;
        t[4] = m2r + n2i; /* m2 - i n2 */
        t[5] = m2i - n2r;
        t[6] = m2r - n2i; /* m2 + i n2 */
        t[7] = m2i + n2r;
        t[8] = m1r - n1i; /* m1 + i n1 */
        t[9] = m1i + n1r;
    } else {
        for (int64_t m = 0; m < ip; m++) {
            double re = 0.0, im = 0.0;
            for (int64_t j = 0, r = 0; j < ip; j++, r += m) {
                if (r >= ip)
                    r -= ip;
                const double xr = in[s * j], xi = in[s * j + 1];
                re += xr * roots[2 * r] - xi * roots[2 * r + 1];
                im += xr * roots[2 * r + 1] + xi * roots[2 * r];
            }
            t[2 * m] = re;
            t[2 * m + 1] = im;
        }
    }
}

/* One pass of radix ip: ch(i, k, m) = w^(m i l1) sum_j cc(i, j, k) exp(-2 pi i j m / ip)
 * with cc(i, j, k) = cc[i + ido (j + ip k)], ch(i, k, m) = ch[i + ido (k + l1 m)]
 * (inlined per radix, so that each butterfly is compiled for its constant ip). */
static inline __attribute__((always_inline)) void
cg_fft_pass_radix(int64_t ido, int64_t ip, int64_t l1, const double *cc, double *ch,
                  const double *tw, const double *roots)
{
    double t[2 * CG_FFT_MAX_RADIX];
    const int64_t step = 2 * ido * l1; /* between m and m + 1 in ch */
    for (int64_t k = 0; k < l1; k++) {
        double *out = ch + 2 * ido * k;
        const double *in = cc + 2 * ido * ip * k;
        cg_fft_butterfly(ip, in, 2 * ido, t, roots); /* i = 0: no twiddles */
        for (int64_t m = 0; m < ip; m++) {
            out[step * m] = t[2 * m];
            out[step * m + 1] = t[2 * m + 1];
        }
        for (int64_t i = 1; i < ido; i++) {
            cg_fft_butterfly(ip, in + 2 * i, 2 * ido, t, roots);
            double *o = out + 2 * i;
            o[0] = t[0];
            o[1] = t[1];
            const double *w = tw + 2 * (i - 1);
            for (int64_t m = 1; m < ip; m++, w += 2 * (ido - 1)) {
                o[step * m] = t[2 * m] * w[0] - t[2 * m + 1] * w[1];
                o[step * m + 1] = t[2 * m] * w[1] + t[2 * m + 1] * w[0];
            }
        }
    }
}

CG_FFT_FN void cg_fft_pass(int64_t ido, int64_t ip, int64_t l1, const double *cc,
                           double *ch, const double *tw, const double *roots)
{
    switch (ip) {
    case 2:
        cg_fft_pass_radix(ido, 2, l1, cc, ch, tw, roots);
        break;
    case 3:
        cg_fft_pass_radix(ido, 3, l1, cc, ch, tw, roots);
        break;
    case 4:
        cg_fft_pass_radix(ido, 4, l1, cc, ch, tw, roots);
        break;
    case 5:
        cg_fft_pass_radix(ido, 5, l1, cc, ch, tw, roots);
        break;
    default:
        cg_fft_pass_radix(ido, ip, l1, cc, ch, tw, roots);
    }
}

/* x (n complex) := sum_j x_j exp(-2 pi i j k / n), by the mixed-radix passes. */
CG_FFT_FN void cg_fft_direct_forward(const cg_fft_direct *d, double *x)
{
    double *p1 = x, *p2 = d->work;
    const double *tw = d->tw, *roots = d->roots;
    int64_t l1 = 1;
    for (int f = 0; f < d->nf; f++) {
        const int64_t ip = d->fct[f], ido = d->n / (l1 * ip);
        cg_fft_pass(ido, ip, l1, p1, p2, tw, roots);
        tw += 2 * (ip - 1) * (ido - 1);
        if (ip % 2 == 1)
            roots += 2 * ip;
        double *swap = p1;
        p1 = p2;
        p2 = swap;
        l1 *= ip;
    }
    if (p1 != x)
        memcpy(x, p1, 16 * (size_t)d->n);
}

/* Make the plan of length n >= 1 in mem; returns the memory after it. */
CG_FFT_FN double *cg_fft_plan_init(cg_fft_plan *plan, int64_t n, double *mem)
{
    plan->n = n;
    plan->chirp = plan->kern = plan->buf = NULL;
    if (cg_fft_largest_factor(n) <= CG_FFT_MAX_RADIX)
        return cg_fft_direct_init(&plan->d, n, mem);
    const int64_t m = cg_fft_good_size(2 * n - 1);
    mem = cg_fft_direct_init(&plan->d, m, mem);
    plan->chirp = mem;
    plan->kern = plan->chirp + 2 * n;
    plan->buf = plan->kern + 2 * m;
    cg_fft_units units; /* in buf, free until the first transform */
    cg_fft_units_init(&units, 2 * n, plan->buf);
    int64_t q = 0; /* j^2 mod 2n */
    for (int64_t j = 0; j < n; ++j) {
        cg_fft_units_get(&units, q, &plan->chirp[2 * j], &plan->chirp[2 * j + 1]);
        q += 2 * j + 1;
        if (q >= 2 * n)
            q -= 2 * n;
    }
    const double inv_m = 1.0 / (double)m;
    for (int64_t j = 0; j < 2 * m; ++j)
        plan->kern[j] = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const double re = plan->chirp[2 * j] * inv_m, im = -plan->chirp[2 * j + 1] * inv_m;
        plan->kern[2 * j] = re;
        plan->kern[2 * j + 1] = im;
        if (j > 0) {
            plan->kern[2 * (m - j)] = re;
            plan->kern[2 * (m - j) + 1] = im;
        }
    }
    cg_fft_direct_forward(&plan->d, plan->kern);
    return plan->buf + 2 * m;
}

/* x (n complex) := sum_j x_j exp(-2 pi i j k / n). */
CG_FFT_FN void cg_fft_forward(const cg_fft_plan *plan, double *x)
{
    const int64_t n = plan->n, m = plan->d.n;
    if (plan->chirp == NULL) {
        cg_fft_direct_forward(&plan->d, x);
        return;
    }
    const double *w = plan->chirp, *kern = plan->kern;
    double *a = plan->buf;
    for (int64_t j = 0; j < n; ++j) {
        a[2 * j] = x[2 * j] * w[2 * j] - x[2 * j + 1] * w[2 * j + 1];
        a[2 * j + 1] = x[2 * j] * w[2 * j + 1] + x[2 * j + 1] * w[2 * j];
    }
    for (int64_t j = 2 * n; j < 2 * m; ++j)
        a[j] = 0.0;
    cg_fft_direct_forward(&plan->d, a);
    for (int64_t j = 0; j < m; ++j) { /* times the chirp's transform, conjugated */
        const double re = a[2 * j] * kern[2 * j] - a[2 * j + 1] * kern[2 * j + 1];
        const double im = a[2 * j] * kern[2 * j + 1] + a[2 * j + 1] * kern[2 * j];
        a[2 * j] = re;
        a[2 * j + 1] = -im;
    }
    cg_fft_direct_forward(&plan->d, a); /* the inverse transform, by conjugation */
    for (int64_t k = 0; k < n; ++k) {
        const double re = a[2 * k], im = -a[2 * k + 1];
        x[2 * k] = re * w[2 * k] - im * w[2 * k + 1];
        x[2 * k + 1] = re * w[2 * k + 1] + im * w[2 * k];
    }
}

/* x (n complex) := sum_j x_j exp(+2 pi i j k / n) (unnormalized). */
CG_FFT_FN void cg_fft_backward(const cg_fft_plan *plan, double *x)
{
    for (int64_t j = 0; j < plan->n; ++j)
        x[2 * j + 1] = -x[2 * j + 1];
    cg_fft_forward(plan, x);
    for (int64_t j = 0; j < plan->n; ++j)
        x[2 * j + 1] = -x[2 * j + 1];
}

#endif
