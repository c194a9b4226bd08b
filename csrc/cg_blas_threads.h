/* cg_blas_threads.h: how many BLAS threads a matrix product gets, chosen by timing.
 *
 * A threaded BLAS product is only as fast as its slowest thread. On a machine whose
 * other cores are busy, OpenBLAS's second thread waits for a time slice and a
 * mid-size product takes several times longer than on one thread; on a free machine
 * the same product is faster on all threads. No size threshold fits both, so each
 * size class (the power of two of the multiply-add count, per dtype) keeps a smoothed
 * time per multiply-add for "one thread" and for "the library's threads", runs the
 * faster one, and now and then re-times the other:
 *
 *   - the setting in use is timed on every call, so a product that slows down (the
 *     machine got busy) loses its place within a few calls; one sample counts at
 *     most twice the figure it updates, so a lone slow call (an interrupt, a page
 *     fault: 10x is seen here) cannot move a product off the faster setting, and a
 *     setting that does lose its place this way is tried again soon, not after the
 *     long wait that earlier lost tries had built up;
 *   - the other setting is tried again after 2^backoff calls, for CG_BT_TRY calls
 *     of which only the last is timed: threads unused for a while wake up slowly,
 *     and a product moved to two threads runs at half speed until its data is in
 *     the second core's cache too (float32 784x128x256 on this 2-core machine: one
 *     thread 550 us, the first few threaded calls 760 us, threaded for good 280 us),
 *     so a try timed cold would lose for ever. The first call back on the setting in
 *     use is not timed either (its threads slept through the try). Each try that loses
 *     doubles the wait (up to 2^CG_BT_MAX_BACKOFF calls), and the wait is never
 *     shorter than CG_BT_SPEND times how much slower the try was, so tries cost at
 *     most about 1/CG_BT_SPEND of the time even where the loser is 50x slower;
 *   - products below CG_BT_MIN_WORK are left alone: OpenBLAS runs them on one
 *     thread anyway, and a clock read would cost more than it could save.
 *
 * Threads are changed process-wide (scipy_openblas_set_num_threads) and restored
 * after the product. The fields are read and written with relaxed atomics: two
 * threads timing the same class at once can only blur the estimate, never corrupt
 * memory. A product's last bits may depend on the thread count: float32 products
 * from about 128x128x128 up (sgemm's kernels differ by thread count: 784x128x256
 * differs in the 6th digit), and float64 ones on a CPU with AVX-512 (1e-11 relative
 * at 128x784x256; an AVX2 machine gave the same bits), so under "auto" a result can
 * change in its last bits when the choice does.
 * "library" (a fixed thread count) or OPENBLAS_NUM_THREADS=1 keeps them reproducible.
 */
#ifndef CG_BLAS_THREADS_H
#define CG_BLAS_THREADS_H

#include <stdint.h>
#include <time.h>

#define CG_BT_CLASSES 64
#define CG_BT_MIN_BACKOFF 3
#define CG_BT_MAX_BACKOFF 10
#define CG_BT_SPEND 128
#define CG_BT_TRY 4  /* calls per try of the other setting, the last one timed */

typedef struct {
    int64_t rate[2];  /* smoothed ns per 1024 multiply-adds: [0] one thread, [1] all; 0 unknown */
    int64_t calls;    /* calls since the other setting was last tried */
    int64_t wait;     /* try the other setting after this many calls (0: 2^CG_BT_MIN_BACKOFF) */
    int64_t backoff;  /* log2 of the wait that the next lost try sets, before CG_BT_SPEND */
    int64_t warm;     /* 1 after a try's warm-up call: the next call is the timed try;
                         2 after the timed try: the next call, back on the best, is untimed */
} cg_bt_class;

/* What one product does: which setting, whether it is a try of the losing one. */
typedef struct {
    int many;
    int trial;
    int warmup;  /* the first call of a try: it wakes the other setting's threads, untimed */
} cg_bt_choice;

#define CG_BT_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define CG_BT_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* The size class of a product of `work` multiply-adds (work >= 1). */
static inline int cg_bt_class_of(int64_t work)
{
    return 63 - __builtin_clzll((unsigned long long)work);
}

/* The setting for the next product of class `s`: first the library's threads, then
 * one thread, then the faster of the two, with a try of the slower one now and then. */
static inline cg_bt_choice cg_bt_pick(cg_bt_class *s)
{
    const int64_t one = CG_BT_LOAD(&s->rate[0]), many = CG_BT_LOAD(&s->rate[1]);
    if (many == 0)
        return (cg_bt_choice){1, 1, 0};
    if (one == 0)
        return (cg_bt_choice){0, 1, 0};
    const int best = many < one;
    const int64_t warm = CG_BT_LOAD(&s->warm);
    if (warm > 1) {  /* a try's warm-up calls: its threads wake, its data moves, untimed */
        CG_BT_STORE(&s->warm, warm - 1);
        return (cg_bt_choice){!best, 1, 1};
    }
    if (warm == 1) {  /* the timed call of a try, after its warm-up */
        CG_BT_STORE(&s->warm, -1);
        return (cg_bt_choice){!best, 1, 0};
    }
    if (warm == -1) {  /* back on the best after a try: its threads may wake slowly */
        CG_BT_STORE(&s->warm, 0);
        return (cg_bt_choice){best, 0, 1};
    }
    const int64_t wait = CG_BT_LOAD(&s->wait);
    const int64_t calls = __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
    if (calls < (wait > 0 ? wait : (int64_t)1 << CG_BT_MIN_BACKOFF))
        return (cg_bt_choice){best, 0, 0};
    CG_BT_STORE(&s->calls, 0);
    CG_BT_STORE(&s->warm, CG_BT_TRY - 1);
    return (cg_bt_choice){!best, 1, 1};
}

/* Record that a product of `work` multiply-adds took `ns` nanoseconds with the setting
 * `c`. A try replaces the old (stale) figure; the setting in use is smoothed, rising
 * by a quarter of the difference (the sample capped at twice the figure) and falling
 * at once (a fast run is never noise). */
static inline void cg_bt_record(cg_bt_class *s, cg_bt_choice c, int64_t ns, int64_t work)
{
    if (c.warmup)
        return;
    int64_t sample = (ns * 1024) / work;
    if (sample < 1)
        sample = 1;
    int64_t *rate = &s->rate[c.many];
    const int64_t old = CG_BT_LOAD(rate);
    if (c.trial || old == 0 || sample < old) {
        CG_BT_STORE(rate, sample);
    } else {
        const int64_t capped = sample < 2 * old ? sample : 2 * old;
        const int64_t risen = old + (capped - old) / 4;
        CG_BT_STORE(rate, risen);
        const int64_t other = CG_BT_LOAD(&s->rate[!c.many]);
        if (old <= other && risen > other) {  /* lost its place: the other is in use now */
            CG_BT_STORE(&s->backoff, CG_BT_MIN_BACKOFF);
            CG_BT_STORE(&s->wait, 0);
            CG_BT_STORE(&s->calls, 0);
        }
    }
    if (!c.trial)
        return;
    const int64_t other = CG_BT_LOAD(&s->rate[!c.many]);
    if (other == 0 || sample < other) {  /* first figure, or the try won: it is in use now */
        CG_BT_STORE(&s->backoff, CG_BT_MIN_BACKOFF);
        CG_BT_STORE(&s->wait, 0);
        return;
    }
    /* the try lost: wait twice as long, and long enough to pay for what it cost */
    int64_t backoff = CG_BT_LOAD(&s->backoff);
    backoff = backoff < CG_BT_MIN_BACKOFF ? CG_BT_MIN_BACKOFF + 1
              : backoff < CG_BT_MAX_BACKOFF ? backoff + 1 : backoff;
    CG_BT_STORE(&s->backoff, backoff);
    const int64_t cover = CG_BT_SPEND * CG_BT_TRY * (sample - other) / other;
    const int64_t doubled = (int64_t)1 << backoff;
    CG_BT_STORE(&s->wait, cover > doubled ? cover : doubled);
}

/* C11's clock (POSIX's clock_gettime is hidden under strict -std=c11): a jump of
 * the wall clock only blurs one sample, which the next calls correct. */
static inline int64_t cg_bt_now_ns(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

#endif
