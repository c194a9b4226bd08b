/* cg_fft_real.h: real Fourier transforms over the trailing axes of dense arrays (numpy's
 * rfftn and irfftn, unnormalized), for cgraph.tensor.fft (templates/fft.c.j2), on the
 * complex transforms of cg_fft.h. A real signal of even length n is transformed as n / 2
 * complex pairs; the other axes by complex transforms lane by lane. */
#ifndef CGRAPH_FFT_REAL_H
#define CGRAPH_FFT_REAL_H

#include "cg_fft.h"

/* Transform the dense complex array c of shape dims[0..rank) along `axis` (forward,
 * or backward when `back`), lane by lane through `lane` (dims[axis] complex). */
CG_FFT_FN void cg_fft_axis(double *c, const int64_t *dims, int rank, int axis,
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

/* The transform of real signals of length n: for even n a complex transform of
 * length n / 2 of the pairs (x_2j, x_2j+1) and the twiddles exp(-2 pi i k / n),
 * k <= n / 2, that split it into the transforms of the even and odd samples; for odd n
 * a complex transform of length n. */
typedef struct {
    int64_t n;
    cg_fft_plan p;
    double *rt; /* even n: n / 2 + 1 twiddles; NULL for odd n */
} cg_fft_real;

/* The doubles a real plan of length n >= 1 takes. */
static inline int64_t cg_fft_real_doubles(int64_t n)
{
    return n % 2 ? cg_fft_plan_doubles(n) : cg_fft_plan_doubles(n / 2) + n + 2;
}

CG_FFT_FN double *cg_fft_real_init(cg_fft_real *r, int64_t n, double *mem)
{
    r->n = n;
    r->rt = NULL;
    if (n % 2)
        return cg_fft_plan_init(&r->p, n, mem);
    mem = cg_fft_plan_init(&r->p, n / 2, mem);
    r->rt = mem;
    cg_fft_units units; /* in the plan's work buffer, free between transforms */
    cg_fft_units_init(&units, n, r->p.d.work);
    for (int64_t k = 0; k <= n / 2; k++)
        cg_fft_units_get(&units, k, &r->rt[2 * k], &r->rt[2 * k + 1]);
    return mem + n + 2;
}

/* out (n / 2 + 1 complex) := the first half of the transform of the real x (n values),
 * each bin times `weight(k)`: 2 for 0 < k < n / 2 when `twice`, else 1. lane holds n
 * complex. */
CG_FFT_FN void cg_fft_real_forward(const cg_fft_real *r, const double *x, double *out,
                                   double *lane, int twice)
{
    const int64_t n = r->n, bins = n / 2 + 1;
    if (r->rt == NULL) {
        for (int64_t j = 0; j < n; ++j) {
            lane[2 * j] = x[j];
            lane[2 * j + 1] = 0.0;
        }
        cg_fft_forward(&r->p, lane);
        memcpy(out, lane, 16 * (size_t)bins);
    } else {
        const int64_t h = n / 2;
        memcpy(lane, x, 8 * (size_t)n); /* z_j = x_2j + i x_2j+1 */
        cg_fft_forward(&r->p, lane);
        for (int64_t k = 0; k <= h; ++k) { /* X_k = E_k + w^k O_k, from Z_k and Z_(h-k) */
            const double *a = lane + 2 * (k < h ? k : 0), *b = lane + 2 * (k > 0 ? h - k : 0);
            const double er = 0.5 * (a[0] + b[0]), ei = 0.5 * (a[1] - b[1]);
            const double or_ = 0.5 * (a[1] + b[1]), oi = -0.5 * (a[0] - b[0]);
            const double wr = r->rt[2 * k], wi = r->rt[2 * k + 1];
            out[2 * k] = er + (or_ * wr - oi * wi);
            out[2 * k + 1] = ei + (or_ * wi + oi * wr);
        }
    }
    if (twice)
        for (int64_t k = 1; 2 * k < n; ++k) {
            out[2 * k] *= 2.0;
            out[2 * k + 1] *= 2.0;
        }
}

/* x (n real) := the unnormalized inverse transform of the Hermitian spectrum whose first
 * n / 2 + 1 bins are `in` (the imaginary parts of bin 0 and of bin n / 2 for even n
 * ignored), the bins 0 < k < n / 2 halved when `half`. lane holds n complex. */
CG_FFT_FN void cg_fft_real_backward(const cg_fft_real *r, const double *in, double *x,
                                    double *lane, int half)
{
    const int64_t n = r->n, bins = n / 2 + 1;
    double *spec = lane; /* the weighted bins, then (odd n) the whole spectrum */
    if (r->rt != NULL)
        spec = lane + n; /* after the n / 2 complex of z */
    for (int64_t k = 0; k < bins; ++k) {
        const double weight = half && k > 0 && 2 * k < n ? 0.5 : 1.0;
        spec[2 * k] = weight * in[2 * k];
        spec[2 * k + 1] = k == 0 || 2 * k == n ? 0.0 : weight * in[2 * k + 1];
    }
    if (r->rt == NULL) {
        for (int64_t k = 1; 2 * k < n; ++k) { /* Hermitian symmetry */
            lane[2 * (n - k)] = lane[2 * k];
            lane[2 * (n - k) + 1] = -lane[2 * k + 1];
        }
        cg_fft_backward(&r->p, lane);
        for (int64_t j = 0; j < n; ++j)
            x[j] = lane[2 * j];
        return;
    }
    const int64_t h = n / 2;
    for (int64_t k = 0; k < h; ++k) { /* Z_k = E_k + i O_k */
        const double *a = spec + 2 * k, *b = spec + 2 * (h - k);
        const double er = a[0] + b[0], ei = a[1] - b[1]; /* 2 E_k */
        const double dr = a[0] - b[0], di = a[1] + b[1]; /* 2 w^k O_k */
        const double wr = r->rt[2 * k], wi = -r->rt[2 * k + 1];
        const double or_ = dr * wr - di * wi, oi = dr * wi + di * wr;
        lane[2 * k] = er - oi;
        lane[2 * k + 1] = ei + or_;
    }
    cg_fft_backward(&r->p, lane);
    memcpy(x, lane, 8 * (size_t)n);
}

/* The complex shape of real signals of shape dims (last length n: n / 2 + 1 bins) into
 * cdims; returns the count of lanes (the product of the other lengths). */
static inline int64_t cg_fft_complex_dims(const int64_t *dims, int rank, int64_t *cdims)
{
    int64_t lanes = 1;
    for (int d = 0; d < rank - 1; ++d)
        lanes *= cdims[d] = dims[d];
    cdims[rank - 1] = dims[rank - 1] / 2 + 1;
    return lanes;
}

/* The real transform over `rank` axes (numpy's rfftn, unnormalized): r is dense real
 * of shape dims (last length n), c dense complex of shape (dims[:-1], n / 2 + 1).
 * `twice`: the bins 1 .. (n - 1) / 2 of the last axis doubled (the adjoint of the
 * inverse). plans[d] has length dims[d] (d < rank - 1), last length n; lane holds
 * max(dims) + 1 complex. */
CG_FFT_FN void cg_rfftn(const double *r, double *c, const int64_t *dims, int rank,
                        const cg_fft_plan *plans, const cg_fft_real *last, double *lane,
                        int twice)
{
    const int64_t n = dims[rank - 1], bins = n / 2 + 1;
    int64_t cdims[64]; /* numpy has at most 64 axes */
    const int64_t lanes = cg_fft_complex_dims(dims, rank, cdims);
    for (int64_t l = 0; l < lanes; ++l)
        cg_fft_real_forward(last, r + l * n, c + 2 * l * bins, lane, twice);
    for (int d = 0; d < rank - 1; ++d)
        cg_fft_axis(c, cdims, rank, d, &plans[d], lane, 0);
}

/* The inverse real transform over `rank` axes (numpy's irfftn times the size):
 * c (dense complex, shape (dims[:-1], n / 2 + 1), overwritten) into r (dense real of
 * shape dims). The imaginary parts the real result ignores (bin 0, bin n / 2 for even
 * n) are ignored. `half`: the bins 1 .. (n - 1) / 2 of the last axis halved (the
 * adjoint of the forward transform). */
CG_FFT_FN void cg_irfftn(double *c, double *r, const int64_t *dims, int rank,
                         const cg_fft_plan *plans, const cg_fft_real *last, double *lane,
                         int half)
{
    const int64_t n = dims[rank - 1], bins = n / 2 + 1;
    int64_t cdims[64]; /* numpy has at most 64 axes */
    const int64_t lanes = cg_fft_complex_dims(dims, rank, cdims);
    for (int d = 0; d < rank - 1; ++d)
        cg_fft_axis(c, cdims, rank, d, &plans[d], lane, 1);
    for (int64_t l = 0; l < lanes; ++l)
        cg_fft_real_backward(last, c + 2 * l * bins, r + l * n, lane, half);
}

#endif
