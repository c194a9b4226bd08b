/* cg_simd.h: vector variants of libm functions (glibc's libmvec).
 *
 * Declaring a function with the `simd` attribute tells gcc that libmvec has
 * vector versions of it (_ZGVdN4v_exp, _ZGVeN8v_exp, ...): a loop calling exp()
 * can then be vectorised without -ffast-math. The vector versions keep NaN and
 * Inf and are accurate to a few ulp (glibc's libmvec documentation). Modules
 * link -lmvec -lm. glibc's own <bits/math-vector.h> makes these declarations
 * only under -ffast-math, which cgraph never uses.
 */
#ifndef CG_SIMD_H
#define CG_SIMD_H

#include <math.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) \
    && !defined(CG_NO_SIMD_MATH)
#define CG_SIMD __attribute__((__simd__("notinbranch")))

/* glibc >= 2.22: */
CG_SIMD double (exp)(double);
CG_SIMD float (expf)(float);
CG_SIMD double (log)(double);
CG_SIMD float (logf)(float);
CG_SIMD double (sin)(double);
CG_SIMD float (sinf)(float);
CG_SIMD double (cos)(double);
CG_SIMD float (cosf)(float);
CG_SIMD double (pow)(double, double);
CG_SIMD float (powf)(float, float);

#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35)
CG_SIMD double (tan)(double);
CG_SIMD float (tanf)(float);
CG_SIMD double (tanh)(double);
CG_SIMD float (tanhf)(float);
CG_SIMD double (sinh)(double);
CG_SIMD float (sinhf)(float);
CG_SIMD double (cosh)(double);
CG_SIMD float (coshf)(float);
CG_SIMD double (asin)(double);
CG_SIMD float (asinf)(float);
CG_SIMD double (acos)(double);
CG_SIMD float (acosf)(float);
CG_SIMD double (atan)(double);
CG_SIMD float (atanf)(float);
CG_SIMD double (asinh)(double);
CG_SIMD float (asinhf)(float);
CG_SIMD double (acosh)(double);
CG_SIMD float (acoshf)(float);
CG_SIMD double (atanh)(double);
CG_SIMD float (atanhf)(float);
CG_SIMD double (atan2)(double, double);
CG_SIMD float (atan2f)(float, float);
CG_SIMD double (hypot)(double, double);
CG_SIMD float (hypotf)(float, float);
CG_SIMD double (exp2)(double);
CG_SIMD float (exp2f)(float);
CG_SIMD double (exp10)(double);
CG_SIMD float (exp10f)(float);
CG_SIMD double (expm1)(double);
CG_SIMD float (expm1f)(float);
CG_SIMD double (log2)(double);
CG_SIMD float (log2f)(float);
CG_SIMD double (log10)(double);
CG_SIMD float (log10f)(float);
CG_SIMD double (log1p)(double);
CG_SIMD float (log1pf)(float);
CG_SIMD double (cbrt)(double);
CG_SIMD float (cbrtf)(float);
CG_SIMD double (erf)(double);
CG_SIMD float (erff)(float);
CG_SIMD double (erfc)(double);
CG_SIMD float (erfcf)(float);
#endif

#undef CG_SIMD
#endif

#endif /* CG_SIMD_H */
