/* cg_loop.h: many steps of a compiled function inside one C call (Function.loop).
 *
 * The step itself is the module's entry point; this file only moves pointers
 * between steps: it points each sequence argument at its row (or gathers a shuffled
 * minibatch), runs the step, optionally stops at a non-finite output, copies each
 * update into its shared variable's storage, and records outputs. Everything is
 * described by an int64 array L and a pointer array X, filled by
 * cgraph/compile/loop.py (which documents the layout).
 */
#ifndef CGRAPH_LOOP_H
#define CGRAPH_LOOP_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cg_errbuf.h"

/* A step: the program's body, with a workspace the loop allocates once. */
typedef int (*cg_step_fn)(const int64_t *P, char *err, char *ws, void **A);

enum {
    CG_L_NARGS, CG_L_NSEQ, CG_L_NROWS, CG_L_BATCH, CG_L_BEGIN, CG_L_END, CG_L_NBATCHES,
    CG_L_NOUT, CG_L_RECORD_EVERY, CG_L_STOP_ON_NAN, CG_L_NUPDATES, CG_L_HAS_PERM,
    CG_L_HEADER
};

/* cg_loop_run compiled once per machine into cgraph's runtime object
 * (templates/runtime.c.j2): what a module built with CG_RUNTIME calls. */
int cg_rt_loop_run(const int64_t *P_full, const int64_t *P_last, char *err,
                   const int64_t *L, void **X, int64_t *state, cg_step_fn step);

/* Is every element of an output finite? kind is 8 (double), 4 (float) or 0 (skip). */
static inline int cg_all_finite(const void *data, int64_t nbytes, int64_t kind)
{
    if (kind == 8) {
        const double *d = (const double *)data;
        for (int64_t i = 0; i < nbytes / 8; ++i)
            if (!isfinite(d[i])) return 0;
    } else if (kind == 4) {
        const float *f = (const float *)data;
        for (int64_t i = 0; i < nbytes / 4; ++i)
            if (!isfinite(f[i])) return 0;
    }
    return 1;
}

/* Run steps [L[BEGIN], L[END]). state: [0] the next step, [1] 1 if stopped at a
 * non-finite output, [2] that output's index. Returns 0 or the step's error code. */
static inline int cg_loop_run(const int64_t *P_full, const int64_t *P_last, char *err,
                              const int64_t *L, void **X, int64_t *state, cg_step_fn step)
{
    const int64_t n_args = L[CG_L_NARGS], n_seq = L[CG_L_NSEQ], n_rows = L[CG_L_NROWS];
    const int64_t batch = L[CG_L_BATCH], n_batches = L[CG_L_NBATCHES];
    const int64_t n_out = L[CG_L_NOUT], every = L[CG_L_RECORD_EVERY];
    const int64_t n_upd = L[CG_L_NUPDATES];
    const int64_t *seq = L + CG_L_HEADER;         /* per sequence: arg, row bytes */
    const int64_t *out = seq + 2 * n_seq;         /* per output: arg, bytes full, bytes last, kind */
    const int64_t *upd = out + 4 * n_out;         /* per update: output arg, shared arg, bytes */
    char **base = (char **)X;                     /* n_args base pointers */
    char **stage = (char **)X + n_args;           /* per sequence: gather buffer */
    const int64_t *perm = L[CG_L_HAS_PERM] ? (const int64_t *)X[n_args + n_seq] : NULL;
    char **record = (char **)X + n_args + n_seq + 1;
    /* the workspace: the caller's (a pooled block of at least the plans' P[0] bytes),
       else one allocated for this call */
    char *given = (char *)X[n_args + n_seq + 1 + n_out];
    void *A[n_args > 0 ? n_args : 1];
    const int64_t ws_bytes = P_full[0] > P_last[0] ? P_full[0] : P_last[0];
    char *ws = given ? given : ws_bytes > 0 ? (char *)malloc((size_t)ws_bytes) : NULL;
    if (ws_bytes > 0 && !ws) {
        snprintf(err, CG_ERRBUF, "cgraph: cannot allocate %lld bytes of workspace",
                 (long long)ws_bytes);
        return 1;
    }

    memcpy(A, X, (size_t)n_args * sizeof(void *));
    /* the step's epoch and batch, and the next step that records, kept as counters:
       two divisions per step cost as much as a small kernel */
    int64_t epoch = L[CG_L_BEGIN] / n_batches, b = L[CG_L_BEGIN] % n_batches;
    int64_t record_at = every > 0 ? (L[CG_L_BEGIN] / every + 1) * every : -1;
    for (int64_t s = L[CG_L_BEGIN]; s < L[CG_L_END]; ++s, ++b) {
        if (b == n_batches) {
            b = 0;
            ++epoch;
        }
        const int64_t *order = perm ? perm + epoch * n_rows : NULL;
        int64_t rows = 1, row0 = b;
        if (batch > 0) {
            row0 = b * batch;
            rows = n_rows - row0 < batch ? n_rows - row0 : batch;
        }
        for (int64_t j = 0; j < n_seq; ++j) {
            const int64_t arg = seq[2 * j], row_bytes = seq[2 * j + 1];
            if (batch == 0) {
                A[arg] = base[arg] + (order ? order[row0] : row0) * row_bytes;
            } else if (!order) {
                A[arg] = base[arg] + row0 * row_bytes;
            } else {
                for (int64_t i = 0; i < rows; ++i)
                    memcpy(stage[j] + i * row_bytes, base[arg] + order[row0 + i] * row_bytes,
                           (size_t)row_bytes);
                A[arg] = stage[j];
            }
        }
        const int last = batch > 0 && rows < batch;
        const int rc = step(last ? P_last : P_full, err, ws, A);
        if (rc) {
            state[0] = s;
            if (!given)
                free(ws);
            return rc;
        }
        if (L[CG_L_STOP_ON_NAN]) {
            for (int64_t o = 0; o < n_out; ++o) {
                if (!cg_all_finite(A[out[4 * o]], out[4 * o + (last ? 2 : 1)], out[4 * o + 3])) {
                    state[0] = s;
                    state[1] = 1;
                    state[2] = o;
                    if (!given)
                        free(ws);
                    return 0;
                }
            }
        }
        for (int64_t u = 0; u < n_upd; ++u)
            memcpy(A[upd[3 * u + 1]], A[upd[3 * u]], (size_t)upd[3 * u + 2]);
        if (s + 1 == record_at) {
            const int64_t k = record_at / every - 1;
            record_at += every;
            for (int64_t o = 0; o < n_out; ++o)
                memcpy(record[o] + k * out[4 * o + 1], A[out[4 * o]],
                       (size_t)out[4 * o + (last ? 2 : 1)]);
        }
    }
    state[0] = L[CG_L_END];
    if (!given)
        free(ws);
    return 0;
}

#endif
