/* cg_math.h: scalar math that C's <math.h> lacks or defines differently from numpy. */
#ifndef CGRAPH_MATH_H
#define CGRAPH_MATH_H

#include <math.h>

/* numpy's maximum/minimum: NaN when either operand is NaN (fmax/fmin ignore NaN). */
#define cg_fmax_nan(a, b) (((a) > (b) || (a) != (a)) ? (a) : (b))
#define cg_fmin_nan(a, b) (((a) < (b) || (a) != (a)) ? (a) : (b))

/* numpy's clip, min(max(x, lo), hi) with NaN from any operand, through functions: the
   nested macros repeat max(x, lo) three times and gcc's if-conversion then left a
   vector loop of mask moves (float32 clip 3.5x numpy's time; with max(x, lo) computed
   once 1.2x faster than numpy). */
static inline float cg_clip_nan_f32(float x, float lo, float hi)
{
    const float a = cg_fmax_nan(x, lo);
    return cg_fmin_nan(a, hi);
}
static inline double cg_clip_nan_f64(double x, double lo, double hi)
{
    const double a = cg_fmax_nan(x, lo);
    return cg_fmin_nan(a, hi);
}
#define cg_clip_nan(x, lo, hi) \
    _Generic((x) + (lo) + (hi), float: cg_clip_nan_f32, default: cg_clip_nan_f64)(x, lo, hi)

/* The digamma function psi(x) = d/dx log Gamma(x): recurrence up to x >= 10, then the
 * asymptotic series; reflection for negative x; NaN at the poles 0, -1, -2, ... */
static inline double cg_digamma_f64(double x)
{
    if (x <= 0 && floor(x) == x)
        return NAN;
    if (x < 0)
        return cg_digamma_f64(1.0 - x) - 3.14159265358979323846 / tan(3.14159265358979323846 * x);
    double result = 0.0;
    while (x < 10.0) {
        result -= 1.0 / x;
        x += 1.0;
    }
    const double f = 1.0 / (x * x);
    const double series =
        f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 -
        f * (691.0 / 32760 - f * (1.0 / 12)))))));
    return result + log(x) - 0.5 / x - series;
}

static inline float cg_digamma_f32(float x)
{
    return (float)cg_digamma_f64((double)x);
}

#define cg_digamma(x) _Generic((x), float: cg_digamma_f32, default: cg_digamma_f64)(x)

#include "cg_special.h" /* the special functions of cgraph.tensor.special */

#endif
