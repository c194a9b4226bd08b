/* cg_philox.h: the Philox4x32-10 counter-based generator (Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011), and the conversions cgraph's random
 * ops use. Element i of a draw reads block (counter + i) of its stream, so a draw is
 * the same on every machine and independent of loop order.
 */
#ifndef CGRAPH_PHILOX_H
#define CGRAPH_PHILOX_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint32_t w[4];
} cg_philox_block;

static inline cg_philox_block cg_philox(uint64_t key, uint64_t stream, uint64_t counter)
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        const uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    cg_philox_block b = {{c0, c1, c2, c3}};
    return b;
}

/* A double in [0, 1) from two words (53 random bits), as numpy builds them. */
static inline double cg_u01(uint32_t a, uint32_t b)
{
    return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) / 9007199254740992.0;
}

/* A float in [0, 1) from one word (24 random bits). */
static inline float cg_u01f(uint32_t a)
{
    return (float)(a >> 8) * (1.0f / 16777216.0f);
}

#endif
