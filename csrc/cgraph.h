/* cgraph.h: the C that every generated module includes.
 *
 * Plain C99/C11 without Python.h, so generated kernels can be exported as a
 * standalone library. Type-generic helpers use _Generic so that one scalar-op
 * expression (e.g. "cg_floordiv(a, b)") serves every dtype.
 */
#ifndef CGRAPH_H
#define CGRAPH_H

/* The type-generic integer helpers below compare unsigned values with 0. */
#pragma GCC diagnostic ignored "-Wtype-limits"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>
#include "cg_simd.h"

typedef int64_t cg_idx;

#include "cg_omp.h"
#include "cg_errbuf.h"

/* A program's body: one call per kernel, each followed by its error check, and the
 * in-place update flags tested around them. gcc's jump threading duplicates paths
 * through such a chain at a cost that grows much faster than the chain (a 30-layer
 * training step: minutes instead of seconds) while the calls gain nothing from it,
 * so the body is compiled without it, and kept out of line so that it is compiled
 * once, not once per entry point. -O1 suffices for a chain of calls (gcc does not
 * inline the kernels, compiled at the module's level, into a body of a lower one). */
#if defined(CG_FIXED_PLAN)
#define CG_BODY inline __attribute__((always_inline))
#elif defined(__GNUC__) && !defined(__clang__)
#define CG_BODY __attribute__((noinline, optimize("O1", "no-thread-jumps")))
#else
#define CG_BODY __attribute__((noinline))
#endif

/* A kernel (and the product helpers kernels share). A module specialized to one plan
 * (`Function.loop(specialize=True)`: CG_FIXED_PLAN) inlines every kernel into its
 * body, so that the compiler folds the plan's shapes, strides and branches, which are
 * constants there; other modules keep each kernel a function of its own. */
#ifdef CG_FIXED_PLAN
#define CG_KERNEL static inline __attribute__((always_inline))
#define CG_INLINE static inline __attribute__((always_inline))
#else
#define CG_KERNEL static
#define CG_INLINE static inline
#endif

/* Put before a kernel whose loops worth vectorizing all say `#pragma omp simd` (an
 * elementwise kernel's dense and rows paths; those keep their own cost model): gcc's
 * vectorizer then takes only the other loops it can vectorize without run-time checks,
 * instead of adding a stride-checked vector copy of the strided path that could only
 * run where the dense or rows path runs instead (a third of such a kernel's compile). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(CG_FIXED_PLAN)
#define CG_SIMD_KERNEL __attribute__((optimize("vect-cost-model=very-cheap")))
#else
#define CG_SIMD_KERNEL
#endif

/* Write a formatted error message into the caller's buffer. */
#define cg_error(err, ...) snprintf((err), CG_ERRBUF, __VA_ARGS__)

/* Append " [kernel k3]" to the message of a kernel that failed, so that the caller
 * (Python, or a C user of an exported library) can tell which graph node it was. */
/* Out of line: a body calls it at each kernel's failure branch, and a copy of its loop
 * per call site cost gcc time (~10%; marking it `cold` as well doubled gcc's time). */
static __attribute__((noinline, unused)) void cg_failed_in(char *err, const char *kernel)
{
    size_t n = 0;
    while (n < CG_ERRBUF - 1 && err[n])
        ++n;
    snprintf(err + n, CG_ERRBUF - n, " [kernel %s]", kernel);
}

/* Whether the byte ranges [a, a + na) and [b, b + nb) do not overlap (an update is
 * written into its shared variable's storage only when no other argument is there). */
static inline int cg_disjoint(const void *a, int64_t na, const void *b, int64_t nb)
{
    const char *x = (const char *)a, *y = (const char *)b;
    return !x || !y || x + na <= y || y + nb <= x;
}

/* Whether the ns bytes at s overlap none of the arguments A[0..count) but A[self],
 * whose sizes in bytes are sizes[0..count) (an update is written in place only then). */
static inline int cg_disjoint_args(const void *s, int64_t ns, void *const *A,
                                   const int64_t *sizes, int64_t count, int64_t self)
{
    for (int64_t a = 0; a < count; ++a)
        if (a != self && !cg_disjoint(s, ns, A[a], sizes[a]))
            return 0;
    return 1;
}

/* Kernel return codes; Python raises the matching exception with the message. */
#define CG_OK 0
#define CG_ERR_RUNTIME 1 /* RuntimeError */
#define CG_ERR_INDEX 2   /* IndexError: an index out of bounds */
#define CG_ERR_VALUE 3   /* ValueError: a runtime value the op cannot take */
#define CG_ERR_MEMORY 4  /* MemoryError: an allocation failed */

/* ------------------------------------------------------------ integer helpers */

/* numpy semantics: floor division; division by zero gives 0 (numpy warns). */
#define CG_DEFINE_INT_DIVMOD(T, NAME, MIN)                                   \
    static inline T cg_floordiv_##NAME(T a, T b)                             \
    {                                                                        \
        if (b == 0) return 0;                                                \
        if (MIN != 0 && b == (T)-1) return (T)(0 - (uint64_t)a);             \
        T q = a / b;                                                         \
        if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;                    \
        return q;                                                            \
    }                                                                        \
    static inline T cg_mod_##NAME(T a, T b)                                  \
    {                                                                        \
        if (b == 0) return 0;                                                \
        if (MIN != 0 && b == (T)-1) return 0;                                \
        T r = a % b;                                                         \
        if (r != 0 && ((r < 0) != (b < 0))) r += b;                          \
        return r;                                                            \
    }

CG_DEFINE_INT_DIVMOD(int8_t, i8, INT8_MIN)
CG_DEFINE_INT_DIVMOD(int16_t, i16, INT16_MIN)
CG_DEFINE_INT_DIVMOD(int32_t, i32, INT32_MIN)
CG_DEFINE_INT_DIVMOD(int64_t, i64, INT64_MIN)
CG_DEFINE_INT_DIVMOD(uint8_t, u8, 0)
CG_DEFINE_INT_DIVMOD(uint16_t, u16, 0)
CG_DEFINE_INT_DIVMOD(uint32_t, u32, 0)
CG_DEFINE_INT_DIVMOD(uint64_t, u64, 0)

/* numpy semantics for floats: floor(a / b) computed through fmod, as npy_divmod. */
#define CG_DEFINE_FLOAT_DIVMOD(T, NAME)                                      \
    static inline T cg_mod_##NAME(T a, T b)                                  \
    {                                                                        \
        T r = fmod(a, b);                                                    \
        if (!b) return r;                                                    \
        if (r) {                                                             \
            if ((b < 0) != (r < 0)) r += b;                                  \
        } else {                                                             \
            r = copysign((T)0, b);                                           \
        }                                                                    \
        return r;                                                            \
    }                                                                        \
    static inline T cg_floordiv_##NAME(T a, T b)                             \
    {                                                                        \
        if (!b) return a / b;                                                \
        T r = fmod(a, b);                                                    \
        T div = (a - r) / b;                                                 \
        if (r && ((b < 0) != (r < 0))) div -= (T)1;                          \
        T q;                                                                 \
        if (div) {                                                           \
            q = floor(div);                                                  \
            if (div - q > (T)0.5) q += (T)1;                                 \
        } else {                                                             \
            q = copysign((T)0, a / b);                                       \
        }                                                                    \
        return q;                                                            \
    }

CG_DEFINE_FLOAT_DIVMOD(float, f32)
CG_DEFINE_FLOAT_DIVMOD(double, f64)

#define CG_GENERIC_ALL(fn, a) _Generic((a),                                   \
    int8_t: fn##_i8, int16_t: fn##_i16, int32_t: fn##_i32, int64_t: fn##_i64, \
    uint8_t: fn##_u8, uint16_t: fn##_u16, uint32_t: fn##_u32, uint64_t: fn##_u64, \
    float: fn##_f32, double: fn##_f64)

#define cg_floordiv(a, b) CG_GENERIC_ALL(cg_floordiv, a)(a, b)
#define cg_mod(a, b) CG_GENERIC_ALL(cg_mod, a)(a, b)

/* Integer power by squaring; negative exponents give 0 except for bases +-1. */
static inline int64_t cg_ipow_i64(int64_t base, int64_t e)
{
    if (e < 0) return base == 1 ? 1 : (base == -1 ? ((e & 1) ? -1 : 1) : 0);
    uint64_t result = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1) result *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)result;
}
#define cg_ipow(a, b) cg_ipow_i64((int64_t)(a), (int64_t)(b))

#define cg_iabs(a) ((a) < 0 ? -(a) : (a))

/* ------------------------------------------------------------ float helpers */

/* The logistic function with one exp whatever the sign (gcc vectorizes both arms of the
 * select through libmvec; the two-branch form called exp twice a lane: 1.8 against
 * 1.0 ns an element in float64 here). e = exp(-|x|) never overflows: 1 / (1 + e) for
 * x >= 0, e / (1 + e) below, one division either way. */
static inline double cg_sigmoid_f64(double x)
{
    const double e = exp(-fabs(x));
    return (x >= 0 ? 1.0 : e) / (1.0 + e);
}

static inline float cg_sigmoid_f32(float x)
{
    const float e = expf(-fabsf(x));
    return (x >= 0 ? 1.0f : e) / (1.0f + e);
}

#define cg_sigmoid(a) _Generic((a), float: cg_sigmoid_f32, default: cg_sigmoid_f64)(a)

/* tanh(x) = -t / (t + 2) with t = expm1(-2|x|), the sign put back by copysign: libmvec's
 * vector expm1 and a division take 1.0 ns an element in float64 where its vector tanh
 * takes 1.8 (AVX-512 here); at most 3.5 ulp (libmvec's tanh: 4), exact at 0 and -0, +-1
 * from |x| = 19.1 on and at the infinities, NaN kept. float32 keeps tanhf (as fast). */
static inline double cg_tanh_f64(double x)
{
    const double t = expm1(-2.0 * fabs(x));
    return copysign(-t / (t + 2.0), x);
}

#define cg_tanh(a) _Generic((a), float: tanhf, default: cg_tanh_f64)(a)

/* numpy's sign: NaN stays NaN, -0.0 gives 0.0. */
#define cg_sign(a) ((a) > 0 ? 1 : ((a) < 0 ? -1 : ((a) == 0 ? 0 : (a))))

#endif /* CGRAPH_H */
