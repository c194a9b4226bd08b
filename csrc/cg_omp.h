/* cg_omp.h: OpenMP threads in the generated loops (config.openmp).
 *
 * Built with -fopenmp, _OPENMP is defined and the loop templates (elementwise,
 * fused_sum, careduce) add a `parallel for` branch taken only when a loop has at
 * least CG_OMP_MIN_* elements: below that, no OpenMP runtime call is made at all (a
 * tiny array never starts or wakes a thread). Built without it (the default), the
 * parallel branches vanish in the preprocessor and the `#pragma omp parallel`
 * lines that remain are ignored, so the same C compiles either way.
 *
 * Reductions stay deterministic: a sum over many elements is split into chunks
 * whose bounds depend on the element count alone (cg_chunks), each chunk is summed
 * by one thread, and the partial sums are combined in chunk order by the calling
 * thread. The value is the same for any number of threads, with or without OpenMP.
 */
#ifndef CGRAPH_OMP_H
#define CGRAPH_OMP_H

#ifdef _OPENMP
#include <omp.h>
#define CG_OMP 1
#else
#define CG_OMP 0
#endif

/* num_threads(CG_NUM_THREADS) on every parallel region, unless it is 0 (OpenMP's
 * default: OMP_NUM_THREADS, else one thread per CPU). */
#if defined(CG_NUM_THREADS) && CG_NUM_THREADS > 0
#define CG_OMP_THREADS num_threads(CG_NUM_THREADS)
#else
#define CG_OMP_THREADS
#endif

/* Thresholds, in loop elements, measured on a 2-vCPU AVX2 machine (README,
 * "Performance"): with warm threads, two beat one from about 1,000 elements of
 * exp(sin(x*x))*y+z and 8,000-16,000 of x+y (the team costs about 1 us); the
 * thresholds sit above both so that mid-size loops never pay for a team that has
 * gone to sleep. */
#ifndef CG_OMP_MIN_ELEMWISE
#define CG_OMP_MIN_ELEMWISE 32768
#endif
#ifndef CG_OMP_MIN_REDUCE
#define CG_OMP_MIN_REDUCE 131072
#endif

/* Deterministic chunks of a reduction over n elements: at most CG_MAX_CHUNKS, of
 * at least CG_CHUNK elements; their count depends on n only. */
#define CG_CHUNK 8192
#define CG_MAX_CHUNKS 64

static inline cg_idx cg_chunks(cg_idx n)
{
    const cg_idx c = (n + CG_CHUNK - 1) / CG_CHUNK;
    return c < 1 ? 1 : c > CG_MAX_CHUNKS ? CG_MAX_CHUNKS : c;
}

/* The first element of chunk c of n elements split into nc chunks. */
static inline cg_idx cg_chunk_start(cg_idx n, cg_idx nc, cg_idx c)
{
    return n / nc * c + (c < n % nc ? c : n % nc);
}

#endif
