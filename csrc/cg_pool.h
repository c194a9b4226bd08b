/* cg_pool.h: worker threads kept between calls, for kernels that split their work
 * into units the threads claim (the tiles path of products, templates/gemm_tiles.c.j2;
 * the direct convolutions and their filter gradient, templates/conv_direct.c.j2).
 *
 * cg_pool_run(work, arg, n) runs work(arg, 0) in the calling thread and offers the same
 * job to n - 1 pool threads, which run work(arg, t). `work` claims units from `arg`
 * until none is left, so a thread the machine delays simply takes fewer: the caller
 * never waits for a unit nobody took. When the caller is done it withdraws the job
 * from every thread that has not started it and waits only for those that have, so
 * no thread reads `arg` (on the caller's stack) after cg_pool_run returns.
 *
 * A job slot holds NULL (free), the job (offered) or CG_POOL_TAKEN (running): a
 * thread takes an offered job, and the caller withdraws one, by compare-and-swap, so
 * exactly one of them wins. A thread spins for its next job for CG_POOL_SPIN_NS
 * (yielding the core to any thread that wants it), then sleeps until it is offered
 * one, and ends after CG_POOL_IDLE_NS asleep (the next caller starts another). The
 * spin is long, as OpenBLAS's own (2^28 cycles, about 70 ms here), because waking on
 * this 2-vCPU guest was slow or misplaced: Linux queues a thread woken by
 * the caller's signal on the caller's core (its wake-affine choice), where it waits
 * for milliseconds until the load balancer moves it, and a timer-woken one likewise
 * when its timer was moved to the busy core. With a 0.2 ms spin, products after a
 * pause of 1 ms ran at one thread's speed for their first 10-100 calls (float32
 * 128x784x256: 460-500 us a call instead of 240). So after a pause longer than the
 * spin, the caller yields its core once right after the signal, and the woken thread,
 * finding itself on the caller's core, moves itself off (cg_pool_leave_cpu): float32
 * 256x256x256 three calls after a pause of 0.25 s took 300-370 us a call before, 160-
 * 180 after (numpy's OpenBLAS: 190-250).
 *
 * A thread that cannot be started leaves its share to the others; a forked child
 * starts its own (`pid`). One pool per translation unit that includes this header:
 * each module links its own copy of the runtime's products, and so has its own.
 */
#ifndef CG_POOL_H
#define CG_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "cg_busy.h"

#define CG_POOL_MAX 64
#ifndef CG_POOL_SPIN_NS
#define CG_POOL_SPIN_NS ((int64_t)50000000)  /* spinning for the next job */
#endif
#ifndef CG_POOL_IDLE_NS
#define CG_POOL_IDLE_NS ((int64_t)10000000000)  /* then asleep this long at most: it ends */
#endif

typedef struct {
    void (*work)(void *arg, int thread);
    void *arg;
    int cpu;  /* the caller's CPU, or -1 */
} cg_pool_job;

#define CG_POOL_TAKEN ((cg_pool_job *)1)

#if defined(__linux__) && defined(__GLIBC__)
#include <string.h>
#include <sys/syscall.h>
/* GNU and BSD names, declared here too: modules exported with -std=c11 hide them */
extern int sched_getcpu(void);
extern long syscall(long number, ...);
#define CG_POOL_CPU() sched_getcpu()

/* Move the calling thread off `cpu`, to another CPU it may run on, then let it run on
   all of them again (which moves it nowhere): a pool thread woken on its caller's core. */
static void cg_pool_leave_cpu(int cpu)
{
    enum { WORDS = 16, BITS = 8 * sizeof(unsigned long) };
    unsigned long all[WORDS], others[WORDS];
    memset(all, 0, sizeof all);
    const long size = syscall(SYS_sched_getaffinity, 0, sizeof all, all);
    if (size <= 0 || cpu < 0 || cpu >= (int)(WORDS * BITS))
        return;
    memcpy(others, all, sizeof all);
    others[cpu / BITS] &= ~(1UL << (cpu % BITS));
    int any = 0;
    for (int w = 0; w < WORDS; ++w)
        any |= others[w] != 0;
    if (any && syscall(SYS_sched_setaffinity, 0, size, others) == 0)
        syscall(SYS_sched_setaffinity, 0, size, all);
}
#else
#define CG_POOL_CPU() (-1)
static void cg_pool_leave_cpu(int cpu)
{
    (void)cpu;
}
#endif

#if defined(__x86_64__) || defined(__i386__)
#define CG_POOL_PAUSE() __builtin_ia32_pause()
#else
#define CG_POOL_PAUSE() ((void)0)
#endif

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    cg_pool_job *slot;
    int index;     /* the thread number work() is given: 1.. */
    int sleeping;  /* under lock: waiting on `wake` */
    int state;     /* 0 not started (or ended), 1 running, -1 could not be started */
    int made;      /* lock and wake are initialized (they stay so when the thread ends) */
} cg_pool_worker;

static cg_pool_worker cg_pool_workers[CG_POOL_MAX - 1];
static pthread_mutex_t cg_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t cg_pool_pid;

/* The slot's offered job, taken (NULL when there is none or the caller withdrew it). */
static inline cg_pool_job *cg_pool_take(cg_pool_worker *me)
{
    cg_pool_job *job = __atomic_load_n(&me->slot, __ATOMIC_ACQUIRE);
    if (job == NULL || job == CG_POOL_TAKEN)
        return NULL;
    return __atomic_compare_exchange_n(&me->slot, &job, CG_POOL_TAKEN, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED) ? job : NULL;
}

static void *cg_pool_main(void *arg)
{
    cg_pool_worker *me = arg;
    for (;;) {
        cg_pool_job *job;
        const int64_t until = cg_busy_now_ns() + CG_POOL_SPIN_NS;
        while (!(job = cg_pool_take(me)) && cg_busy_now_ns() < until)
            sched_yield();
        if (!job) {  /* asleep until offered a job, then spinning again, job or not: a
                        thread that wakes after its caller withdrew the job catches the
                        next one */
            pthread_mutex_lock(&me->lock);
            me->sleeping = 1;
            int idle = 0;
            if (!(job = cg_pool_take(me))) {
                const int64_t end = cg_busy_now_ns() + CG_POOL_IDLE_NS;
                struct timespec t = {(time_t)(end / 1000000000), (long)(end % 1000000000)};
                idle = pthread_cond_timedwait(&me->wake, &me->lock, &t) != 0;
            }
            me->sleeping = 0;
            if (!job)
                job = cg_pool_take(me);
            pthread_mutex_unlock(&me->lock);
            if (!job && idle) {  /* no job for CG_POOL_IDLE_NS: the thread ends, and the
                                    next caller starts another (a process of many modules
                                    keeps threads only for those in use); a job offered
                                    meanwhile is withdrawn by its caller */
                __atomic_store_n(&me->state, 0, __ATOMIC_RELEASE);
                return NULL;
            }
            if (!job)
                continue;
            /* Linux wakes a thread on the core of the thread that signals it (when it
               deems that core's caches worth it), where it waits for the caller's core
               for milliseconds until the load balancer moves it: products after a pause
               ran at one thread's speed for their first 10-100 calls */
            if (job->cpu >= 0 && CG_POOL_CPU() == job->cpu)
                cg_pool_leave_cpu(job->cpu);
        }
        job->work(job->arg, me->index);
        __atomic_store_n(&me->slot, NULL, __ATOMIC_RELEASE);  /* done: the job is not read again */
    }
    return NULL;
}

/* Pool thread t (0..), started on first use; NULL when it cannot be started. */
static cg_pool_worker *cg_pool_worker_of(int t)
{
    cg_pool_worker *w = &cg_pool_workers[t];
    if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == 1
            && __atomic_load_n(&cg_pool_pid, __ATOMIC_RELAXED) == getpid())
        return w;
    pthread_mutex_lock(&cg_pool_lock);
    if (cg_pool_pid != getpid()) {  /* first use, or a forked child: no threads yet */
        for (int u = 0; u < CG_POOL_MAX - 1; ++u) {
            cg_pool_workers[u].state = 0;
            cg_pool_workers[u].made = 0;
            cg_pool_workers[u].slot = NULL;
        }
        __atomic_store_n(&cg_pool_pid, getpid(), __ATOMIC_RELAXED);
    }
    if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == 0) {
        pthread_attr_t attr;
        pthread_t thread;
        int ok = 1;
        if (!w->made) {  /* once: a caller may still use them after a thread ends */
            w->index = t + 1;
            w->sleeping = 0;
            ok = pthread_mutex_init(&w->lock, NULL) == 0
                 && pthread_cond_init(&w->wake, NULL) == 0;
            w->made = ok;
        }
        ok = ok && pthread_attr_init(&attr) == 0;
        if (ok) {
            ok = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0
                 && pthread_create(&thread, &attr, cg_pool_main, w) == 0;
            pthread_attr_destroy(&attr);
        }
        __atomic_store_n(&w->state, ok ? 1 : -1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&cg_pool_lock);
    return w->state == 1 ? w : NULL;
}

/* Run work(arg, t) for t < n: 1.. on pool threads (one that is busy with another
   caller's job, or cannot be started, is skipped), 0 in the calling thread; return
   once every thread that started it has finished. With n > 1 the call is recorded
   for cg_busy_alone (csrc/cg_busy.h: callers check it before asking for threads). */
static void cg_pool_run(void (*work)(void *, int), void *arg, int n)
{
    const int64_t start = n > 1 ? cg_busy_now_ns() : 0;
    cg_pool_job job = {work, arg, CG_POOL_CPU()};
    cg_pool_worker *offered[CG_POOL_MAX];
    int m = 0;
    if (n > CG_POOL_MAX)
        n = CG_POOL_MAX;
    for (int t = 1; t < n; ++t) {
        cg_pool_worker *w = cg_pool_worker_of(t - 1);
        cg_pool_job *expected = NULL;
        if (!w || !__atomic_compare_exchange_n(&w->slot, &expected, &job, 0, __ATOMIC_RELEASE,
                                               __ATOMIC_RELAXED))
            continue;
        offered[m++] = w;
        pthread_mutex_lock(&w->lock);
        const int sleeping = w->sleeping;
        if (sleeping)
            pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        if (sleeping)  /* woken on this core, it runs now and moves itself off */
            sched_yield();
    }
    work(arg, 0);
    const int64_t mine = n > 1 ? cg_busy_now_ns() : 0;
    for (int j = 0; j < m; ++j) {
        cg_pool_job *expected = &job;
        if (__atomic_compare_exchange_n(&offered[j]->slot, &expected, NULL, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            continue;  /* withdrawn before the thread took it */
        for (int spins = 0; __atomic_load_n(&offered[j]->slot, __ATOMIC_ACQUIRE) == CG_POOL_TAKEN;
             ++spins) {
            if (spins < 4096)
                CG_POOL_PAUSE();
            else
                sched_yield();  /* the thread may be waiting for this very core */
        }
    }
    if (n > 1) {
        const int64_t end = cg_busy_now_ns();
        cg_busy_record(end - start, end - mine);
    }
}

#endif
