"""cgraph's pool threads (csrc/cg_pool.h), compiled into a small C program: every
unit of every job is done exactly once whatever the thread count, by callers on
several threads at once, after the pool's threads have fallen asleep, after an idle
thread ended (and another was started), and in a forked child; and the
oversubscribed-machine policy it shares with the convolutions (csrc/cg_busy.h:
`cg_busy_record`, `cg_busy_alone`) moves to one thread after two slow calls of three,
not after one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from cgraph.codegen.render import csrc_dir

pytestmark = pytest.mark.skipif(sys.platform != "linux" or shutil.which("gcc") is None,
                                reason="a pthreads program built with gcc")

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#define CG_POOL_SPIN_NS ((int64_t)2000000)   /* 2 ms, then asleep */
#define CG_POOL_IDLE_NS ((int64_t)40000000)  /* 40 ms asleep, then the thread ends */
#include "cg_pool.h"
#include <sys/wait.h>

typedef struct { long next, units; int *done; long by_thread[8]; } job_t;

static void work(void *arg, int thread)
{
    job_t *j = arg;
    for (long u; (u = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->units;) {
        __atomic_fetch_add(&j->done[u], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&j->by_thread[thread], 1, __ATOMIC_RELAXED);
        for (volatile int spin = 0; spin < 2000; ++spin) {}
    }
}

/* n jobs of `units` units on `threads` threads; 0 when each unit ran once */
static int run_jobs(int n, long units, int threads)
{
    for (int r = 0; r < n; ++r) {
        int *done = calloc(units, sizeof(int));
        job_t j = {0, units, done, {0}};
        cg_pool_run(work, &j, threads);
        for (long u = 0; u < units; ++u)
            if (done[u] != 1) {
                printf("unit %ld ran %d times (threads %d)\n", u, done[u], threads);
                return 1;
            }
        free(done);
    }
    return 0;
}

static void *caller(void *arg)
{
    return (void *)(long)run_jobs(300, 97, *(int *)arg);
}

int main(void)
{
    int bad = 0;
    for (int threads = 1; threads <= 4; ++threads)
        bad |= run_jobs(200, 1 + 37 * threads, threads);
    pthread_t t[3];
    int two = 2;
    for (int i = 0; i < 3; ++i)
        pthread_create(&t[i], NULL, caller, &two);
    for (int i = 0; i < 3; ++i) {
        void *r;
        pthread_join(t[i], &r);
        bad |= (int)(long)r;
    }
    struct timespec pause = {0, 10 * 1000 * 1000};  /* past the spin: the threads sleep */
    nanosleep(&pause, NULL);
    bad |= run_jobs(50, 64, 2);
    struct timespec idle = {0, 150 * 1000 * 1000};  /* past the idle time: they end */
    nanosleep(&idle, NULL);
    if (__atomic_load_n(&cg_pool_workers[0].state, __ATOMIC_ACQUIRE) != 0) {
        printf("an idle thread did not end\n");
        bad = 1;
    }
    bad |= run_jobs(50, 64, 2);  /* a new thread */
    if (__atomic_load_n(&cg_pool_workers[0].state, __ATOMIC_ACQUIRE) != 1) {
        printf("no thread was started again\n");
        bad = 1;
    }
    pid_t child = fork();
    if (child == 0)
        _exit(run_jobs(50, 64, 2));
    int status = 0;
    waitpid(child, &status, 0);
    bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;

    /* the policy: free calls never move; two slow of three do; a free call resets */
    cg_busy_record(1000, 10);
    cg_busy_record(1000, 900);
    cg_busy_record(1000, 10);
    if (cg_busy_alone()) { printf("one slow call moved to one thread\n"); bad = 1; }
    cg_busy_record(1000, 900);
    if (!cg_busy_alone()) { printf("two slow calls of three kept the threads\n"); bad = 1; }
    printf(bad ? "FAIL\n" : "OK\n");
    return bad;
}
"""


def test_units_run_once_and_oversubscription_policy(tmp_path):
    source = tmp_path / "pool.c"
    source.write_text(PROGRAM)
    exe = tmp_path / "pool"
    subprocess.run(["gcc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O1", "-Wall", "-Werror",
                    f"-I{csrc_dir()}", str(source), "-o", str(exe), "-lpthread"], check=True,
                   capture_output=True, text=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("OK"), run.stdout + run.stderr
