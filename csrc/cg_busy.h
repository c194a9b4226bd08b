/* cg_busy.h: one thread for a while when the machine is oversubscribed, for the
 * kernels that run on threads of their own (the direct convolutions' pool,
 * templates/conv_direct.c.j2, and the products' pool, csrc/cg_pool.h).
 *
 * Where more threads want the cores than there are, a thread that holds a unit of a
 * call can wait milliseconds for a core while the caller waits for its unit: at a
 * load of 5-7 on 2 cores, 0.1-1 ms convolutions took 2-20x their one-thread time.
 * That is the symptom watched: the caller waiting for the others over half of the
 * call, which on a free machine it never does (it waits for one unit at most). Two
 * such calls of the last three put the translation unit's threaded kernels on one
 * thread for a period (50 ms, doubling while it recurs, up to 2 s), then threads are
 * tried again, the period's cause counted as one such call (so one more ends the try:
 * each try costs one slow call); a call that does not wait resets the period. On a
 * free machine one slow call moves nothing. Relaxed atomics: calls racing can only
 * blur the record.
 */
#ifndef CG_BUSY_H
#define CG_BUSY_H

#include <stdint.h>
#include <time.h>

#define CG_BUSY_ALONE_NS ((int64_t)50000000)
#define CG_BUSY_ALONE_MAX_NS ((int64_t)2000000000)

static int64_t cg_busy_alone_until, cg_busy_alone_for = CG_BUSY_ALONE_NS;
static int cg_busy_stuck;  /* the last threaded calls, 1 bits for those that waited */

/* C11's clock (POSIX's clock_gettime is hidden under strict -std=c11). */
static inline int64_t cg_busy_now_ns(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Whether threaded kernels run on one thread now. */
static inline int cg_busy_alone(void)
{
    return cg_busy_now_ns() < __atomic_load_n(&cg_busy_alone_until, __ATOMIC_RELAXED);
}

/* Record a threaded call that took `ns`, of which the caller waited `waited` for the
   other threads' units. */
static inline void cg_busy_record(int64_t ns, int64_t waited)
{
    const int stuck = 2 * waited > ns;
    const int bits = (__atomic_load_n(&cg_busy_stuck, __ATOMIC_RELAXED) << 1 | stuck) & 7;
    if (!stuck)
        __atomic_store_n(&cg_busy_alone_for, CG_BUSY_ALONE_NS, __ATOMIC_RELAXED);
    if (__builtin_popcount((unsigned)bits) < 2) {
        __atomic_store_n(&cg_busy_stuck, bits, __ATOMIC_RELAXED);
        return;
    }
    const int64_t period = __atomic_load_n(&cg_busy_alone_for, __ATOMIC_RELAXED);
    __atomic_store_n(&cg_busy_alone_until, cg_busy_now_ns() + period, __ATOMIC_RELAXED);
    __atomic_store_n(&cg_busy_alone_for, period < CG_BUSY_ALONE_MAX_NS / 2 ? 2 * period
                     : CG_BUSY_ALONE_MAX_NS, __ATOMIC_RELAXED);
    __atomic_store_n(&cg_busy_stuck, 1, __ATOMIC_RELAXED);  /* a strike: one more ends a try */
}

#endif
