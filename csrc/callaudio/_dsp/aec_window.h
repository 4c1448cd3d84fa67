/* The low-delay analysis window of the echo canceller, used by its filter (aec.pyx) and its
 * suppressor (aec_suppressor.pyx): out[0:n] = wa[0:n] prev, out[n:2n] = wa[n:2n] cur.
 * Element-wise products only, so every compilation of it gives the same bits. */
#ifndef CA_AEC_WINDOW_H
#define CA_AEC_WINDOW_H
#include <stddef.h>

static inline void ca_aec_window(int n, float *restrict out, const float *restrict wa,
                                   const float *restrict prev, const float *restrict cur)
{
    const ptrdiff_t m = n;
    for (ptrdiff_t i = 0; i < m; i++) {
        out[i] = wa[i] * prev[i];
        out[m + i] = wa[m + i] * cur[i];
    }
}

#endif
