/* A long program's body as data: a table of kernel calls run by one loop.
 *
 * A body of straight-line calls costs gcc about 1.5 ms per call (one function per
 * step's call site to optimize), so a 2,400-step training step took seconds to
 * compile. Past a length (cgraph/codegen/render.py, TABLE_STEPS), the body is instead
 * a table: each value (argument, workspace buffer, view, constant, update target) is
 * a row saying where its pointer comes from, each step a row naming a thunk (one per
 * distinct kernel) and where its plan slots and operands are. The C then grows with
 * the distinct kernels, not with the graph.
 */
#ifndef CG_TABLE_H
#define CG_TABLE_H

#include <stdint.h>

/* Where a value's pointer comes from. */
enum { CG_V_ARG, CG_V_BUFFER, CG_V_UPDATE, CG_V_VIEW, CG_V_CONST, CG_V_PLAN };

typedef struct {
    int32_t kind;     /* CG_V_* */
    int32_t arg;      /* argument index (ARG, UPDATE) */
    int32_t slot;     /* plan slot: workspace offset in bytes (BUFFER, UPDATE), element
                         offset (VIEW), the value itself (PLAN: int64s the planner
                         computed from shapes, in P) */
    int32_t base;     /* the viewed value's row (VIEW) */
    int32_t size;     /* element size in bytes (VIEW) */
    const void *data; /* the static array (CONST) */
} cg_tvalue;

/* A kernel's call with its operands V[ops[0]], V[ops[1]], ... (outputs first). */
typedef int (*cg_thunk)(const int64_t *P, char *err, char *ws, void *const *V,
                        const int32_t *ops);

typedef struct {
    cg_thunk run;
    int32_t slot;   /* the kernel's parameters are at P + slot */
    int32_t guard;  /* run only when P[guard] is nonzero (a lazy branch); -1: always */
    int32_t ops;    /* its operands' rows start at ops[this] */
    const char *name;
} cg_tstep;

/* Fill V[0..n) from the value rows; ip[a] says whether argument a's update goes in
   place (an UPDATE row is then that argument's storage). */
static inline void cg_table_values(void **V, const cg_tvalue *D, int64_t n,
                                   const int64_t *P, char *ws, void *const *A,
                                   const int *ip)
{
    for (int64_t i = 0; i < n; ++i) {
        const cg_tvalue *d = D + i;
        switch (d->kind) {
        case CG_V_ARG: V[i] = A[d->arg]; break;
        case CG_V_BUFFER: V[i] = ws + P[d->slot]; break;
        case CG_V_UPDATE: V[i] = ip[d->arg] ? A[d->arg] : (void *)(ws + P[d->slot]); break;
        case CG_V_VIEW: V[i] = (char *)V[d->base] + P[d->slot] * (int64_t)d->size; break;
        case CG_V_PLAN: V[i] = (void *)(P + d->slot); break;
        default: V[i] = (void *)d->data; break;
        }
    }
}

#endif
