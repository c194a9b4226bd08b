/* cg_fft.h: discrete Fourier transforms of any length in O(n log n), in double
 * precision, for cgraph.tensor.fft (templates/fft.c.j2 includes it).
 *
 * Complex arrays are interleaved (re, im) doubles. A power-of-two length is
 * transformed by the iterative radix-2 algorithm; any other length n by Bluestein's:
 * a circular convolution of power-of-two length m >= 2n - 1, computed with radix-2
 * transforms and the chirp's transform, made once per plan. Twiddles and chirps are
 * computed by cos and sin per index (no recurrence; the chirp's j^2 is reduced
 * mod 2n exactly), so the error grows like log n. Memory is the caller's: a plan takes
 * cg_fft_plan_doubles(n) doubles (cgraph/tensor/fft.py counts the same for the
 * kernel's scratch: keep the two in step). */
#ifndef CGRAPH_FFT_H
#define CGRAPH_FFT_H

#include <math.h>
#include <stdint.h>

#define CG_FFT_PI 3.141592653589793238462643383279502884

typedef struct {
    int64_t n;     /* the length */
    int64_t m;     /* the radix-2 length: n, or Bluestein's m >= 2n - 1 */
    double *tw;    /* m / 2 twiddles exp(-2 pi i j / m) */
    double *chirp; /* Bluestein: exp(-i pi j^2 / n), j < n */
    double *kern;  /* Bluestein: the transform of conj(chirp) wrapped to length m, / m */
    double *work;  /* Bluestein: m complex values */
} cg_fft_plan;

static inline int cg_fft_pow2(int64_t n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

static inline int64_t cg_fft_bluestein_m(int64_t n)
{
    int64_t m = 1;
    while (m < 2 * n - 1)
        m <<= 1;
    return m;
}

/* The doubles a plan of length n takes. */
static inline int64_t cg_fft_plan_doubles(int64_t n)
{
    if (cg_fft_pow2(n))
        return n;
    const int64_t m = cg_fft_bluestein_m(n);
    return m + 2 * n + 4 * m;
}

/* x (m complex, m a power of two) := its transform, sum_j x_j exp(-2 pi i j k / m). */
static inline void cg_fft_radix2(double *x, int64_t m, const double *tw)
{
    for (int64_t i = 1, j = 0; i < m; ++i) { /* bit-reversed order */
        int64_t bit = m >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            const double re = x[2 * i], im = x[2 * i + 1];
            x[2 * i] = x[2 * j];
            x[2 * i + 1] = x[2 * j + 1];
            x[2 * j] = re;
            x[2 * j + 1] = im;
        }
    }
    for (int64_t len = 2; len <= m; len <<= 1) {
        const int64_t half = len >> 1, step = m / len;
        for (int64_t s = 0; s < m; s += len) {
            double *a = x + 2 * s, *b = x + 2 * (s + half);
            for (int64_t k = 0; k < half; ++k) {
                const double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                const double br = b[2 * k] * wr - b[2 * k + 1] * wi;
                const double bi = b[2 * k] * wi + b[2 * k + 1] * wr;
                b[2 * k] = a[2 * k] - br;
                b[2 * k + 1] = a[2 * k + 1] - bi;
                a[2 * k] += br;
                a[2 * k + 1] += bi;
            }
        }
    }
}

/* exp(-2 pi i j / m) for j < m / 2 into tw. */
static inline void cg_fft_twiddles(double *tw, int64_t m)
{
    const double unit = 2.0 * CG_FFT_PI / (double)m;
    for (int64_t j = 0; j < m / 2; ++j) {
        tw[2 * j] = cos(unit * (double)j);
        tw[2 * j + 1] = -sin(unit * (double)j);
    }
}

/* Make the plan of length n >= 1 in mem; returns the memory after it. */
static inline double *cg_fft_plan_init(cg_fft_plan *plan, int64_t n, double *mem)
{
    plan->n = n;
    plan->chirp = plan->kern = plan->work = NULL;
    if (cg_fft_pow2(n)) {
        plan->m = n;
        plan->tw = mem;
        cg_fft_twiddles(plan->tw, n);
        return mem + n;
    }
    const int64_t m = cg_fft_bluestein_m(n);
    plan->m = m;
    plan->tw = mem;
    plan->chirp = mem + m;
    plan->kern = plan->chirp + 2 * n;
    plan->work = plan->kern + 2 * m;
    cg_fft_twiddles(plan->tw, m);
    int64_t q = 0; /* j^2 mod 2n */
    for (int64_t j = 0; j < n; ++j) {
        const double angle = CG_FFT_PI * (double)q / (double)n;
        plan->chirp[2 * j] = cos(angle);
        plan->chirp[2 * j + 1] = -sin(angle);
        q += 2 * j + 1;
        if (q >= 2 * n)
            q -= 2 * n;
    }
    const double inv_m = 1.0 / (double)m; /* exact: m is a power of two */
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
    cg_fft_radix2(plan->kern, m, plan->tw);
    return plan->work + 2 * m;
}

/* x (n complex) := sum_j x_j exp(-2 pi i j k / n). */
static inline void cg_fft_forward(const cg_fft_plan *plan, double *x)
{
    const int64_t n = plan->n, m = plan->m;
    if (plan->chirp == NULL) {
        cg_fft_radix2(x, n, plan->tw);
        return;
    }
    const double *w = plan->chirp, *kern = plan->kern;
    double *a = plan->work;
    for (int64_t j = 0; j < n; ++j) {
        a[2 * j] = x[2 * j] * w[2 * j] - x[2 * j + 1] * w[2 * j + 1];
        a[2 * j + 1] = x[2 * j] * w[2 * j + 1] + x[2 * j + 1] * w[2 * j];
    }
    for (int64_t j = 2 * n; j < 2 * m; ++j)
        a[j] = 0.0;
    cg_fft_radix2(a, m, plan->tw);
    for (int64_t j = 0; j < m; ++j) { /* times the chirp's transform, conjugated */
        const double re = a[2 * j] * kern[2 * j] - a[2 * j + 1] * kern[2 * j + 1];
        const double im = a[2 * j] * kern[2 * j + 1] + a[2 * j + 1] * kern[2 * j];
        a[2 * j] = re;
        a[2 * j + 1] = -im;
    }
    cg_fft_radix2(a, m, plan->tw); /* the inverse transform, by conjugation */
    for (int64_t k = 0; k < n; ++k) {
        const double re = a[2 * k], im = -a[2 * k + 1];
        x[2 * k] = re * w[2 * k] - im * w[2 * k + 1];
        x[2 * k + 1] = re * w[2 * k + 1] + im * w[2 * k];
    }
}

/* x (n complex) := sum_j x_j exp(+2 pi i j k / n) (unnormalized). */
static inline void cg_fft_backward(const cg_fft_plan *plan, double *x)
{
    for (int64_t j = 0; j < plan->n; ++j)
        x[2 * j + 1] = -x[2 * j + 1];
    cg_fft_forward(plan, x);
    for (int64_t j = 0; j < plan->n; ++j)
        x[2 * j + 1] = -x[2 * j + 1];
}

/* Transform the dense complex array c of shape dims[0..rank) along `axis` (forward,
 * or backward when `back`), lane by lane through `lane` (dims[axis] complex). */
static inline void cg_fft_axis(double *c, const int64_t *dims, int rank, int axis,
                        const cg_fft_plan *plan, double *lane, int back)
{
    int64_t outer = 1, inner = 1;
    const int64_t n = dims[axis];
    for (int d = 0; d < axis; ++d)
        outer *= dims[d];
    for (int d = axis + 1; d < rank; ++d)
        inner *= dims[d];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            double *base = c + 2 * (o * n * inner + i);
            for (int64_t j = 0; j < n; ++j) {
                lane[2 * j] = base[2 * j * inner];
                lane[2 * j + 1] = base[2 * j * inner + 1];
            }
            if (back)
                cg_fft_backward(plan, lane);
            else
                cg_fft_forward(plan, lane);
            for (int64_t j = 0; j < n; ++j) {
                base[2 * j * inner] = lane[2 * j];
                base[2 * j * inner + 1] = lane[2 * j + 1];
            }
        }
}

/* The real transform over `rank` axes (numpy's rfftn, unnormalized): r is dense real
 * of shape dims (last length n), c dense complex of shape (dims[:-1], n / 2 + 1).
 * `twice`: the bins 1 .. (n - 1) / 2 of the last axis doubled (the adjoint of the
 * inverse). plans[d] has length dims[d]; lane holds max(dims) complex. */
static inline void cg_rfftn(const double *r, double *c, const int64_t *dims, int rank,
                     const cg_fft_plan *plans, double *lane, int twice)
{
    const int64_t n = dims[rank - 1], bins = n / 2 + 1;
    int64_t lanes = 1, cdims[64]; /* numpy has at most 64 axes */
    for (int d = 0; d < rank - 1; ++d) {
        lanes *= dims[d];
        cdims[d] = dims[d];
    }
    cdims[rank - 1] = bins;
    for (int64_t l = 0; l < lanes; ++l) {
        for (int64_t j = 0; j < n; ++j) {
            lane[2 * j] = r[l * n + j];
            lane[2 * j + 1] = 0.0;
        }
        cg_fft_forward(&plans[rank - 1], lane);
        double *out = c + 2 * l * bins;
        for (int64_t k = 0; k < bins; ++k) {
            const double weight = twice && k > 0 && 2 * k < n ? 2.0 : 1.0;
            out[2 * k] = weight * lane[2 * k];
            out[2 * k + 1] = weight * lane[2 * k + 1];
        }
    }
    for (int d = 0; d < rank - 1; ++d)
        cg_fft_axis(c, cdims, rank, d, &plans[d], lane, 0);
}

/* The inverse real transform over `rank` axes (numpy's irfftn times the size):
 * c (dense complex, shape (dims[:-1], n / 2 + 1), overwritten) into r (dense real of
 * shape dims). The imaginary parts the real result ignores (bin 0, bin n / 2 for even
 * n) are ignored. `half`: the bins 1 .. (n - 1) / 2 of the last axis halved (the
 * adjoint of the forward transform). */
static inline void cg_irfftn(double *c, double *r, const int64_t *dims, int rank,
                      const cg_fft_plan *plans, double *lane, int half)
{
    const int64_t n = dims[rank - 1], bins = n / 2 + 1;
    int64_t lanes = 1, cdims[64]; /* numpy has at most 64 axes */
    for (int d = 0; d < rank - 1; ++d) {
        lanes *= dims[d];
        cdims[d] = dims[d];
    }
    cdims[rank - 1] = bins;
    for (int d = 0; d < rank - 1; ++d)
        cg_fft_axis(c, cdims, rank, d, &plans[d], lane, 1);
    for (int64_t l = 0; l < lanes; ++l) {
        const double *in = c + 2 * l * bins;
        for (int64_t k = 0; k < bins; ++k) {
            const double weight = half && k > 0 && 2 * k < n ? 0.5 : 1.0;
            lane[2 * k] = weight * in[2 * k];
            lane[2 * k + 1] = weight * in[2 * k + 1];
        }
        for (int64_t k = 1; 2 * k < n; ++k) { /* Hermitian symmetry */
            lane[2 * (n - k)] = lane[2 * k];
            lane[2 * (n - k) + 1] = -lane[2 * k + 1];
        }
        cg_fft_backward(&plans[rank - 1], lane);
        for (int64_t j = 0; j < n; ++j)
            r[l * n + j] = lane[2 * j];
    }
}

#endif
